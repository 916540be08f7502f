"""Webhook endpoints, the delivery log, the hosted page's shipping form, and state kept on disk."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe

from tests.support.flows import submit_card
from tests.support.receiver import Inbox
from tests.support.sdk import client as _client
from tests.support.server import RunningServer, wait_until

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database


def _pay_intent(client: stripe.StripeClient, **extra: Any) -> stripe.PaymentIntent:
    params: Any = {"amount": 1200, "currency": "usd", "payment_method": "pm_card_visa"}
    return client.v1.payment_intents.create(params | {"confirm": True} | extra)


def _session(client: stripe.StripeClient, **extra: Any) -> stripe.checkout.Session:
    params: Any = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "gbp",
                    "unit_amount": 1500,
                    "product_data": {"name": "Poster"},
                },
            }
        ],
        "success_url": "https://shop.example/ok",
    }
    return client.v1.checkout.sessions.create(params | extra)


def test_an_endpoint_gets_only_its_events_signed_with_its_own_secret(
    server: RunningServer,
) -> None:
    client = _client(server)
    with Inbox() as inbox:
        endpoint = client.v1.webhook_endpoints.create(
            {"url": inbox.url, "enabled_events": ["payment_intent.succeeded", "charge.refunded"]}
        )
        assert endpoint.secret.startswith("whsec_") and endpoint.status == "enabled"
        intent = _pay_intent(client)
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 200})
        wait_until(lambda: len(inbox.received) == 2)
    assert sorted(inbox.types()) == ["charge.refunded", "payment_intent.succeeded"]
    for headers, body, _ in inbox.received:
        event = stripe.Webhook.construct_event(
            body.decode(), headers["Stripe-Signature"], endpoint.secret
        )
        assert event.data.object.id in (intent.id, intent.latest_charge)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                body.decode(), headers["Stripe-Signature"], "whsec_someone_else"
            )
    fetched = client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in fetched.to_dict()  # shown once, on create
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]


def test_a_wildcard_endpoint_gets_everything_and_a_deleted_one_nothing(
    server: RunningServer,
) -> None:
    client = _client(server)
    with Inbox() as everything, Inbox() as gone:
        client.v1.webhook_endpoints.create({"url": everything.url, "enabled_events": ["*"]})
        doomed = client.v1.webhook_endpoints.create({"url": gone.url, "enabled_events": ["*"]})
        deleted = client.v1.webhook_endpoints.delete(doomed.id)
        assert deleted.deleted is True
        _pay_intent(client)
        wait_until(lambda: len(everything.received) == 3)
    assert sorted(everything.types()) == [
        "charge.succeeded",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    assert gone.received == []
    assert client.v1.webhook_endpoints.retrieve(doomed.id).deleted is True


def test_failed_deliveries_are_retried_and_logged(server: RunningServer) -> None:
    client = _client(server)
    with Inbox(statuses=(500, 503)) as inbox:
        endpoint = client.v1.webhook_endpoints.create(
            {"url": inbox.url, "enabled_events": ["payment_intent.succeeded"]}
        )
        intent = _pay_intent(client)
        wait_until(lambda: len(inbox.received) == 3, timeout=10)
    [event] = client.v1.events.list({"type": "payment_intent.succeeded"}).data
    log = httpx.get(
        f"{server.url}/sandbox/deliveries",
        params={"event": event.id, "webhook_endpoint": endpoint.id},
        headers={"Authorization": f"Bearer {server.sandbox_key}"},
    ).json()
    attempts = sorted(log["data"], key=lambda a: a["attempt"])
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert {a["webhook_endpoint"] for a in attempts} == {endpoint.id}
    assert event.data.object.id == intent.id
    # Stripe counts an event's pending webhooks down as its deliveries succeed.
    wait_until(lambda: client.v1.events.retrieve(event.id).pending_webhooks == 0)


def test_bad_endpoints_are_refused(server: RunningServer) -> None:
    client = _client(server)
    for params, param in (
        ({"enabled_events": ["*"]}, "url"),
        ({"url": "not a url", "enabled_events": ["*"]}, "url"),
        ({"url": "https://shop.example/hook"}, "enabled_events"),
        ({"url": "https://shop.example/hook", "enabled_events": ["nonsense"]}, "enabled_events"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as error:
            client.v1.webhook_endpoints.create(params)
        assert error.value.param == param
    assert client.v1.webhook_endpoints.list().data == []


def test_the_hosted_page_asks_for_a_shipping_address_and_records_it(
    server: RunningServer,
) -> None:
    client = _client(server)
    session = _session(
        client,
        shipping_address_collection={"allowed_countries": ["GB", "US"]},
        client_reference_id="order-77",
    )
    page = httpx.get(session.url)
    assert "Shipping address" in page.text and '<option value="GB"' in page.text
    refused = submit_card(session.url)  # no address
    assert refused.status_code == 400 and "shipping address" in refused.text
    abroad = submit_card(
        session.url,
        ship_name="Ada Lovelace",
        ship_line1="12 St James's Square",
        ship_city="London",
        ship_postal_code="SW1Y 4JH",
        ship_country="FR",
    )
    assert abroad.status_code == 400 and "ship to that country" in abroad.text
    paid = submit_card(
        session.url,
        ship_name="Ada Lovelace",
        ship_line1="12 St James's Square",
        ship_city="London",
        ship_postal_code="SW1Y 4JH",
        ship_country="GB",
    )
    assert paid.status_code == 303
    done = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent", "line_items"]}
    )
    assert done.status == "complete" and done.client_reference_id == "order-77"
    shipping = done.collected_information.shipping_details
    assert shipping.name == "Ada Lovelace"
    assert (shipping.address.country, shipping.address.postal_code) == ("GB", "SW1Y 4JH")
    assert done.payment_intent.status == "succeeded" and done.payment_intent.amount == 1500
    assert done.line_items.data[0].description == "Poster"
    found = client.v1.checkout.sessions.list({"payment_intent": done.payment_intent.id})
    assert [s.id for s in found.data] == [session.id]


def test_sessions_take_catalog_prices(server: RunningServer) -> None:
    client = _client(server)
    product = client.v1.products.create(
        {"name": "Hoodie", "default_price_data": {"currency": "eur", "unit_amount": 4500}}
    )
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": product.default_price, "quantity": 2}],
            "success_url": "https://shop.example/ok",
        }
    )
    assert (session.amount_total, session.currency) == (9000, "eur")
    [item] = client.v1.checkout.sessions.line_items.list(session.id).data
    assert (item.description, item.price.id) == ("Hoodie", product.default_price)
    client.v1.prices.update(product.default_price, {"active": False})
    with pytest.raises(stripe.InvalidRequestError) as inactive:
        _session(client, line_items=[{"price": product.default_price, "quantity": 1}])
    assert inactive.value.param == "line_items[0][price]"


def test_state_survives_a_restart(make_server: Any) -> None:
    first = make_server()
    client = _client(first)
    product = client.v1.products.create({"name": "Kept"})
    intent = _pay_intent(client)
    key = {"idempotency_key": "kept-across-restarts"}
    customer = client.v1.customers.create({"email": "kept@example.com"}, key)
    first.stop()
    again = _client(make_server())
    assert again.v1.products.retrieve(product.id).name == "Kept"
    assert again.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    replayed = again.v1.customers.create({"email": "kept@example.com"}, key)
    assert replayed.id == customer.id
    types = [e.type for e in again.v1.events.list({"limit": 100}).data]
    assert "payment_intent.succeeded" in types and "product.created" in types
    assert json.loads(json.dumps(again.v1.accounts.retrieve_current().to_dict()))["id"]
