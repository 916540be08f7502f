"""Each merchant's webhooks: signed with its own secret, sent only to public addresses.

Two merchants on one service: the default one (its deliveries signed with the configured
``QRCHECKOUT_MERCHANT_WEBHOOK_SECRET``, as a single shop always was) and ``acme``, made with the
platform's key, whose own ``whsec_...`` is shown once when it is made or rotated.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from tests.conftest import ServerFactory
from tests.support.auth import bearer, buyer, merchant
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import (
    MERCHANT_SECRET,
    charged,
    create_order,
    error,
    start,
    verify_merchant_post,
)
from tests.support.receiver import Inbox
from tests.support.server import RunningServer, wait_until

ACME = {"Qrcheckout-Merchant": "acme"}

BAD_URLS = [
    "http://127.0.0.1:1/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:8123/x",
    "http://shop.localhost/x",
    "http://[::1]:8123/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://2130706433/x",
    "http://0x7f.0.0.1/x",
    "http://10.0.0.7/x",
    "http://192.168.0.1/x",
    "http://[fe80::1]/x",
    "http://0.0.0.0:8080/x",
    "ftp://hooks.example.com/x",
    "file:///etc/passwd",
]


@pytest.fixture
def inboxes() -> Iterator[tuple[Inbox, Inbox]]:
    # Requested before make_server, so they are closed after every server has stopped.
    with Inbox() as default_inbox, Inbox() as acme_inbox:
        yield default_inbox, acme_inbox


def _completed_post(inbox: Inbox, order_id: str) -> tuple[dict[str, str], bytes]:
    def find() -> tuple[dict[str, str], bytes] | None:
        for headers, body, _ in list(inbox.received):
            event = json.loads(body)
            if event["type"] == "order.completed" and event["data"]["object"]["id"] == order_id:
                return headers, body
        return None

    found: tuple[dict[str, str], bytes] = wait_until(find, 10, 0.05)
    return found


def _verifies(headers: dict[str, str], body: bytes, secret: str) -> bool:
    try:
        verify_merchant_post(headers, body, secret)
    except stripe.SignatureVerificationError:
        return False
    return True


def _acme_order(server: RunningServer) -> dict[str, Any]:
    order = create_order(server, headers={**buyer("bob"), **ACME})
    assert order["merchant"] == "acme"
    charged(server, order, "bob")
    return order


def test_each_merchant_signs_with_its_own_secret_shown_once_and_rotatable(
    inboxes: tuple[Inbox, Inbox], make_server: ServerFactory
) -> None:
    default_inbox, acme_inbox = inboxes
    server = start(
        make_server,
        admin_key=ADMIN_KEY,
        merchant_webhook_urls=default_inbox.url,
        merchant_webhook_secret=MERCHANT_SECRET,
        merchant_webhooks_private_ok=True,  # acme's receiver is on loopback
    )
    acme, made = add_acme(server)
    first = made["webhook_secret"]
    assert first.startswith("whsec_") and len(first) > 40 and first != MERCHANT_SECRET
    # Never shown again: not to the platform, not to the merchant, not in a list.
    for credential in (ADMIN_KEY, acme):
        shown = server.client.get("/v1/merchants/acme", headers=bearer(credential))
        assert shown.status_code == 200 and "webhook_secret" not in shown.json()
    listed = server.client.get("/v1/merchants", headers=bearer(ADMIN_KEY)).json()["data"]
    assert listed and all("webhook_secret" not in m for m in listed)
    assert first not in server.client.get("/v1/merchants", headers=bearer(ADMIN_KEY)).text

    patched = server.client.patch(
        "/v1/merchants/acme", json={"webhook_urls": [acme_inbox.url]}, headers=bearer(acme)
    )
    assert patched.status_code == 200, patched.text
    assert "webhook_secret" not in patched.json()

    ours = create_order(server)
    charged(server, ours)
    theirs = _acme_order(server)

    headers, body = _completed_post(acme_inbox, theirs["id"])
    assert _verifies(headers, body, first)
    assert not _verifies(headers, body, MERCHANT_SECRET)
    headers, body = _completed_post(default_inbox, ours["id"])
    # The default merchant keeps the configured secret: existing receivers keep verifying.
    assert _verifies(headers, body, MERCHANT_SECRET)
    assert not _verifies(headers, body, first)
    assert {json.loads(b)["data"]["object"]["merchant"] for _, b, _ in default_inbox.received} == {
        "default"
    }

    # Another merchant cannot rotate acme's secret (nor learn acme exists); a buyer cannot.
    other = server.client.post("/v1/merchants/acme/webhook-secret", headers=merchant())
    assert error(other) == (404, "merchant_not_found")
    anonymous = server.client.post("/v1/merchants/acme/webhook-secret")
    assert anonymous.status_code == 401
    by_buyer = server.client.post("/v1/merchants/acme/webhook-secret", headers=buyer("bob"))
    assert by_buyer.status_code in (403, 404)
    missing = server.client.post("/v1/merchants/nobody/webhook-secret", headers=bearer(ADMIN_KEY))
    assert error(missing) == (404, "merchant_not_found")

    # The platform may rotate it, and the merchant itself; the last one signs from then on.
    by_platform = server.client.post("/v1/merchants/acme/webhook-secret", headers=bearer(ADMIN_KEY))
    assert by_platform.status_code == 200, by_platform.text
    rotated = server.client.post("/v1/merchants/acme/webhook-secret", headers=bearer(acme))
    assert rotated.status_code == 200, rotated.text
    answer = rotated.json()
    assert answer["object"] == "webhook_secret" and answer["merchant_id"] == "acme"
    second = answer["secret"]
    assert second.startswith("whsec_") and second not in (first, by_platform.json()["secret"])
    shown = server.client.get("/v1/merchants/acme", headers=bearer(acme)).text
    assert second not in shown and "webhook_secret" not in shown

    later = _acme_order(server)
    headers, body = _completed_post(acme_inbox, later["id"])
    assert _verifies(headers, body, second)
    assert not _verifies(headers, body, first)
    assert not _verifies(headers, body, MERCHANT_SECRET)

    # The default merchant's deliveries are untouched by acme's rotation.
    again = create_order(server)
    charged(server, again)
    headers, body = _completed_post(default_inbox, again["id"])
    assert _verifies(headers, body, MERCHANT_SECRET)


def test_the_default_merchant_gets_its_own_secret_only_when_it_rotates(
    inboxes: tuple[Inbox, Inbox], make_server: ServerFactory
) -> None:
    default_inbox, _ = inboxes
    server = start(
        make_server,
        merchant_webhook_urls=default_inbox.url,
        merchant_webhook_secret=MERCHANT_SECRET,
    )
    rotated = server.client.post("/v1/merchants/default/webhook-secret", headers=merchant())
    assert rotated.status_code == 200, rotated.text
    own = rotated.json()["secret"]
    order = create_order(server)
    charged(server, order)
    headers, body = _completed_post(default_inbox, order["id"])
    assert _verifies(headers, body, own)
    assert not _verifies(headers, body, MERCHANT_SECRET)


def test_webhook_urls_at_private_addresses_are_refused_when_saved(
    make_server: ServerFactory,
) -> None:
    server = start(make_server, admin_key=ADMIN_KEY)
    acme, _ = add_acme(server, webhook_urls=["https://hooks.acme.example/qr"])
    before = server.client.get("/v1/merchants/acme", headers=bearer(acme)).json()
    assert before["webhook_urls"] == ["https://hooks.acme.example/qr"]
    for url in BAD_URLS:
        for merchant_id, credential in (("acme", acme), ("acme", ADMIN_KEY), ("default", None)):
            refused = server.client.patch(
                f"/v1/merchants/{merchant_id}",
                json={"webhook_urls": ["https://fine.example/x", url], "name": "Changed"},
                headers=bearer(credential) if credential else merchant(),
            )
            assert refused.status_code == 422, (url, refused.text)
            message = refused.json()["error"]["message"]
            assert message, url
            if url.startswith(("http://", "https://")):
                assert error(refused) == (422, "webhook_url_not_allowed"), url
                assert "private" in message or "localhost" in message, message
    assert server.client.get("/v1/merchants/acme", headers=bearer(acme)).json() == before
    default = server.client.get("/v1/merchants/default", headers=merchant()).json()
    assert default["webhook_urls"] == [] and default["name"] != "Changed"
    # Nor can a merchant be made with one.
    made = server.client.post(
        "/v1/merchants",
        json={"id": "evil", "name": "Evil", "webhook_urls": ["http://169.254.169.254/"]},
        headers=bearer(ADMIN_KEY),
    )
    assert error(made) == (422, "webhook_url_not_allowed")
    assert server.client.get("/v1/merchants/evil", headers=bearer(ADMIN_KEY)).status_code == 404


def test_a_name_that_resolves_to_a_private_address_is_not_sent_to(
    inboxes: tuple[Inbox, Inbox], make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_inbox, acme_inbox = inboxes
    # A public-looking name pointing at loopback (DNS the merchant controls could do so).
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # httpx (anyio) asks with the IDNA-encoded bytes, the service's check with text.
        sneaky = host in ("hooks.acme.example", b"hooks.acme.example")
        return real("127.0.0.1" if sneaky else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    server = start(
        make_server,
        admin_key=ADMIN_KEY,
        merchant_webhook_urls=default_inbox.url,
        merchant_webhook_secret=MERCHANT_SECRET,
    )
    port = acme_inbox.url.split(":")[2].split("/")[0]
    sneaky = f"http://hooks.acme.example:{port}/hook"
    acme, _ = add_acme(server, webhook_urls=[sneaky])  # a host name passes when saved
    theirs = _acme_order(server)
    ours = create_order(server)
    charged(server, ours)

    def refused_attempt() -> dict[str, Any] | None:
        found = server.client.get("/v1/webhook-deliveries", headers=bearer(acme)).json()["data"]
        return next((a for a in found if a["url"] == sneaky), None)

    attempt: dict[str, Any] = wait_until(refused_attempt, 10, 0.05)
    assert attempt["type"] == "order.completed"
    assert attempt["status_code"] is None and attempt["succeeded"] is False, attempt
    assert attempt["error"].startswith("refused:")
    assert "resolves to a private address" in attempt["error"]
    # The operator's configured URL (loopback too) is trusted and still delivered to.
    _completed_post(default_inbox, ours["id"])
    assert acme_inbox.received == [], theirs
