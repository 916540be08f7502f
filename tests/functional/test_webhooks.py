"""Webhook intake: signatures first, stored once, processed once, never downgrading a payment."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from qrcheckout.payments.events import CheckoutPaid
from qrcheckout.webhooks.models import StoredEvent
from tests.conftest import WEBHOOK_SECRET
from tests.support.flows import create_token, pay_page, submit_card, token, wait_status
from tests.support.metrics import samples, value
from tests.support.receiver import FlakyReceiver
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import encode, session_event, signature


def _deliver(server: RunningServer, payload: str, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return server.client.post("/v1/webhooks/stripe", content=payload, headers=headers)


def _send(server: RunningServer, event: dict[str, Any]) -> httpx.Response:
    payload = encode(event)
    return _deliver(server, payload, signature(payload, WEBHOOK_SECRET))


def _stored(server: RunningServer) -> list[StoredEvent]:
    async def read() -> list[StoredEvent]:
        async with server.db.sessions() as session:
            return list(await session.scalars(select(StoredEvent)))

    return server.call(read)


def _opened(server: RunningServer, **kwargs: Any) -> tuple[dict[str, Any], str]:
    created = create_token(server, **kwargs)
    session_id = pay_page(server, created["id"]).rsplit("/", 1)[1]
    return created, session_id


def _completed(created: dict[str, Any], session_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "session_id": session_id,
        "token_id": created["id"],
        "amount_total": created["amount_total"],
        "currency": created["currency"],
    }
    values.update(overrides)
    return session_event("checkout.session.completed", **values)


def _expired(created: dict[str, Any], session_id: str) -> dict[str, Any]:
    event = _completed(created, session_id, payment_status="unpaid", status="expired")
    event["type"] = "checkout.session.expired"
    return event


@pytest.mark.one_database
def test_missing_tampered_wrong_or_stale_signatures_are_refused(server: RunningServer) -> None:
    created, session_id = _opened(server)
    payload = encode(_completed(created, session_id))
    good = signature(payload, WEBHOOK_SECRET)
    tampered_body = payload.replace('"amount_total": 500', '"amount_total": 499')
    stale = signature(payload, WEBHOOK_SECRET, int(time.time()) - 301)
    cases = {
        "missing": (payload, None),
        "garbage": (payload, "nonsense"),
        "tampered body": (tampered_body, good),
        "tampered signature": (payload, good[:-1] + ("0" if good[-1] != "0" else "1")),
        "wrong secret": (payload, signature(payload, "whsec_someone_else")),
        "older than 300 s": (payload, stale),
    }
    for name, (body, header) in cases.items():
        response = _deliver(server, body, header)
        assert response.status_code == 400, name
        assert response.json()["error"]["code"] == "invalid_signature", name
    assert _stored(server) == []
    assert token(server, created["id"])["status"] == "inprogress"


def test_several_v1_signatures_any_valid_one_passes(server: RunningServer) -> None:
    created, session_id = _opened(server)
    payload = encode(_completed(created, session_id))
    t = int(time.time())
    valid = signature(payload, WEBHOOK_SECRET, t).split(",")[1]
    header = f"t={t},v1={'0' * 64},{valid}"
    assert _deliver(server, payload, header).status_code == 200
    assert token(server, created["id"])["status"] == "success"


@pytest.mark.one_database
def test_signed_but_not_an_event_is_a_clear_400(server: RunningServer) -> None:
    for body in ("not json", "[]", json.dumps({"id": "evt_1"}), json.dumps({"type": "x"})):
        response = _deliver(server, body, signature(body, WEBHOOK_SECRET))
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] in {"invalid_json", "invalid_event"}
    assert _stored(server) == []


def test_same_event_twice_is_processed_once(server: RunningServer) -> None:
    created, session_id = _opened(server)
    event = _completed(created, session_id)
    first, second = _send(server, event), _send(server, event)
    assert first.status_code == second.status_code == 200
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is True
    paid = token(server, created["id"])
    assert paid["status"] == "success" and paid["paid_count"] == 1
    [stored] = _stored(server)
    assert stored.id == event["id"] and stored.status == "processed" and stored.attempts == 1
    assert json.loads(stored.payload) == event


def _burst(server: RunningServer, payloads: list[str]) -> list[httpx.Response]:
    """Every payload delivered, signed, all at once."""

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/webhooks/stripe",
                        content=payload,
                        headers={
                            "Stripe-Signature": signature(payload, WEBHOOK_SECRET),
                            "Content-Type": "application/json",
                        },
                    )
                    for payload in payloads
                )
            )

    return asyncio.run(burst())


def test_twenty_concurrent_deliveries_pay_once(server: RunningServer) -> None:
    created, session_id = _opened(server)
    payload = encode(_completed(created, session_id))
    responses = _burst(server, [payload] * 20)
    assert [r.status_code for r in responses] == [200] * 20
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    paid = token(server, created["id"])
    assert paid["status"] == "success" and paid["paid_count"] == 1
    assert len(_stored(server)) == 1


def test_expired_after_completed_never_downgrades(server: RunningServer) -> None:
    created, session_id = _opened(server)
    assert _send(server, _completed(created, session_id)).status_code == 200
    late = _expired(created, session_id)
    assert _send(server, late).status_code == 200
    assert token(server, created["id"])["status"] == "success"


def test_session_expired_event_invalidates_a_live_token(server: RunningServer) -> None:
    created, session_id = _opened(server)
    expired = _expired(created, session_id)
    assert _send(server, expired).status_code == 200
    assert token(server, created["id"])["status"] == "invalid"


def test_amount_or_currency_mismatch_never_pays(server: RunningServer) -> None:
    created, session_id = _opened(server)
    short = _send(server, _completed(created, session_id, amount_total=1))
    assert short.status_code == 200
    seen = token(server, created["id"])
    assert seen["status"] == "inprogress"
    assert seen["failure_code"] == "amount_mismatch"
    assert "paid 1 usd, expected 500 usd" in seen["failure_message"]

    created, session_id = _opened(server)
    _send(server, _completed(created, session_id, currency="eur"))
    assert token(server, created["id"])["failure_code"] == "amount_mismatch"
    assert token(server, created["id"])["status"] == "inprogress"


def test_async_payment_waits_then_succeeds_or_fails(server: RunningServer) -> None:
    created, session_id = _opened(server)
    _send(server, _completed(created, session_id, payment_status="unpaid"))
    assert token(server, created["id"])["status"] == "inprogress"
    ok = _completed(created, session_id)
    ok["type"] = "checkout.session.async_payment_succeeded"
    _send(server, ok)
    assert token(server, created["id"])["status"] == "success"

    created, session_id = _opened(server)
    _send(server, _completed(created, session_id, payment_status="unpaid"))
    failed = _completed(created, session_id, payment_status="unpaid")
    failed["type"] = "checkout.session.async_payment_failed"
    _send(server, failed)
    assert token(server, created["id"])["status"] == "failed"


def test_unknown_event_types_are_stored_and_ignored(server: RunningServer) -> None:
    event = {
        "id": "evt_unknown_1",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    response = _send(server, event)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    [stored] = _stored(server)
    assert stored.type == "customer.created" and stored.status == "ignored"


def test_payment_landing_after_cancel_is_recorded_not_lost(make_server: Any) -> None:
    # The customer pays while the shop cancels; the webhook arrives after the cancel.
    server = make_server(sandbox_webhook_url="http://127.0.0.1:9/v1/webhooks/stripe")
    created, session_id = _opened(server)
    url = server.sandbox.object(session_id)["url"]
    assert submit_card(url).status_code == 303
    assert (
        server.client.post(
            f"/v1/tokens/{created['id']}/cancel", json={"cancel_secret": created["cancel_secret"]}
        ).status_code
        == 200
    )
    [completed] = [e for e in server.sandbox.events if e["type"] == "checkout.session.completed"]
    assert _send(server, completed).status_code == 200
    seen = token(server, created["id"])
    assert seen["status"] == "cancelled"
    assert seen["failure_code"] == "late_payment"
    assert "after this checkout was cancelled" in seen["failure_message"]


def test_processing_failure_is_recorded_and_answered_5xx(server: RunningServer) -> None:
    created, session_id = _opened(server)
    failures = [RuntimeError("the ledger is unwell")]

    async def fails_once(*_: Any) -> bool:
        if failures:
            raise failures.pop()
        return False

    # A handler that fails once, after the token's own: its change is rolled back with it.
    server.app.state.container.webhooks["stripe"].on(CheckoutPaid, fails_once)
    event = _completed(created, session_id)
    first = _send(server, event)
    assert first.status_code == 500
    assert first.json()["error"]["code"] == "webhook_processing_failed"
    [stored] = _stored(server)
    assert stored.status == "failed" and stored.attempts == 1
    assert stored.error and "the ledger is unwell" in stored.error
    assert token(server, created["id"])["status"] == "inprogress"
    # A redelivery (Stripe retries after a 5xx) is processed again, not taken as a duplicate.
    second = _send(server, event)
    assert second.status_code == 200 and second.json()["status"] == "processed"
    [stored] = _stored(server)
    assert stored.status == "processed" and stored.attempts == 2 and stored.error is None
    assert token(server, created["id"])["status"] == "success"


def test_deliveries_arriving_together_each_settle_whatever_one_of_them_does(
    server: RunningServer,
) -> None:
    """Deliveries that arrive while others are processed are stored and processed together;
    one whose processing fails is answered 5xx and recorded failed, the others are paid."""
    opened = [_opened(server) for _ in range(6)]
    unwell = opened[2][1]

    async def fails_for_one(_session: Any, _outbox: Any, paid: CheckoutPaid) -> None:
        if paid.session_id == unwell:
            raise RuntimeError("the ledger is unwell")

    server.app.state.container.webhooks["stripe"].on(CheckoutPaid, fails_for_one)
    events = [_completed(created, session_id) for created, session_id in opened]
    before = samples(server)
    # Twice each, so that duplicates also meet in one batch.
    responses = _burst(server, [encode(event) for event in events for _ in range(2)])
    # Each payment counted once, though a batch rolled back may have applied it twice.
    paid = ("qrcheckout_payments_total", {"provider": "stripe", "currency": "usd"})
    assert value(samples(server), paid[0], **paid[1]) - value(before, paid[0], **paid[1]) == 5
    for i, (created, session_id) in enumerate(opened):
        answers = responses[2 * i : 2 * i + 2]
        if session_id == unwell:
            assert {r.status_code for r in answers} == {500}
            assert token(server, created["id"])["status"] == "inprogress"
        else:
            assert [r.status_code for r in answers] == [200, 200]
            assert sorted(r.json()["duplicate"] for r in answers) == [False, True]
            paid = token(server, created["id"])
            assert paid["status"] == "success" and paid["paid_count"] == 1
    stored = {event.id: event for event in _stored(server)}
    assert len(stored) == 6
    assert stored[events[2]["id"]].status == "failed"
    assert "the ledger is unwell" in (stored[events[2]["id"]].error or "")
    assert {stored[e["id"]].status for i, e in enumerate(events) if i != 2} == {"processed"}


@pytest.mark.parametrize(
    "metadata",
    ["not a map", ["token_id"], {"token_id": 5}, {"token_id": "tok\u0000"}, {"a": None}],
)
def test_an_event_whose_object_cannot_be_read_settles_as_failed(
    server: RunningServer, metadata: Any
) -> None:
    """Stripe sends metadata as a map of strings; anything else no retry can read. The event
    is kept, marked failed with the reason, and answered 200 so that it settles."""
    created, session_id = _opened(server)
    event = _completed(created, session_id)
    event["data"]["object"]["metadata"] = metadata
    for attempt in (1, 2):  # a redelivery reads it again, and settles it again
        answer = _send(server, event)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "failed" and answer.json()["duplicate"] is False
        assert "data.object.metadata" in answer.json()["error"]
        [stored] = _stored(server)
        assert stored.status == "failed" and stored.attempts == attempt
        assert stored.error and stored.error.startswith("unreadable_event: ")
    assert token(server, created["id"])["status"] == "inprogress"


@pytest.mark.parametrize(
    ("event_type", "obj", "field"),
    [
        ("charge.refunded", {"id": "ch_1", "refunds": "none"}, "refunds"),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": {"id": "re_1"}}}, "refunds.data"),
        ("charge.refunded", {"id": "ch_1", "refunds": {"data": [{"id": 7}]}}, "refunds.data.0.id"),
        ("charge.succeeded", {"id": "ch_1", "metadata": {"order_id": "x" * 300}}, "order_id"),
        ("charge.succeeded", {"id": "ch_\u0000"}, "data.object.id"),
        ("refund.updated", {"id": "re_1", "charge": ["ch_1"]}, "charge"),
        ("checkout.session.completed", {"id": "cs_1", "url": 5}, "url"),
        ("checkout.session.completed", {"id": "cs_1", "payment_intent": {"id": 1}}, "id"),
    ],
)
def test_other_objects_that_cannot_be_read_settle_as_failed(
    server: RunningServer, event_type: str, obj: dict[str, Any], field: str
) -> None:
    event = session_event(
        event_type, session_id="cs_1", token_id="t", amount_total=1, currency="usd"
    )
    event["data"]["object"] = obj
    answer = _send(server, event)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "failed" and field in answer.json()["error"]
    [stored] = _stored(server)
    assert stored.status == "failed"


def test_an_event_that_cannot_be_stored_is_a_400_that_stores_nothing(
    server: RunningServer,
) -> None:
    created, session_id = _opened(server)
    for change in (
        {"type": "checkout.session." + "x" * 112},  # 129 characters
        {"type": "checkout.session.\u0000"},
        {"type": ""},
        {"type": None},
        {"id": "evt_" + "x" * 252},  # 256 characters
        {"id": "evt_\u0000"},
        {"id": "evt_é"},
        {"id": ""},
        {"id": 5},
        {"id": ["evt_1"]},
    ):
        answer = _send(server, _completed(created, session_id) | change)
        assert answer.status_code == 400, change
        assert answer.json()["error"]["code"] == "invalid_event", change
    assert _stored(server) == []
    assert token(server, created["id"])["status"] == "inprogress"
    # The longest id and type that fit are taken.
    longest = _completed(created, session_id) | {"id": "evt_" + "y" * 251, "type": "z" * 128}
    answer = _send(server, longest)
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    [stored] = _stored(server)
    assert (len(stored.id), len(stored.type)) == (255, 128)


def test_sandbox_delivery_is_retried_with_backoff_until_accepted(make_server: Any) -> None:
    with FlakyReceiver(failures=2, only="checkout.session.completed") as receiver:
        server = make_server(sandbox_webhook_url=receiver.url, webhook_retry_base_seconds=0.5)
        receiver.forward_to = f"{server.url}/v1/webhooks/stripe"
        created, session_id = _opened(server)
        url = server.sandbox.object(session_id)["url"]
        submit_card(url)
        wait_status(server, created["id"], "success", timeout=15)
    statuses = [status for _, _, _, status in receiver.received]
    assert statuses == [503, 503, 200]
    times = [t for t, _, _, _ in receiver.received]
    # The backoff doubles: 0.5 s, then 1 s. A loaded machine can only add to each wait.
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95
    # Every attempt is signed afresh, in Stripe's format, over the same event body.
    bodies = {body for _, _, body, _ in receiver.received}
    assert len(bodies) == 1
    for _, headers, body, _ in receiver.received:
        t, v1 = dict(p.split("=", 1) for p in headers["Stripe-Signature"].split(",")).values()
        assert signature(body.decode(), WEBHOOK_SECRET, int(t)).endswith(v1)


def test_a_declined_card_is_told_while_the_token_waits(server: RunningServer) -> None:
    from tests.support.flows import DECLINED_CARD

    created = create_token(server, kind="static")
    url = pay_page(server, created["id"])
    assert submit_card(url, DECLINED_CARD).status_code == 402
    declined = wait_until(
        lambda: (
            (t := token(server, created["id"])) and t["failure_code"] == "payment_declined" and t
        )
    )
    assert declined["status"] == "inprogress"
    # Said without the bank's reason: anyone holding the code sees the QR page.
    assert declined["failure_message"] == "The card was declined."
    # The next try on the same page goes through, and the decline is forgotten.
    assert submit_card(url).status_code == 303
    paid = wait_until(lambda: (t := token(server, created["id"])) and t["paid_count"] == 1 and t)
    assert paid["failure_code"] is None and paid["failure_message"] is None


def test_a_decline_that_comes_after_its_payment_changes_nothing(server: RunningServer) -> None:
    created = create_token(server, kind="static")
    url = pay_page(server, created["id"])
    assert submit_card(url).status_code == 303
    paid = wait_until(lambda: (t := token(server, created["id"])) and t["paid_count"] == 1 and t)
    [intent] = [
        e["data"]["object"]["payment_intent"]
        for e in server.sandbox.events
        if e["type"] == "checkout.session.completed"
    ]
    late = {
        "id": "evt_test_late_decline",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": intent,
                "object": "payment_intent",
                "metadata": {"token_id": created["id"]},
                "last_payment_error": {"message": "Your card has insufficient funds."},
            }
        },
    }
    assert _send(server, late).status_code == 200
    assert token(server, created["id"])["failure_code"] == paid["failure_code"] is None


def test_a_decline_for_another_accounts_token_is_ignored(server: RunningServer) -> None:
    created, _ = _opened(server)
    forged = {
        "id": "evt_test_declined_elsewhere",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "created": int(time.time()),
        "account": "acct_someone_else",
        "data": {
            "object": {
                "id": "pi_test_x",
                "object": "payment_intent",
                "metadata": {"token_id": created["id"]},
                "last_payment_error": {"message": "Your card was declined."},
            }
        },
    }
    assert _send(server, forged).status_code == 200
    assert token(server, created["id"])["failure_code"] is None
