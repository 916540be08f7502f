"""The built-in sandbox, driven by the official stripe SDK, against Stripe's own object shapes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from tests.conftest import WEBHOOK_SECRET
from tests.support.flows import submit_card
from tests.support.receiver import FlakyReceiver
from tests.support.sdk import client as _client
from tests.support.sdk import session_params as _session_params
from tests.support.server import RunningServer, wait_until

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database


def test_sdk_creates_retrieves_lists_and_expires_sessions(server: RunningServer) -> None:
    client = _client(server)
    created = client.v1.checkout.sessions.create(_session_params())
    assert created.id.startswith("cs_test_") and created.object == "checkout.session"
    assert created.amount_total == 1000 and created.currency == "jpy"  # zero-decimal, exact
    assert created.status == "open" and created.payment_status == "unpaid"
    assert created.metadata.to_dict() == {"order": "42"}
    assert created.url.startswith(f"{server.url}/sandbox/pay/")
    fetched = client.v1.checkout.sessions.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()
    items = client.v1.checkout.sessions.line_items.list(created.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Matcha", 2, 1000)
    ]
    expired = client.v1.checkout.sessions.expire(created.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.checkout.sessions.expire(created.id)
    assert "can be expired" in again.value.user_message
    listed = client.v1.checkout.sessions.list({"limit": 1})
    assert [s.id for s in listed.data] == [created.id]


def test_idempotency_keys_replay_or_refuse(server: RunningServer) -> None:
    client = _client(server)
    first = client.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k-1"})
    replay = client.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k-1"})
    assert replay.id == first.id
    assert len(server.sandbox.store.all_of("checkout.session")) == 1
    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.checkout.sessions.create(
            _session_params(customer_email="x@example.com"), {"idempotency_key": "k-1"}
        )
    assert "k-1" in refused.value.user_message
    other = client.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k-2"})
    assert other.id != first.id


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"mode": None}, "mode"),
        ({"success_url": None}, "success_url"),
        ({"line_items": None}, "line_items"),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": "usd", "product_data": {"name": "x"}},
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 0,
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1,
                            "product_data": {"name": "x"},
                        },
                    }
                ]
            },
            "line_items[0][quantity]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": "usd", "unit_amount": 1, "product_data": {}},
                    }
                ]
            },
            "line_items[0][price_data][product_data][name]",
        ),
        ({"expires_at": int(time.time()) + 60}, "expires_at"),
        ({"success_url": "not a url"}, "success_url"),
    ],
)
def test_bad_requests_get_stripe_errors(server: RunningServer, change: dict, param: str) -> None:
    params = {k: v for k, v in (_session_params() | change).items() if v is not None}
    with pytest.raises(stripe.InvalidRequestError) as error:
        _client(server).v1.checkout.sessions.create(params)
    assert error.value.http_status == 400
    assert error.value.param == param
    assert error.value.user_message


def test_api_keys_are_checked_like_stripe(server: RunningServer) -> None:
    with pytest.raises(stripe.AuthenticationError):
        _client(server, "sk_live_123456789012345").v1.checkout.sessions.list()
    with pytest.raises(stripe.AuthenticationError):
        _client(server, "pk_test_123").v1.checkout.sessions.list()
    basic = httpx.get(f"{server.url}/sandbox/v1/checkout/sessions", auth=(server.sandbox_key, ""))
    assert basic.status_code == 200  # ``curl -u sk_test_...:``, as in Stripe's examples
    bare = httpx.get(f"{server.url}/sandbox/v1/checkout/sessions")
    assert bare.status_code == 401
    assert "did not provide an API key" in bare.json()["error"]["message"]
    missing = _client(server)
    with pytest.raises(stripe.InvalidRequestError) as error:
        missing.v1.checkout.sessions.retrieve("cs_test_nope")
    assert error.value.http_status == 404 and error.value.code == "resource_missing"


def test_deliveries_verify_with_the_sdk(make_server: Any) -> None:
    with FlakyReceiver(failures=0) as receiver:
        server = make_server(sandbox_webhook_url=receiver.url)
        receiver.forward_to = f"{server.url}/v1/webhooks/stripe"
        session = _client(server).v1.checkout.sessions.create(_session_params())
        submit_card(session.url)
        wait_until(lambda: len(receiver.received) == 4)
    events = [
        stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], WEBHOOK_SECRET)
        for _, headers, body, _ in receiver.received
    ]
    assert sorted(e.type for e in events) == [
        "charge.succeeded",
        "checkout.session.completed",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    [event] = [e for e in events if e.type == "checkout.session.completed"]
    assert event.data.object.id == session.id
    assert event.data.object.payment_status == "paid"
    assert event.data.object.customer_details.email == "buyer@example.com"
