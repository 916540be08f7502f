"""The PayPal provider, through PayPal's SDK, against the PayPal sandbox: hosted checkouts,
captures, refunds, verified webhooks and their typed changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from qrcheckout.payments.events import (
    CheckoutApproved,
    CheckoutFailed,
    CheckoutPaid,
    RefundChanged,
    WebhookEvent,
)
from qrcheckout.payments.paypal_api import PayPalProvider, from_value, to_value
from qrcheckout.payments.provider import (
    LineItem,
    ProviderError,
    ProviderErrorKind,
    ProviderProblem,
    RefundRequest,
    RefundStatus,
    SessionRequest,
    WebhookRejected,
)
from tests.support.paypal import CLIENT_ID, CLIENT_SECRET, Served, paypal_sandbox
from tests.support.receiver import Inbox
from tests.support.server import wait_until

pytestmark = pytest.mark.one_database

WEBHOOK_ID = "WH0000SERVICE01"
T = TypeVar("T")


_loop: asyncio.AbstractEventLoop | None = None


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on the test's one event loop, as the service runs the provider on its own."""
    assert _loop is not None
    return _loop.run_until_complete(work)


@pytest.fixture(autouse=True)
def loop() -> Iterator[None]:
    global _loop
    _loop = asyncio.new_event_loop()
    try:
        yield
    finally:
        _loop.run_until_complete(_loop.shutdown_asyncgens())
        _loop.close()
        _loop = None


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with Inbox() as receiver:
        yield receiver


@pytest.fixture
def paypal(inbox: Inbox) -> Iterator[Served]:
    with paypal_sandbox(webhook_url=inbox.url, webhook_id=WEBHOOK_ID) as served:
        yield served


@pytest.fixture
def provider(paypal: Served) -> Iterator[PayPalProvider]:
    made = PayPalProvider(CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, api_base=paypal.url)
    yield made
    run(made.aclose())


def session_request(currency: str = "usd", **more: Any) -> SessionRequest:
    unit = 750 if currency == "jpy" else 450
    return SessionRequest(
        line_items=(LineItem("Flat white", unit, 2), LineItem("Cake", unit * 2, 1)),
        currency=currency,
        success_url="https://shop.example/t/tok_1/done",
        cancel_url="https://shop.example/t/tok_1/back",
        idempotency_key=more.pop("idempotency_key", "session-tok_1"),
        client_reference_id="tok_1",
        metadata={"token_id": "tok_1", "order_id": "ord_1"},
        **more,
    )


def approve(url: str, buyer: str = "approves") -> None:
    assert httpx.post(url, data={"buyer": buyer}).status_code == 303


def delivered(inbox: Inbox, event_type: str) -> tuple[bytes, dict[str, str]]:
    def find() -> tuple[bytes, dict[str, str]] | None:
        for headers, body, _ in inbox.received:
            if json.loads(body)["event_type"] == event_type:
                return body, {k.lower(): v for k, v in headers.items()}
        return None

    return wait_until(find)


def changes(provider: PayPalProvider, inbox: Inbox, event_type: str) -> Any:
    body, headers = delivered(inbox, event_type)
    event = run(provider.verify_webhook(body, headers))
    return provider.changes(event)


def test_a_checkout_is_approved_captured_and_each_step_reported(
    provider: PayPalProvider, inbox: Inbox
) -> None:
    session = run(provider.create_checkout_session(session_request()))
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_total == 1800 and session.currency == "usd"
    assert session.url and "/checkoutnow?token=" in session.url
    again = run(provider.create_checkout_session(session_request()))
    assert again.id == session.id  # the same idempotency key: the same order

    approve(session.url)
    [approved] = changes(provider, inbox, "CHECKOUT.ORDER.APPROVED")
    assert approved == CheckoutApproved(session_id=session.id, reference="tok_1")
    captured = run(provider.complete_checkout_session(session.id, "capture-1"))
    assert captured.status == "complete" and captured.payment_status == "paid"
    assert captured.payment_intent is not None
    # Asked again (a redelivered approval, the buyer's return): answered as it stands.
    twice = run(provider.complete_checkout_session(session.id, "capture-2"))
    assert twice.payment_intent == captured.payment_intent

    [paid] = changes(provider, inbox, "PAYMENT.CAPTURE.COMPLETED")
    assert isinstance(paid, CheckoutPaid)
    assert (paid.session_id, paid.reference, paid.payment_id) == (
        session.id,
        "tok_1",
        captured.payment_intent,
    )
    assert (paid.amount, paid.currency) == (1800, "usd")
    retrieved = run(provider.retrieve_checkout_session(session.id))
    assert retrieved.status == "complete" and retrieved.metadata == {
        "token_id": "tok_1",
        "order_id": "ord_1",
    }


def test_refunds_in_part_and_in_full_and_their_events(
    provider: PayPalProvider, inbox: Inbox
) -> None:
    session = run(provider.create_checkout_session(session_request("jpy")))
    assert session.amount_total == 3000 and session.url
    approve(session.url)
    capture = run(provider.complete_checkout_session(session.id, "c")).payment_intent
    assert capture is not None
    part = run(provider.refund(RefundRequest(capture, "refund-1", amount=1000)))
    assert (part.amount, part.currency, part.status) == (1000, "jpy", RefundStatus.SUCCEEDED)
    rest = run(provider.refund(RefundRequest(capture, "refund-2")))
    assert rest.amount == 2000
    with pytest.raises(ProviderError) as done:
        run(provider.refund(RefundRequest(capture, "refund-3")))
    assert done.value.problem == ProviderProblem.ALREADY_REFUNDED and done.value.took_nothing
    [seen] = changes(provider, inbox, "PAYMENT.CAPTURE.REFUNDED")
    assert isinstance(seen, RefundChanged) and seen.payment_id == capture
    assert seen.refund.id in (part.id, rest.id)


def test_a_denied_capture_is_a_failed_checkout(provider: PayPalProvider, inbox: Inbox) -> None:
    session = run(provider.create_checkout_session(session_request()))
    assert session.url
    approve(session.url, "funding-fails")
    result = run(provider.complete_checkout_session(session.id, "c"))
    assert result.payment_status == "unpaid" and result.status == "expired"
    [failed] = changes(provider, inbox, "PAYMENT.CAPTURE.DENIED")
    assert isinstance(failed, CheckoutFailed) and failed.session_id == session.id


def test_a_webhook_paypal_did_not_send_is_refused(provider: PayPalProvider, inbox: Inbox) -> None:
    session = run(provider.create_checkout_session(session_request()))
    assert session.url
    approve(session.url)
    body, headers = delivered(inbox, "CHECKOUT.ORDER.APPROVED")
    forged = body.replace(b'"APPROVED"', b'"COMPLETED"')
    with pytest.raises(WebhookRejected) as tampered:
        run(provider.verify_webhook(forged, headers))
    assert tampered.value.code == "invalid_signature"
    with pytest.raises(WebhookRejected):
        run(provider.verify_webhook(body, {}))
    other = PayPalProvider(CLIENT_ID, CLIENT_SECRET, "WH0000SOMEONE01", api_base=provider.api_base)
    with pytest.raises(WebhookRejected):
        run(other.verify_webhook(body, headers))
    run(other.aclose())
    unreachable = PayPalProvider(
        CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, api_base="http://127.0.0.1:9"
    )
    with pytest.raises(ProviderError) as down:
        run(unreachable.verify_webhook(body, headers))
    assert down.value.kind == ProviderErrorKind.UNAVAILABLE
    run(unreachable.aclose())


def test_what_paypal_cannot_take_is_refused_before_anything_is_made(
    provider: PayPalProvider, paypal: Served
) -> None:
    with pytest.raises(ProviderError) as currency:
        run(provider.create_checkout_session(session_request("inr")))
    assert currency.value.problem == ProviderProblem.CURRENCY
    # Stripe counts forints in hundredths; PayPal takes whole forints only.
    fraction = SessionRequest(
        line_items=(LineItem("Tea", 150, 1),),
        currency="huf",
        success_url="https://shop.example/done",
        cancel_url="https://shop.example/back",
        idempotency_key="huf",
    )
    with pytest.raises(ProviderError) as whole:
        run(provider.create_checkout_session(fraction))
    assert whole.value.code == "amount_precision"
    assert paypal.sandbox.store.all_of("paypal.order") == []


def test_a_refused_secret_and_an_unreachable_paypal_are_told_apart(paypal: Served) -> None:
    wrong = PayPalProvider(CLIENT_ID, "not-the-secret", WEBHOOK_ID, api_base=paypal.url)
    with pytest.raises(ProviderError) as refused:
        run(wrong.create_checkout_session(session_request()))
    assert refused.value.code == "authentication_failed" and refused.value.took_nothing
    away = PayPalProvider(CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, api_base="http://127.0.0.1:9")
    with pytest.raises(ProviderError) as down:
        run(away.retrieve_checkout_session("ORDER"))
    assert down.value.kind == ProviderErrorKind.UNAVAILABLE
    for provider in (wrong, away):
        run(provider.aclose())


def test_unreadable_events_are_named_and_ids_read_leniently(provider: PayPalProvider) -> None:
    event = WebhookEvent("WH-1", "PAYMENT.CAPTURE.COMPLETED", None, {"resource": {"id": 5}})
    with pytest.raises(WebhookRejected) as unreadable:
        provider.changes(event)
    assert unreadable.value.code == "unreadable_event"
    assert provider.changes(WebhookEvent("WH-2", "BILLING.PLAN.CREATED", None, {})) == ()
    named = WebhookEvent(
        "WH-3", "PAYMENT.CAPTURE.COMPLETED", None, {"resource": {"custom_id": "t=tok_9;o=ord_9"}}
    )
    mention = provider.mentions(named)
    assert (mention.token_id, mention.order_id) == ("tok_9", "ord_9")
    with pytest.raises(WebhookRejected):
        provider.read_webhook(b'{"id": "", "event_type": "X"}')


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [(1050, "usd", "10.50"), (1500, "jpy", "1500"), (15000, "huf", "150"), (7, "eur", "0.07")],
)
def test_amounts_convert_exactly_both_ways(minor: int, currency: str, value: str) -> None:
    assert to_value(minor, currency) == value
    assert from_value(value, currency) == minor
    assert from_value("1e400", currency) is None and from_value("-1", currency) is None
