"""Paying with PayPal through the service, where PayPal differs from Stripe: the buyer approves
and the service captures; events are verified by PayPal; the ticketing charge endpoint's PayPal
path; a declined capture; money that lands after an order ended."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from qrcheckout.checkout import service as checkout_service
from qrcheckout.checkout.models import Payment
from qrcheckout.payments.provider import ProviderError, ProviderErrorKind
from qrcheckout.webhooks.models import StoredEvent
from tests.conftest import ServerFactory
from tests.support.auth import buyer, merchant
from tests.support.flows import create_token, pay_page, token, wait_status
from tests.support.orders import (
    charge,
    create_order,
    entitlements,
    error,
    get_order,
    start,
    wait_order,
    wait_order_status,
)
from tests.support.paypal import approve, drop_webhook, order_id, service_http, service_sdk
from tests.support.server import RunningServer, wait_until


def _stored(server: RunningServer) -> list[StoredEvent]:
    async def read() -> list[StoredEvent]:
        async with server.db.sessions() as session:
            return list(await session.scalars(select(StoredEvent)))

    return server.call(read)


def _events(server: RunningServer, event_type: str) -> list[dict[str, Any]]:
    """The sandbox's events of a type for the service's app, as PayPal lists them."""
    with service_http(server) as http:
        listed = http.get("/v1/notifications/webhooks-events", params={"event_type": event_type})
    assert listed.status_code == 200, listed.text
    found: list[dict[str, Any]] = listed.json()["events"]
    return found


def _delivered(server: RunningServer, event_id: str) -> int:
    """How many deliveries of an event the service answered 2xx."""
    sender = server.app.state.paypal_sandbox.sender
    return sum(1 for a in list(sender.log) if a.event_id == event_id and a.succeeded)


def test_a_denied_capture_fails_the_token_and_takes_nothing(server: RunningServer) -> None:
    made = create_token(server, provider="paypal")
    url = pay_page(server, made["id"])
    back = approve(url, "funding-fails")
    assert back.status_code == 303
    failed = wait_status(server, made["id"], "failed")
    assert failed["failure_code"] == "payment_failed"
    assert failed["paid_count"] == 0
    assert _events(server, "PAYMENT.CAPTURE.DENIED")


def test_a_buyer_who_cancels_at_paypal_returns_to_the_shop_and_the_token_waits(
    server: RunningServer,
) -> None:
    made = create_token(server, provider="paypal")
    url = pay_page(server, made["id"])
    back = approve(url, "cancels")
    assert back.status_code == 303
    assert back.headers["location"].startswith(f"{server.url}/t/{made['id']}/back")
    assert httpx.get(back.headers["location"], timeout=30).status_code == 200
    assert token(server, made["id"])["status"] == "inprogress"
    # Scanned again, the same PayPal order opens: it can still be approved.
    assert pay_page(server, made["id"]) == url


def test_without_events_the_buyers_return_takes_the_money(server: RunningServer) -> None:
    drop_webhook(server)
    made = create_token(server, provider="paypal")
    back = approve(pay_page(server, made["id"]))
    assert token(server, made["id"])["status"] == "inprogress"  # approved, nothing taken yet
    assert httpx.get(back.headers["location"], timeout=30).status_code == 200
    paid = token(server, made["id"])
    assert (paid["status"], paid["paid_count"]) == ("success", 1)


def test_the_charge_endpoint_takes_the_paypal_payment_the_buyer_approved(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    drop_webhook(server)  # the front-end, not PayPal's event, asks for the money
    order = create_order(server, ("espresso", 1), payment_mode="paypal")
    session_id = token(server, order["token_id"])["session_id"]
    assert session_id == order_id(order["payment_url"])
    attributes = {"stripe": None, "paypal_payer_id": "QYR5Z8XDVJNXQ"}

    def paypal_charge(**changes: Any) -> httpx.Response:
        body = {"data": {"type": "charge", "attributes": attributes | changes}}
        return charge(server, order["id"], body=body)

    # Not approved yet: PayPal refuses to capture, and the order waits.
    refused = paypal_charge(paypal_payment_id=session_id)
    assert refused.status_code == 422, refused.text
    assert refused.json()["data"]["attributes"]["status"] is False
    approve(order["payment_url"])
    # Another PayPal order than this order's, a card token for a PayPal order, both at once.
    assert error(paypal_charge(paypal_payment_id="5O190127TN364715T"))[0] == 404
    assert error(charge(server, order["id"], "tok_visa")) == (409, "wrong_provider")
    both = paypal_charge(paypal_payment_id=session_id, stripe="tok_visa")
    assert error(both) == (422, "ambiguous_charge")
    bad = paypal_charge(paypal_payment_id=session_id, paypal_payer_id=["QYR5Z8XDVJNXQ"])
    assert error(bad) == (422, "payer_invalid")
    assert get_order(server, order["id"])["status"] == "pending"

    charged = paypal_charge(paypal_payment_id=session_id)
    assert charged.status_code == 200, charged.text
    paid = charged.json()["data"]["attributes"]
    assert (paid["status"], paid["amount_paid"]) == ("completed", order["amount"])
    assert len(entitlements(server)) == 1
    # Sent again (a retried request), the order is paid already: nothing is taken twice.
    again = paypal_charge(paypal_payment_id=session_id)
    assert error(again) == (409, "order_paid")
    assert len(get_order(server, order["id"])["payments"]) == 1


def test_a_forged_paypal_event_is_refused_and_nothing_is_stored(server: RunningServer) -> None:
    made = create_token(server, provider="paypal")
    session_id = order_id(pay_page(server, made["id"]))
    forged = {
        "id": "WH-FORGED-0001",
        "event_version": "1.0",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "create_time": "2026-12-03T10:00:00Z",
        "resource": {
            "id": "8MC585209K746392H",
            "status": "COMPLETED",
            "amount": {"currency_code": "EUR", "value": "7.00"},
            "custom_id": f"t={made['id']}",
            "supplementary_data": {"related_ids": {"order_id": session_id}},
        },
    }
    headers = {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "PAYPAL-TRANSMISSION-TIME": "2026-12-03T10:00:00Z",
        "PAYPAL-TRANSMISSION-SIG": "bm90IGEgc2lnbmF0dXJl",
        "PAYPAL-CERT-URL": f"{server.url}/paypal-sandbox/v1/notifications/certs/CERT-1",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    for sent in (headers, {"Content-Type": "application/json"}):
        refused = server.client.post(
            "/v1/webhooks/paypal", content=json.dumps(forged), headers=sent
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_signature"
    assert [e.id for e in _stored(server) if e.provider == "paypal"] == []
    assert token(server, made["id"])["status"] == "inprogress"


def test_the_completing_event_again_and_twenty_times_at_once_fulfils_once(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), payment_mode="paypal")
    approve(order["payment_url"])
    wait_order_status(server, order["id"], "completed")
    (completed,) = _events(server, "PAYMENT.CAPTURE.COMPLETED")
    event_id = completed["id"]
    wait_until(lambda: _delivered(server, event_id) == 1, 10)

    def resend(_: int) -> int:
        with service_http(server) as http:
            return http.post(
                f"/v1/notifications/webhooks-events/{event_id}/resend", json={}
            ).status_code

    assert resend(0) == 202
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        assert set(pool.map(resend, range(20))) == {202}
    wait_until(lambda: _delivered(server, event_id) == 22, 20)
    stored = [e for e in _stored(server) if e.id == event_id]
    assert [(e.provider, e.status) for e in stored] == [("paypal", "processed")]
    final = get_order(server, order["id"])
    assert (final["status"], len(final["payments"])) == ("completed", 1)
    assert [(e["product_id"], e["quantity"]) for e in entitlements(server)] == [("espresso", 2)]


def test_money_captured_after_the_order_expired_is_refunded(make_server: ServerFactory) -> None:
    # Long enough for its PayPal order to be opened on a busy machine (a second was not).
    server = start(make_server, order_ttl_seconds=3)
    order = create_order(server, ("espresso", 1), payment_mode="paypal")
    assert "token=" in order["payment_url"], order["payment_url"]
    wait_order_status(server, order["id"], "expired")
    # Approved after the order ended: the service takes nothing for it.
    approve(order["payment_url"])
    paypal_order = order_id(order["payment_url"])
    wait_until(lambda: _events(server, "CHECKOUT.ORDER.APPROVED"), 10)
    sdk = service_sdk(server)
    assert sdk.orders.get_order({"id": paypal_order}).body.status == "APPROVED"
    # Captured all the same elsewhere (the merchant's PayPal account): it is given back.
    captured = sdk.orders.capture_order({"id": paypal_order, "prefer": "return=representation"})
    assert captured.body.status == "COMPLETED"
    # Refunded by the service's job, whose record may follow PayPal's event about it.
    refunded = wait_order(
        server,
        order["id"],
        lambda o: (
            bool(o["payments"])
            and o["payments"][0]["status"] == "refunded"
            and [r["source"] for r in o["refunds"]] == ["automatic"]
        ),
        timeout=20,
    )
    assert refunded["status"] == "expired"
    assert [r["source"] for r in refunded["refunds"]] == ["automatic"]
    assert refunded["payments"][0]["problem"] == "paid after the order was expired"
    assert entitlements(server) == []
    capture = captured.body.purchase_units[0].payments.captures[0]
    assert sdk.payments.get_captured_payment({"capture_id": capture.id}).body.status == "REFUNDED"


def test_a_buyers_jwt_can_pay_only_its_own_paypal_order(make_server: ServerFactory) -> None:
    server = start(make_server)
    drop_webhook(server)
    order = create_order(server, ("espresso", 1), payment_mode="paypal", sub="alice")
    approve(order["payment_url"])
    session_id = order_id(order["payment_url"])
    body = {"data": {"type": "charge", "attributes": {"paypal_payment_id": session_id}}}
    refused = charge(server, order["id"], body=body, headers=buyer("mallory"))
    assert refused.status_code in (403, 404), refused.text
    assert get_order(server, order["id"])["status"] == "pending"


def _sessions(server: RunningServer, token_id: str) -> list[Payment]:
    async def read() -> list[Payment]:
        async with server.db.sessions() as session:
            found = await session.scalars(select(Payment).where(Payment.token_id == token_id))
            return list(found)

    return server.call(read)


def _counting_captures(server: RunningServer, fails: bool = False) -> list[str]:
    """Every capture the service asks PayPal for from now on; ``fails``: PayPal is down."""
    paypal = server.app.state.container.providers["paypal"]
    capture = paypal.complete_checkout_session
    calls: list[str] = []

    async def counted(session_id: str, key: str, account: str | None = None) -> Any:
        calls.append(session_id)
        if fails:
            raise ProviderError(
                "PayPal could not be reached.", kind=ProviderErrorKind.UNAVAILABLE, code="down"
            )
        return await capture(session_id, key, account)

    paypal.complete_checkout_session = counted
    return calls


def test_a_capture_denied_on_the_buyers_return_fails_the_token(server: RunningServer) -> None:
    drop_webhook(server)  # no PAYMENT.CAPTURE.DENIED: the capture's own answer says it
    made = create_token(server, provider="paypal")
    back = approve(pay_page(server, made["id"]), "funding-fails")
    page = httpx.get(back.headers["location"], timeout=30)
    assert page.status_code == 409 and "Payment not completed" in page.text
    assert "Thank you" not in page.text
    failed = token(server, made["id"])
    assert (failed["status"], failed["failure_code"], failed["paid_count"]) == (
        "failed",
        "payment_failed",
        0,
    )


def test_money_captured_as_the_token_ends_is_given_back(server: RunningServer) -> None:
    drop_webhook(server)  # only the buyer's return takes the money
    made = create_token(server, provider="paypal", kind="temporary", ttl_seconds=3)
    url = pay_page(server, made["id"])
    back = approve(url)
    paypal = server.app.state.container.providers["paypal"]
    tokens = server.app.state.container.tokens
    capture = paypal.complete_checkout_session

    async def after_the_end(session_id: str, key: str, account: str | None = None) -> Any:
        # The token ends while the capture is on its way to PayPal.
        for _ in range(100):
            if (await tokens.get(made["id"])).status == "invalid":
                break
            await asyncio.sleep(0.1)
        return await capture(session_id, key, account)

    paypal.complete_checkout_session = after_the_end
    page = httpx.get(back.headers["location"], timeout=30)
    # The buyer is told at once that the money goes back.
    assert page.status_code == 409 and "Your payment is being refunded" in page.text
    ended = token(server, made["id"])
    assert (ended["status"], ended["failure_code"]) == ("invalid", "late_payment")
    # The money PayPal took for an ended checkout goes back to the buyer, once.
    sdk = service_sdk(server)
    taken = sdk.orders.get_order({"id": order_id(url)}).body.purchase_units[0].payments
    capture_id = taken.captures[0].id
    wait_until(lambda: _sessions(server, made["id"])[0].refund_id is not None, 10)
    status = sdk.payments.get_captured_payment({"capture_id": capture_id}).body.status
    assert status == "REFUNDED"
    [session] = _sessions(server, made["id"])
    assert session.problem == "paid after the token was invalid"


def test_a_capture_that_keeps_failing_is_tried_ten_times_then_given_up(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkout_service, "COMPLETE_AFTER_SECONDS", 0)
    server = start(make_server)
    made = create_token(server, provider="paypal", kind="static")
    calls = _counting_captures(server, fails=True)
    approve(pay_page(server, made["id"]))  # approved; every capture fails
    wait_until(lambda: _sessions(server, made["id"])[0].status == "failed", 20)
    time.sleep(1)  # the job has had time to try again, and does not
    assert len(calls) == checkout_service.COMPLETE_TRIES
    [session] = _sessions(server, made["id"])
    assert session.completion_tries == checkout_service.COMPLETE_TRIES
    assert session.problem == "could not be completed: PayPal could not be reached."
    # A static token lives on: the next scan is a new payment.
    assert token(server, made["id"])["status"] == "inprogress"


def test_the_return_page_captures_only_the_order_it_names(server: RunningServer) -> None:
    made = create_token(server, provider="paypal", kind="static")
    urls = [pay_page(server, made["id"]) for _ in range(3)]  # three scans, none approved
    calls = _counting_captures(server)
    done = f"{server.url}/t/{made['id']}/done"
    for _ in range(3):
        waiting = httpx.get(done, timeout=30)
        assert waiting.status_code == 202 and "Confirming your payment" in waiting.text
    assert calls == []  # nothing was approved, nothing is asked of PayPal
    named = order_id(urls[1])
    assert httpx.get(done, params={"token": named}, timeout=30).status_code == 202
    assert calls == [named]
    assert token(server, made["id"])["paid_count"] == 0


def test_rows_of_a_provider_no_longer_set_up_are_refused_clearly(
    make_server: ServerFactory,
) -> None:
    first = start(make_server)
    made = create_token(first, provider="paypal")
    pay_page(first, made["id"])
    first.stop()
    # The same database, now with a live Stripe key and no PayPal.
    second = start(
        make_server, stripe_secret_key="sk_live_unreachable", stripe_api_base="http://127.0.0.1:9"
    )
    assert second.client.get(f"/t/{made['id']}/done").status_code == 202
    scanned = second.client.get(f"/t/{made['id']}", follow_redirects=False)
    assert scanned.status_code == 503, scanned.text
    assert "not set up for now" in scanned.text
    # Its PayPal order is passed over (PayPal ends it on its own): the token is cancelled.
    cancelled = second.client.post(f"/v1/tokens/{made['id']}/cancel", headers=merchant())
    assert cancelled.status_code == 200, cancelled.text
    assert token(second, made["id"])["status"] == "cancelled"


def test_the_charge_endpoint_says_when_paypal_denies_the_capture(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    drop_webhook(server)
    order = create_order(server, ("espresso", 1), payment_mode="paypal")
    approve(order["payment_url"], "funding-fails")
    body = {
        "data": {
            "type": "charge",
            "attributes": {"paypal_payment_id": order_id(order["payment_url"])},
        }
    }
    denied = charge(server, order["id"], body=body)
    assert error(denied) == (422, "payment_not_taken")  # a decline, as for a card
    assert denied.json()["data"]["attributes"]["status"] is False
    after = get_order(server, order["id"])
    assert (after["amount_paid"], after["payments"]) == (0, [])
    assert entitlements(server) == []
