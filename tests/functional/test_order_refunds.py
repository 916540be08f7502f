"""Refunds of orders (from the API and from Stripe) and the merchant's signed order webhooks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.support import sdk
from tests.support.auth import buyer, merchant
from tests.support.orders import (
    MERCHANT_SECRET,
    charged,
    create_order,
    entitlements,
    error,
    get_order,
    pay_order,
    refund,
    refunded,
    session_id,
    settle,
    start,
    verify_merchant_post,
    wait_order,
    wait_order_status,
)
from tests.support.receiver import FlakyReceiver, Inbox
from tests.support.server import RunningServer, wait_until


def _stripe_refunds(server: RunningServer) -> list[Any]:
    return list(sdk.client(server).v1.refunds.list({"limit": 100}).data)


def _intent_of(server: RunningServer, order: dict[str, Any]) -> str:
    intent: str = server.sandbox.object(session_id(order))["payment_intent"]
    assert intent.startswith("pi_")
    return intent


# -- refunds from the API ------------------------------------------------------------------------


def test_full_refund_by_default_revokes_what_was_granted(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), ("croissant", 1))
    charged(server, order)
    assert {e["revoked_at"] for e in entitlements(server)} == {None}

    answer = refunded(server, order["id"])
    made = answer["refund"]
    assert made["id"].startswith("re_")
    assert (made["amount"], made["status"], made["source"]) == (790, "succeeded", "api")
    assert made["created_at"]
    after = answer["order"]
    assert after["status"] == "refunded"
    assert (after["amount_paid"], after["amount_refunded"], after["amount_due"]) == (790, 790, 0)
    assert [r["id"] for r in after["refunds"]] == [made["id"]]
    assert get_order(server, order["id"]) == after

    granted = entitlements(server)
    assert len(granted) == 2 and all(e["revoked_at"] is not None for e in granted)
    [stripe_refund] = _stripe_refunds(server)
    assert (stripe_refund.id, stripe_refund.amount) == (made["id"], 790)

    # Stripe's own events of that refund come back through the webhook: counted once.
    settle(server)
    final = get_order(server, order["id"])
    assert final["amount_refunded"] == 790 and len(final["refunds"]) == 1
    assert final["refunds"][0]["source"] == "api"


def test_partial_refunds_add_up_exactly(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), ("croissant", 1))
    charged(server, order)
    steps = [
        (300, "partially_refunded", 300),
        (290, "partially_refunded", 590),
        (200, "refunded", 790),
    ]
    for amount, status, total in steps:
        answer = refunded(server, order["id"], amount)
        assert answer["refund"]["amount"] == amount
        assert (answer["order"]["status"], answer["order"]["amount_refunded"]) == (status, total)
        revoked = {e["revoked_at"] is not None for e in entitlements(server)}
        assert revoked == {status == "refunded"}
    seen = get_order(server, order["id"])
    assert sorted(r["amount"] for r in seen["refunds"]) == [200, 290, 300]
    assert {r["source"] for r in seen["refunds"]} == {"api"}
    assert sorted(r.amount for r in _stripe_refunds(server)) == [200, 290, 300]
    settle(server)
    final = get_order(server, order["id"])
    assert (final["status"], final["amount_refunded"], len(final["refunds"])) == (
        "refunded",
        790,
        3,
    )


def test_refund_beyond_what_was_paid_changes_nothing(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)
    charged(server, order)
    before = get_order(server, order["id"])
    assert error(refund(server, order["id"], 501)) == (422, "amount_too_large")
    assert get_order(server, order["id"]) == before
    refunded(server, order["id"], 300)
    part = get_order(server, order["id"])
    assert error(refund(server, order["id"], 201)) == (422, "amount_too_large")
    assert get_order(server, order["id"]) == part
    assert part["status"] == "partially_refunded" and part["amount_refunded"] == 300
    last = refunded(server, order["id"], 200)["order"]
    assert last["status"] == "refunded" and last["amount_refunded"] == 500
    assert sorted(r.amount for r in _stripe_refunds(server)) == [200, 300]


def test_bad_refund_amounts_are_422(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)
    charged(server, order)
    before = get_order(server, order["id"])
    for amount in (0, -1, -500, "ten", 1.5, [100]):
        assert error(refund(server, order["id"], amount)) == (422, "validation_error"), amount
    assert get_order(server, order["id"]) == before
    assert _stripe_refunds(server) == []


def test_only_paid_orders_are_refunded_and_only_by_the_merchant(make_server: Any) -> None:
    server = start(make_server)
    pending = create_order(server)
    assert error(refund(server, pending["id"])) == (409, "order_not_refundable")
    cancelled = create_order(server)
    cancel = server.client.post(f"/v1/orders/{cancelled['id']}/cancel", headers=buyer("alice"))
    assert cancel.status_code == 200
    assert error(refund(server, cancelled["id"])) == (409, "order_not_refundable")

    paid = create_order(server)
    charged(server, paid)
    assert error(refund(server, paid["id"], headers={})) == (401, "unauthorized")
    assert error(refund(server, paid["id"], headers=merchant("sk_wrong"))) == (
        401,
        "invalid_api_key",
    )
    # The buyer may see the order, not refund it.
    assert error(refund(server, paid["id"], headers=buyer("alice"))) == (403, "forbidden")
    seen = get_order(server, paid["id"])
    assert (seen["status"], seen["amount_refunded"], seen["refunds"]) == ("completed", 0, [])
    assert _stripe_refunds(server) == []


# -- refunds made in Stripe ----------------------------------------------------------------------


def test_refund_made_in_stripe_shows_on_the_order(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2))
    pay_order(server, order)
    client = sdk.client(server)
    intent = _intent_of(server, order)

    first = client.v1.refunds.create({"payment_intent": intent, "amount": 200})
    part = wait_order(server, order["id"], lambda o: o["amount_refunded"] == 200)
    assert part["status"] == "partially_refunded" and part["amount_paid"] == 500
    assert [(r["id"], r["amount"], r["source"]) for r in part["refunds"]] == [
        (first.id, 200, "provider")
    ]
    assert {e["revoked_at"] for e in entitlements(server)} == {None}

    rest = client.v1.refunds.create({"payment_intent": intent})
    assert rest.amount == 300
    done = wait_order_status(server, order["id"], "refunded")
    assert done["amount_refunded"] == 500
    assert sorted((r["id"], r["amount"], r["source"]) for r in done["refunds"]) == sorted(
        [(first.id, 200, "provider"), (rest.id, 300, "provider")]
    )
    assert all(e["revoked_at"] is not None for e in entitlements(server))
    settle(server)
    final = get_order(server, order["id"])
    assert (final["status"], final["amount_refunded"], len(final["refunds"])) == (
        "refunded",
        500,
        2,
    )
    # Nothing is left to refund from the API either.
    assert error(refund(server, order["id"], 1)) == (409, "order_not_refundable")


# -- the merchant's webhooks ---------------------------------------------------------------------


def _events(inbox: Inbox, secret: str = MERCHANT_SECRET) -> list[dict[str, Any]]:
    return [verify_merchant_post(headers, body, secret) for headers, body, _ in inbox.received]


def test_merchant_is_told_of_each_order_change_once_signed(make_server: Any) -> None:
    with Inbox() as inbox:
        server = start(
            make_server,
            merchant_webhook_urls=inbox.url,
            merchant_webhook_secret=MERCHANT_SECRET,
            order_ttl_seconds=4,
        )
        left = create_order(server, ("croissant", 1))
        paid = create_order(server, ("espresso", 2))
        pay_order(server, paid)
        refunded(server, paid["id"], 100)
        sdk.client(server).v1.refunds.create({"payment_intent": _intent_of(server, paid)})
        wait_order_status(server, paid["id"], "refunded")
        wait_order_status(server, left["id"], "expired", timeout=10)
        expected = ["order.completed", "order.expired", "order.refunded", "order.refunded"]
        wait_until(lambda: sorted(inbox.types()) == expected, timeout=10)
        time.sleep(1.0)  # several job ticks: nothing is sent twice
        assert sorted(inbox.types()) == expected

    events = _events(inbox)
    now = int(time.time())
    for event in events:
        assert event["object"] == "event" and event["id"].startswith("evt_")
        assert isinstance(event["created"], int) and now - 60 <= event["created"] <= now
        assert event["data"]["object"]["object"] == "order"
    assert len({e["id"] for e in events}) == 4
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["data"]["object"])
    [completed] = by_type["order.completed"]
    assert completed["id"] == paid["id"] and completed["status"] == "completed"
    assert completed["amount_paid"] == 500
    [expired] = by_type["order.expired"]
    assert expired["id"] == left["id"] and expired["status"] == "expired"
    assert {o["id"] for o in by_type["order.refunded"]} == {paid["id"]}
    for headers, _, _ in inbox.received:
        content_type = {k.lower(): v for k, v in headers.items()}["content-type"]
        assert content_type.startswith("application/json")


def test_generated_merchant_secret_is_kept_in_the_data_dir(
    make_server: Any, tmp_path: Path
) -> None:
    with Inbox() as inbox:
        server = start(make_server, merchant_webhook_urls=inbox.url)
        charged(server, create_order(server))
        wait_until(lambda: inbox.received, timeout=10)
    secret = (tmp_path / ".qrcheckout-merchant-webhook-secret").read_text().strip()
    assert secret
    [event] = _events(inbox, secret)
    assert event["type"] == "order.completed"


def test_failing_merchant_endpoint_gets_the_event_on_the_third_attempt(make_server: Any) -> None:
    with (
        Inbox() as inbox,
        FlakyReceiver(failures=2, only="order.completed") as flaky,
    ):
        flaky.forward_to = inbox.url
        server = start(
            make_server,
            merchant_webhook_urls=flaky.url,
            merchant_webhook_secret=MERCHANT_SECRET,
            webhook_retry_base_seconds=0.5,
            expiry_interval_seconds=0.1,
        )
        order = create_order(server)
        charged(server, order)
        wait_until(lambda: len(flaky.received) == 3, timeout=15)
        time.sleep(1.0)
    assert [status for _, _, _, status in flaky.received] == [503, 503, 200]
    times = [t for t, _, _, _ in flaky.received]
    assert times[1] - times[0] >= 0.45  # waited the base delay
    # ... and twice that before the next (a loaded machine may wait longer, never shorter).
    assert times[2] - times[1] >= 0.95
    assert len({body for _, _, body, _ in flaky.received}) == 1  # the same event each time
    for _, headers, body, _ in flaky.received:
        verify_merchant_post(headers, body)  # signed afresh, still valid
    event = json.loads(flaky.received[0][2])
    assert event["type"] == "order.completed" and event["data"]["object"]["id"] == order["id"]
    assert len(inbox.received) == 1

    log = server.client.get(
        "/v1/webhook-deliveries", params={"event": event["id"]}, headers=merchant()
    )
    assert log.status_code == 200, log.text
    assert log.json()["object"] == "list"
    attempts = sorted(log.json()["data"], key=lambda a: a["attempt"])
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in attempts] == [
        (1, 503, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert {(a["event"], a["type"], a["url"]) for a in attempts} == {
        (event["id"], "order.completed", flaky.url)
    }
    assert all(a["created_at"] for a in attempts)
    unauthorized = server.client.get("/v1/webhook-deliveries", params={"event": event["id"]})
    assert error(unauthorized) == (401, "unauthorized")


def test_merchant_delivery_gives_up_after_the_last_attempt(make_server: Any) -> None:
    with Inbox(statuses=(500,) * 20) as inbox:
        server = start(
            make_server,
            merchant_webhook_urls=inbox.url,
            merchant_webhook_secret=MERCHANT_SECRET,
            webhook_max_attempts=3,
            webhook_retry_base_seconds=0.1,
        )
        charged(server, create_order(server))
        wait_until(lambda: len(inbox.received) == 3, timeout=10)
        time.sleep(2.0)  # long past the next backoff
        assert len(inbox.received) == 3
    event = json.loads(inbox.received[0][1])
    log = server.client.get(
        "/v1/webhook-deliveries", params={"event": event["id"]}, headers=merchant()
    ).json()["data"]
    assert sorted((a["attempt"], a["status_code"], a["succeeded"]) for a in log) == [
        (1, 500, False),
        (2, 500, False),
        (3, 500, False),
    ]
