"""The page a buyer lands on after paying: a receipt once the payment is confirmed (asked of the
provider when its event has not come yet), a page that waits and looks again until then, and
never a "Thank you" for a checkout that was not paid or does not exist."""

from __future__ import annotations

import httpx

from tests.conftest import ServerFactory
from tests.support.auth import merchant
from tests.support.flows import DECLINED_CARD, create_token, pay_page, submit_card, token
from tests.support.orders import start
from tests.support.server import RunningServer, wait_until


def _done(server: RunningServer, token_id: str, **query: str) -> httpx.Response:
    return server.client.get(f"/t/{token_id}/done", params=query)


def test_an_unknown_checkout_has_no_thank_you(server: RunningServer) -> None:
    for token_id in ("does-not-exist", "00000000-0000-4000-8000-000000000000"):
        page = _done(server, token_id)
        assert page.status_code == 404 and "Checkout not found" in page.text
        assert "Thank you" not in page.text


def test_an_unpaid_checkout_waits_and_looks_again(server: RunningServer) -> None:
    made = create_token(server)
    page = _done(server, made["id"])
    assert page.status_code == 202, page.text
    assert "Confirming your payment" in page.text and "$5.00" in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert "Thank you" not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_paid_checkout_shows_its_receipt(server: RunningServer) -> None:
    made = create_token(server)
    url = pay_page(server, made["id"])
    back = submit_card(url)
    page = httpx.get(back.headers["location"], timeout=30)
    assert page.status_code == 200, page.text
    session_id = url.rsplit("/", 1)[1]
    for shown in ("Thank you", "qrcheckout café", "2 × Espresso", "$5.00", session_id, "UTC"):
        assert shown in page.text, shown


def test_the_provider_is_asked_when_its_event_has_not_come(make_server: ServerFactory) -> None:
    # Stripe's events go nowhere: the receipt comes from asking Stripe for the session.
    server = start(make_server, sandbox_webhook_url="http://127.0.0.1:9/nowhere")
    made = create_token(server)
    url = pay_page(server, made["id"])
    back = submit_card(url)
    assert token(server, made["id"])["status"] == "inprogress"
    page = httpx.get(back.headers["location"], timeout=30)
    assert page.status_code == 200 and "Thank you" in page.text, page.text
    paid = token(server, made["id"])
    assert (paid["status"], paid["paid_count"]) == ("success", 1)


def test_a_declined_card_is_no_receipt(server: RunningServer) -> None:
    made = create_token(server)
    url = pay_page(server, made["id"])
    assert submit_card(url, DECLINED_CARD).status_code != 303  # the pay page says so itself
    session_id = url.rsplit("/", 1)[1]
    page = _done(server, made["id"], session_id=session_id)
    assert page.status_code == 202 and "Thank you" not in page.text


def test_each_payment_of_a_static_code_has_its_own_receipt(server: RunningServer) -> None:
    made = create_token(server, kind="static")
    urls = [pay_page(server, made["id"]) for _ in range(2)]
    submit_card(urls[0])
    first = urls[0].rsplit("/", 1)[1]
    wait_until(lambda: token(server, made["id"])["paid_count"] == 1)
    page = _done(server, made["id"], session_id=first)
    assert page.status_code == 200 and first in page.text
    # The second scan was not paid: its page waits; without a session nothing is claimed.
    second = urls[1].rsplit("/", 1)[1]
    assert _done(server, made["id"], session_id=second).status_code == 202
    assert _done(server, made["id"]).status_code == 202


def test_a_checkout_that_ended_unpaid_says_so(make_server: ServerFactory) -> None:
    server = start(make_server)
    made = create_token(server)
    cancelled = server.client.post(f"/v1/tokens/{made['id']}/cancel", headers=merchant())
    assert cancelled.status_code == 200, cancelled.text
    page = _done(server, made["id"])
    assert page.status_code == 410 and "This checkout has ended" in page.text
    assert "Nothing was charged" in page.text and "Thank you" not in page.text
