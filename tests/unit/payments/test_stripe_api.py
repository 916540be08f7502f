"""Stripe's webhooks read by the provider: signature first, then Stripe's events as typed changes.

Objects are Stripe's own examples (``../shared/stripe/fixtures3.json``), moved into the state
each event reports; no request leaves the process.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from qrcheckout.payments.events import (
    MAX_EVENT_ID,
    MAX_EVENT_TYPE,
    ChargeRefunded,
    ChargeSucceeded,
    CheckoutExpired,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutProcessing,
    RefundChanged,
    RefundSeen,
    WebhookEvent,
)
from qrcheckout.payments.provider import RefundStatus, WebhookRejected
from qrcheckout.payments.stripe_api import WEBHOOK_TOLERANCE_SECONDS, StripeProvider
from qrcheckout.webhooks.models import StoredEvent

SECRET = "whsec_x"
FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "stripe" / "fixtures3.json"
TOKEN_ID = "5b0c7a8e-0d4f-4a8e-9b53-2f1e8c9d7a61"
ORDER_ID = "ord_01J9Z3K4M5N6P7Q8R9S0T1V2W3"


@pytest.fixture(scope="module")
def provider() -> Iterator[StripeProvider]:
    provider = StripeProvider("sk_test_x", SECRET, "http://127.0.0.1:9")
    yield provider
    asyncio.run(provider.aclose())


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def verify(provider: Any, body: bytes, headers: Any) -> Any:
    """The provider's webhook check, run to its end."""
    return asyncio.run(provider.verify_webhook(body, headers))


def example(kind: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object of ``kind``."""
    if not FIXTURES.is_file():
        pytest.skip(f"Stripe's example objects are not here: {FIXTURES} is absent")
    return copy.deepcopy(_resources()[kind])


def event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1PgcJ2B7WZ01zgkW") -> Any:
    envelope = example("event")
    envelope.update(id=event_id, type=event_type, created=int(time.time()), data={"object": obj})
    return envelope


def session(**fields: Any) -> dict[str, Any]:
    obj = example("checkout.session")
    obj.update(
        amount_subtotal=1500,
        amount_total=1500,
        currency="usd",
        metadata={"token_id": TOKEN_ID},
    )
    obj.update(fields)
    return obj


def completed_session(**fields: Any) -> dict[str, Any]:
    # Once complete, Stripe no longer shows the hosted page's url.
    return session(**{"status": "complete", "payment_status": "paid", "url": None} | fields)


def refund(refund_id: str, amount: int, status: str, **fields: Any) -> dict[str, Any]:
    obj = example("refund")
    obj.update(id=refund_id, amount=amount, status=status, **fields)
    return obj


def changes(provider: StripeProvider, payload: Any) -> tuple[Any, ...]:
    return provider.changes(provider.read_webhook(json.dumps(payload).encode()))


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"stripe-signature": f"t={t},v1={mac}"}


@contextmanager
def rejected(code: str) -> Iterator[None]:
    with pytest.raises(WebhookRejected) as caught:
        yield
    assert caught.value.code == code
    assert caught.value.message


# -- reading an event ------------------------------------------------------------------------


def test_read_webhook_keeps_the_events_identity_and_payload(provider: StripeProvider) -> None:
    payload = event("checkout.session.completed", completed_session(), "evt_1Pgc76B7WZ01zgkW")
    read = provider.read_webhook(json.dumps(payload).encode())
    assert read == WebhookEvent(
        id="evt_1Pgc76B7WZ01zgkW",
        type="checkout.session.completed",
        created=payload["created"],
        payload=payload,
    )


def test_an_event_without_a_readable_created_time_is_still_read(provider: StripeProvider) -> None:
    payload = event("charge.succeeded", example("charge"))
    payload["created"] = "2026-11-21T10:00:00Z"
    assert provider.read_webhook(json.dumps(payload).encode()).created is None


# -- checkout sessions -----------------------------------------------------------------------


def test_a_paid_session_is_checkout_paid(provider: StripeProvider) -> None:
    obj = completed_session(payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM")
    assert changes(provider, event("checkout.session.completed", obj)) == (
        CheckoutPaid(
            session_id=obj["id"],
            reference=TOKEN_ID,
            payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM",
            url=None,
            amount=1500,
            currency="usd",
        ),
    )


def test_a_paid_session_with_its_payment_intent_expanded_names_the_intent(
    provider: StripeProvider,
) -> None:
    intent = example("payment_intent")
    intent.update(status="succeeded", amount=1500, amount_received=1500)
    obj = completed_session(payment_intent=intent)
    (change,) = changes(provider, event("checkout.session.completed", obj))
    assert isinstance(change, CheckoutPaid)
    assert change.payment_id == intent["id"]


def test_the_paid_currency_is_read_in_lowercase(provider: StripeProvider) -> None:
    obj = completed_session(currency="JPY", amount_total=500)
    (change,) = changes(provider, event("checkout.session.completed", obj))
    assert isinstance(change, CheckoutPaid)
    assert (change.amount, change.currency) == (500, "jpy")


def test_a_session_that_settles_later_is_checkout_paid(provider: StripeProvider) -> None:
    obj = completed_session(payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM")
    (change,) = changes(provider, event("checkout.session.async_payment_succeeded", obj))
    assert isinstance(change, CheckoutPaid)
    assert (change.reference, change.amount, change.currency) == (TOKEN_ID, 1500, "usd")


def test_a_completed_but_unpaid_session_is_processing(provider: StripeProvider) -> None:
    obj = completed_session(payment_status="unpaid", payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM")
    assert changes(provider, event("checkout.session.completed", obj)) == (
        CheckoutProcessing(
            session_id=obj["id"], reference=TOKEN_ID, payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM"
        ),
    )


@pytest.mark.parametrize("status", ["no_payment_required", None, "something_new"])
def test_a_completed_session_that_is_not_paid_changes_nothing(
    provider: StripeProvider, status: str | None
) -> None:
    # Only Stripe's word "paid" pays an order or a token.
    obj = completed_session(payment_status=status, payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM")
    assert changes(provider, event("checkout.session.completed", obj)) == ()


def test_a_session_whose_delayed_payment_failed_is_checkout_failed(
    provider: StripeProvider,
) -> None:
    obj = completed_session(payment_status="unpaid", payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM")
    assert changes(provider, event("checkout.session.async_payment_failed", obj)) == (
        CheckoutFailed(
            session_id=obj["id"], reference=TOKEN_ID, payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM"
        ),
    )


def test_an_expired_session_is_checkout_expired(provider: StripeProvider) -> None:
    obj = session(status="expired", payment_status="unpaid", payment_intent=None, url=None)
    assert changes(provider, event("checkout.session.expired", obj)) == (
        CheckoutExpired(session_id=obj["id"], reference=TOKEN_ID, payment_id=None),
    )


def test_a_session_opened_elsewhere_has_no_reference(provider: StripeProvider) -> None:
    # A Payment Link or another integration on the same account: no token_id in metadata.
    obj = completed_session(metadata={})
    (change,) = changes(provider, event("checkout.session.completed", obj))
    assert isinstance(change, CheckoutPaid)
    assert change.reference is None


# -- charges and refunds ---------------------------------------------------------------------


def test_a_token_charge_for_an_order_is_charge_succeeded(provider: StripeProvider) -> None:
    charge = example("charge")
    charge.update(
        amount=2400,
        amount_captured=2400,
        captured=True,
        currency="eur",
        metadata={"order_id": ORDER_ID},
        payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM",
    )
    assert changes(provider, event("charge.succeeded", charge)) == (
        ChargeSucceeded(
            payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM",
            charge_id=charge["id"],
            amount=2400,
            currency="eur",
            order_id=ORDER_ID,
        ),
    )


def test_a_charge_without_a_payment_intent_is_its_own_payment(provider: StripeProvider) -> None:
    charge = example("charge")  # Stripe's example: a legacy charge, payment_intent null
    assert charge["payment_intent"] is None
    (change,) = changes(provider, event("charge.succeeded", charge))
    assert isinstance(change, ChargeSucceeded)
    assert change.payment_id == change.charge_id == charge["id"]
    assert change.order_id is None


def test_a_refunded_charge_lists_its_refunds(provider: StripeProvider) -> None:
    charge = example("charge")
    first = refund("re_1", 500, "succeeded", charge=charge["id"])
    second = refund("re_2", 300, "pending", charge=charge["id"])
    charge.update(
        amount=2400,
        amount_refunded=800,
        refunded=False,
        payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM",
    )
    charge["refunds"]["data"] = [first, second]
    assert changes(provider, event("charge.refunded", charge)) == (
        ChargeRefunded(
            payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM",
            charge_id=charge["id"],
            amount_refunded=800,
            refunds=(
                RefundSeen(id="re_1", amount=500, status=RefundStatus.SUCCEEDED),
                RefundSeen(id="re_2", amount=300, status=RefundStatus.PENDING),
            ),
        ),
    )


def test_a_refunded_charge_without_its_refund_list_still_gives_the_total(
    provider: StripeProvider,
) -> None:
    # API versions since 2022-11-15 no longer include ``refunds`` on a charge.
    charge = example("charge")
    del charge["refunds"]
    charge.update(amount_refunded=100, refunded=True)
    (change,) = changes(provider, event("charge.refunded", charge))
    assert change == ChargeRefunded(
        payment_id=None, charge_id=charge["id"], amount_refunded=100, refunds=()
    )


@pytest.mark.parametrize(
    "event_type", ["refund.created", "refund.updated", "charge.refund.updated"]
)
@pytest.mark.parametrize("status", list(RefundStatus))
def test_a_refund_event_is_refund_changed_with_its_status(
    provider: StripeProvider, event_type: str, status: RefundStatus
) -> None:
    obj = refund(
        "re_3PgcK1B7WZ01zgkW",
        700,
        status.value,
        charge="ch_3PgaghB7WZ01zgkW",
        payment_intent="pi_3PgaghB7WZ01zgkW0v6ixdnM",
    )
    assert changes(provider, event(event_type, obj)) == (
        RefundChanged(
            refund=RefundSeen(id="re_3PgcK1B7WZ01zgkW", amount=700, status=status),
            payment_id="pi_3PgaghB7WZ01zgkW0v6ixdnM",
            charge_id="ch_3PgaghB7WZ01zgkW",
        ),
    )


def test_a_refund_status_stripe_has_not_documented_counts_as_pending(
    provider: StripeProvider,
) -> None:
    obj = refund("re_9", 100, "some_future_status")
    (change,) = changes(provider, event("refund.updated", obj))
    assert isinstance(change, RefundChanged)
    assert change.refund.status == RefundStatus.PENDING


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("plan.created", "plan"),
        ("payment_intent.succeeded", "payment_intent"),
        ("customer.created", "customer"),
        ("charge.failed", "charge"),
        ("checkout.session.async_payment_pending", "checkout.session"),
    ],
)
def test_events_the_domain_does_not_follow_report_no_change(
    provider: StripeProvider, event_type: str, kind: str
) -> None:
    assert changes(provider, event(event_type, example(kind))) == ()


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"not json", "invalid_json"),
        (b'{"id": "evt_1", "type": ', "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[]", "invalid_event"),
        (b'"evt_1"', "invalid_event"),
        (b"null", "invalid_event"),
        (b'{"type": "charge.succeeded", "data": {"object": {}}}', "invalid_event"),
        (b'{"id": "", "type": "charge.succeeded", "data": {"object": {}}}', "invalid_event"),
        (b'{"id": 42, "type": "charge.succeeded", "data": {"object": {}}}', "invalid_event"),
        (b'{"id": "evt_1", "data": {"object": {}}}', "invalid_event"),
        (b'{"id": "evt_1", "type": "charge.succeeded"}', "invalid_event"),
        (b'{"id": "evt_1", "type": "charge.succeeded", "data": {}}', "invalid_event"),
        (b'{"id": "evt_1", "type": "charge.succeeded", "data": {"object": []}}', "invalid_event"),
    ],
)
def test_bodies_that_are_no_event_are_rejected(
    provider: StripeProvider, body: bytes, code: str
) -> None:
    with rejected(code):
        provider.read_webhook(body)


def test_an_event_id_longer_than_can_be_stored_is_rejected(provider: StripeProvider) -> None:
    body = json.dumps({"id": "evt_" + "x" * 252, "type": "ping", "data": {"object": {}}})
    with rejected("invalid_event"):
        provider.read_webhook(body.encode())
    # 255 characters is the most a stored event id holds, and is read.
    assert provider.read_webhook(body.replace("x", "", 1).encode()).id == "evt_" + "x" * 251


def test_the_longest_id_and_type_read_are_the_longest_stored() -> None:
    columns = StoredEvent.__table__.c
    assert (columns.id.type.length, columns.type.type.length) == (MAX_EVENT_ID, MAX_EVENT_TYPE)


@pytest.mark.parametrize(
    "envelope",
    [
        {"id": "evt_1", "type": "x" * 129},
        {"id": "evt_1", "type": "charge.\u0000succeeded"},
        {"id": "evt_1", "type": "charge.succeeded\n"},
        {"id": "evt_1", "type": ["charge.succeeded"]},
        {"id": "evt_\u0000", "type": "charge.succeeded"},
        {"id": "evt_\u00e9", "type": "charge.succeeded"},
        {"id": "evt_\ud800", "type": "charge.succeeded"},
        {"id": True, "type": "charge.succeeded"},
    ],
)
def test_an_envelope_that_cannot_be_stored_is_rejected(
    provider: StripeProvider, envelope: dict[str, Any]
) -> None:
    body = json.dumps(envelope | {"data": {"object": {}}})
    with rejected("invalid_event"):
        provider.read_webhook(body.encode())


@pytest.mark.parametrize("created", [2**31, -1, True, 1.5, "1732000000", None])
def test_a_created_time_that_does_not_fit_is_unknown(
    provider: StripeProvider, created: Any
) -> None:
    body = {"id": "evt_1", "type": "ping", "created": created, "data": {"object": {}}}
    assert provider.read_webhook(json.dumps(body).encode()).created is None


def test_a_body_nested_too_deep_is_not_json(provider: StripeProvider) -> None:
    with rejected("invalid_json"):
        provider.read_webhook(b'{"a":' * 30_000 + b"1" + b"}" * 30_000)


# -- objects that cannot be read -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"metadata": "token_id=x"}, "metadata"),
        ({"metadata": ["token_id"]}, "metadata"),
        ({"metadata": {"token_id": 7}}, "metadata"),
        ({"metadata": {"token_id": TOKEN_ID, "note": None}}, "metadata"),
        ({"metadata": {"token_id": "x" * 256}}, "metadata.token_id"),
        ({"metadata": {"token_id": "tok\u0000"}}, "metadata.token_id"),
        ({"id": 12}, "id"),
        ({"id": "cs_" + "x" * 300}, "id"),
        ({"payment_intent": 12}, "payment_intent"),
        ({"payment_intent": {"id": "pi_\u0000"}}, "payment_intent.id"),
        ({"url": 12}, "url"),
        ({"url": "https://pay.example/\u0000"}, "url"),
    ],
)
def test_a_session_in_another_shape_than_stripes_is_unreadable(
    provider: StripeProvider, fields: dict[str, Any], where: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        changes(provider, event("checkout.session.completed", completed_session(**fields)))
    assert caught.value.code == "unreadable_event"
    assert f"data.object.{where} is not" in caught.value.message


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        ("charge.succeeded", {"metadata": {"order_id": ["ord_1"]}}),
        ("charge.succeeded", {"metadata": {"order_id": "ord_\u0000"}}),
        ("charge.refunded", {"refunds": "re_1"}),
        ("charge.refunded", {"refunds": {"data": "re_1"}}),
        ("charge.refunded", {"refunds": {"data": [{"id": None}, {"id": 7}]}}),
        ("charge.refunded", {"payment_intent": ["pi_1"]}),
    ],
)
def test_a_charge_in_another_shape_than_stripes_is_unreadable(
    provider: StripeProvider, event_type: str, fields: dict[str, Any]
) -> None:
    charge = example("charge")
    charge.update(fields)
    with rejected("unreadable_event"):
        changes(provider, event(event_type, charge))


def test_a_refund_in_another_shape_than_stripes_is_unreadable(provider: StripeProvider) -> None:
    with rejected("unreadable_event"):
        changes(provider, event("refund.updated", refund("re_1", 100, "pending", charge={"id": 5})))


@pytest.mark.parametrize("amount", [2**31, -1, True, "1500", 15.0])
def test_an_amount_nothing_here_asked_for_is_unknown(provider: StripeProvider, amount: Any) -> None:
    (change,) = changes(
        provider, event("checkout.session.completed", completed_session(amount_total=amount))
    )
    assert isinstance(change, CheckoutPaid) and change.amount is None


@pytest.mark.parametrize("currency", ["usdx", "us", 840, None, "u$d"])
def test_a_currency_that_is_no_code_is_unknown(provider: StripeProvider, currency: Any) -> None:
    (change,) = changes(
        provider, event("checkout.session.completed", completed_session(currency=currency))
    )
    assert isinstance(change, CheckoutPaid) and change.currency == ""


# -- signatures ------------------------------------------------------------------------------


def test_a_correctly_signed_event_is_read(provider: StripeProvider) -> None:
    body = json.dumps(event("checkout.session.completed", completed_session())).encode()
    read = verify(provider, body, signed(body))
    assert read == provider.read_webhook(body)


def test_a_signature_made_a_little_while_ago_is_accepted(provider: StripeProvider) -> None:
    body = json.dumps(event("charge.succeeded", example("charge"))).encode()
    at = int(time.time()) - WEBHOOK_TOLERANCE_SECONDS + 30
    assert verify(provider, body, signed(body, at=at)).type == "charge.succeeded"


def test_one_good_signature_among_several_is_enough(provider: StripeProvider) -> None:
    # While a secret is rolled, Stripe signs with the old and the new one.
    body = json.dumps(event("charge.succeeded", example("charge"))).encode()
    t = int(time.time())
    good = signed(body, at=t)["stripe-signature"].split(",")[1]
    header = f"t={t},v1={'0' * 64},{good}"
    assert verify(provider, body, {"stripe-signature": header}).type == "charge.succeeded"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"stripe-signature": ""}, id="empty"),
        pytest.param({"stripe-signature": "garbage"}, id="unreadable"),
        pytest.param({"stripe-signature": f"t={int(time.time())}"}, id="no-v1"),
        pytest.param({"stripe-signature": f"t={int(time.time())},v1={'a' * 64}"}, id="wrong"),
    ],
)
def test_missing_or_wrong_signatures_are_rejected(
    provider: StripeProvider, headers: dict[str, str]
) -> None:
    body = json.dumps(event("charge.succeeded", example("charge"))).encode()
    with rejected("invalid_signature"):
        verify(provider, body, headers)


def test_a_signature_with_another_secret_is_rejected(provider: StripeProvider) -> None:
    body = json.dumps(event("charge.succeeded", example("charge"))).encode()
    with rejected("invalid_signature"):
        verify(provider, body, signed(body, secret="whsec_someone_else"))


def test_a_body_changed_after_signing_is_rejected(provider: StripeProvider) -> None:
    charge = example("charge")
    body = json.dumps(event("charge.succeeded", charge)).encode()
    headers = signed(body)
    tampered = body.replace(b'"amount": 100,', b'"amount": 1,')
    assert tampered != body
    with rejected("invalid_signature"):
        verify(provider, tampered, headers)


def test_a_signature_older_than_the_tolerance_is_rejected(provider: StripeProvider) -> None:
    body = json.dumps(event("charge.succeeded", example("charge"))).encode()
    old = int(time.time()) - WEBHOOK_TOLERANCE_SECONDS - 60
    with rejected("invalid_signature"):
        verify(provider, body, signed(body, at=old))


def test_the_signature_is_checked_before_the_body_is_read(provider: StripeProvider) -> None:
    with rejected("invalid_signature"):
        verify(provider, b"not json", {})
    with rejected("invalid_signature"):
        verify(provider, b"\xff\xfe", signed(b"\xff\xfe"))


def test_a_signed_body_that_is_no_event_is_rejected_as_such(provider: StripeProvider) -> None:
    with rejected("invalid_json"):
        verify(provider, b"not json", signed(b"not json"))
    with rejected("invalid_event"):
        verify(provider, b"[]", signed(b"[]"))
