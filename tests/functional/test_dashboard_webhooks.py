"""The webhook log in the back office: a provider event that failed is shown with its error and
replayed; a delivery to the merchant's endpoint is shown with every attempt and sent again; the
owner rotates the signing secret, shown once; nothing of another merchant's."""

from __future__ import annotations

import re

from tests.conftest import ServerFactory
from tests.support.dashboard import add_staff, csrf_of, failed_event, sign_in
from tests.support.flows import token
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import create_order, pay_order, start
from tests.support.receiver import Inbox
from tests.support.server import RunningServer, wait_until


def test_a_failed_event_is_shown_and_replayed(server: RunningServer) -> None:
    made, event_id = failed_event(server)
    add_staff(server, role="staff")
    client = sign_in(server)
    page = client.get("/dashboard/webhooks", params={"status": "failed"})
    assert page.status_code == 200
    assert event_id in page.text and "the ledger is unwell" in page.text
    action = f"/dashboard/webhooks/events/stripe/{event_id}/replay"
    assert action in page.text
    replayed = client.post(action, data={"csrf": csrf_of(page)})
    assert replayed.status_code == 303
    assert token(server, made["id"])["status"] == "success"
    after = client.get(replayed.headers["location"])
    assert "The event was processed again." in after.text
    assert action not in after.text  # processed: nothing to replay
    again = client.post(action, data={"csrf": csrf_of(after)})
    assert again.status_code == 409
    for bad in (
        "/dashboard/webhooks/events/stripe/evt_nope/replay",
        "/dashboard/webhooks/events/nope/x/replay",
    ):
        assert client.post(bad, data={"csrf": csrf_of(after)}).status_code == 404
    assert client.get("/dashboard/webhooks", params={"status": "lost"}).status_code == 400


def test_deliveries_are_shown_and_sent_again(make_server: ServerFactory) -> None:
    with Inbox((503, 503)) as inbox:
        server = start(
            make_server,
            merchant_webhook_urls=inbox.url,
            webhook_max_attempts=2,
            merchant_webhooks_private_ok=True,  # the inbox is on loopback
        )
        pay_order(server, create_order(server))
        wait_until(lambda: len(inbox.received) >= 2, 15)
        add_staff(server)
        client = sign_in(server)
        page = wait_until(
            lambda: (p := client.get("/dashboard/webhooks")) and "failed" in p.text and p, 15
        )
        assert "order.completed" in page.text and inbox.url in page.text
        assert page.text.count("503") >= 2
        found = re.search(r"/dashboard/webhooks/deliveries/(\d+)/redeliver", page.text)
        assert found
        sent = client.post(found.group(0), data={"csrf": csrf_of(page)})
        assert sent.status_code == 303
        wait_until(lambda: any(status == 200 for _, _, status in inbox.received), 15)
        shown = wait_until(
            lambda: (p := client.get("/dashboard/webhooks")) and "delivered" in p.text and p, 15
        )
        assert "#3" in shown.text


def test_the_owner_rotates_the_signing_secret(make_server: ServerFactory) -> None:
    server = make_server()
    add_staff(server)
    add_staff(server, "till@example.com", role="staff")
    staff = sign_in(server, "till@example.com")
    page = staff.get("/dashboard/webhooks")
    assert "Rotate the signing secret" not in page.text
    refused = staff.post("/dashboard/webhooks/secret", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403
    owner = sign_in(server)
    page = owner.get("/dashboard/webhooks")
    rotated = owner.post("/dashboard/webhooks/secret", data={"csrf": csrf_of(page)})
    assert rotated.status_code == 200
    secret = re.search(r"New signing secret: <code>(whsec_[0-9a-f]{48})</code>", rotated.text)
    assert secret
    assert rotated.headers["cache-control"] == "no-store"
    assert secret.group(1) not in owner.get("/dashboard/webhooks").text  # shown once

    async def kept() -> str | None:
        merchant = await server.app.state.container.merchants.brand("default")
        return merchant.webhook_secret if merchant else None

    assert server.call(kept) == secret.group(1)


def test_another_merchants_events_are_not_shown_or_replayed(make_server: ServerFactory) -> None:
    server = make_server(admin_key=ADMIN_KEY)
    made, event_id = failed_event(server)
    add_acme(server)
    add_staff(server, "owner@acme.example", merchant="acme")
    acme = sign_in(server, "owner@acme.example", merchant="acme")
    page = acme.get("/dashboard/webhooks")
    assert event_id not in page.text
    answer = acme.post(
        f"/dashboard/webhooks/events/stripe/{event_id}/replay", data={"csrf": csrf_of(page)}
    )
    assert answer.status_code == 404
    assert token(server, made["id"])["status"] == "inprogress"  # nothing was replayed


def test_an_impossible_delivery_id_is_refused(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    csrf = csrf_of(client.get("/dashboard/webhooks"))
    for odd in ("9223372036854775808", "0", "-1", "x"):
        answer = client.post(f"/dashboard/webhooks/deliveries/{odd}/redeliver", data={"csrf": csrf})
        assert answer.status_code == 400, odd
    answer = client.post("/dashboard/webhooks/deliveries/12345/redeliver", data={"csrf": csrf})
    assert answer.status_code == 404
