"""The sandbox's catalog, customers, tokens, PaymentIntents, charges, refunds and events.

Every call goes through the official stripe SDK, and every assertion is Stripe's own behaviour:
what a Stripe user would see calling api.stripe.com in test mode.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe

from tests.support.sdk import client as _client
from tests.support.server import RunningServer

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database


def _intent(client: stripe.StripeClient, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create({"amount": 2000, "currency": "usd", **params})


def _paid_intent(client: stripe.StripeClient, amount: int = 2000) -> stripe.PaymentIntent:
    return _intent(client, amount=amount, payment_method="pm_card_visa", confirm=True)


def _charge(client: stripe.StripeClient, **params: Any) -> stripe.Charge:
    return client.v1.charges.create({"amount": 1500, "currency": "usd", **params})


def _types(client: stripe.StripeClient) -> list[str]:
    return [e.type for e in client.v1.events.list({"limit": 100}).data]


# -- products and prices -----------------------------------------------------------------------


def test_product_with_default_price_data_gets_its_default_price(server: RunningServer) -> None:
    client = _client(server)
    product = client.v1.products.create(
        {"name": "Matcha", "default_price_data": {"currency": "jpy", "unit_amount": 500}}
    )
    assert product.id.startswith("prod_") and product.object == "product"
    assert product.name == "Matcha" and product.active is True
    assert isinstance(product.default_price, str) and product.default_price.startswith("price_")
    price = client.v1.prices.retrieve(product.default_price)
    assert (price.product, price.currency, price.unit_amount) == (product.id, "jpy", 500)
    assert price.type == "one_time" and price.active is True
    assert client.v1.products.retrieve(product.id).default_price == price.id


def test_price_with_product_data_creates_its_product(server: RunningServer) -> None:
    client = _client(server)
    price = client.v1.prices.create(
        {"currency": "usd", "unit_amount": 1250, "product_data": {"name": "Hojicha"}}
    )
    assert price.id.startswith("price_") and price.object == "price"
    assert price.unit_amount == 1250 and price.unit_amount_decimal == Decimal("1250")
    product = client.v1.products.retrieve(str(price.product))
    assert product.name == "Hojicha"


def test_product_list_pages_with_cursors_and_has_more(server: RunningServer) -> None:
    client = _client(server)
    made = [client.v1.products.create({"name": f"Tea {i}"}).id for i in range(5)]
    newest_first = made[::-1]
    first = client.v1.products.list({"limit": 2})
    assert [p.id for p in first.data] == newest_first[:2] and first.has_more is True
    second = client.v1.products.list({"limit": 2, "starting_after": first.data[-1].id})
    assert [p.id for p in second.data] == newest_first[2:4] and second.has_more is True
    last = client.v1.products.list({"limit": 2, "starting_after": second.data[-1].id})
    assert [p.id for p in last.data] == newest_first[4:] and last.has_more is False
    back = client.v1.products.list({"limit": 2, "ending_before": second.data[0].id})
    assert [p.id for p in back.data] == newest_first[:2]


def test_product_list_filters_by_active(server: RunningServer) -> None:
    client = _client(server)
    shown = client.v1.products.create({"name": "Sencha"})
    hidden = client.v1.products.create({"name": "Bancha", "active": False})
    assert [p.id for p in client.v1.products.list({"active": True}).data] == [shown.id]
    assert [p.id for p in client.v1.products.list({"active": False}).data] == [hidden.id]


def test_price_list_filters_by_product_and_active(server: RunningServer) -> None:
    client = _client(server)
    tea = client.v1.products.create({"name": "Genmaicha"})
    other = client.v1.products.create({"name": "Kukicha"})
    live = client.v1.prices.create({"product": tea.id, "currency": "usd", "unit_amount": 100})
    old = client.v1.prices.create(
        {"product": tea.id, "currency": "usd", "unit_amount": 90, "active": False}
    )
    client.v1.prices.create({"product": other.id, "currency": "usd", "unit_amount": 300})
    by_product = client.v1.prices.list({"product": tea.id})
    assert [p.id for p in by_product.data] == [old.id, live.id]
    active = client.v1.prices.list({"product": tea.id, "active": True})
    assert [p.id for p in active.data] == [live.id]


@pytest.mark.parametrize(
    ("resource", "params", "param"),
    [
        ("products", {"description": "no name"}, "name"),
        (
            "prices",
            {"product_data": {"name": "x"}, "unit_amount": 100, "currency": "xyz"},
            "currency",
        ),
        (
            "prices",
            {"product_data": {"name": "x"}, "unit_amount": 100, "currency": "dollars"},
            "currency",
        ),
        ("prices", {"product": "prod_nope", "unit_amount": 100, "currency": "usd"}, "product"),
    ],
    ids=["product-without-name", "unknown-currency", "malformed-currency", "unknown-product"],
)
def test_bad_catalog_params_name_the_param(
    server: RunningServer, resource: str, params: dict[str, Any], param: str
) -> None:
    service = getattr(_client(server).v1, resource)
    with pytest.raises(stripe.InvalidRequestError) as error:
        service.create(params)
    assert error.value.param == param
    assert error.value.user_message


# -- customers ---------------------------------------------------------------------------------


def test_customer_created_with_tok_visa_has_a_default_card(server: RunningServer) -> None:
    client = _client(server)
    customer = client.v1.customers.create({"email": "a@example.com", "source": "tok_visa"})
    assert customer.id.startswith("cus_") and customer.object == "customer"
    assert isinstance(customer.default_source, str)
    assert customer.default_source.startswith("card_")
    fetched = client.v1.customers.retrieve(customer.id)
    assert fetched.email == "a@example.com" and fetched.default_source == customer.default_source


def test_customer_list_filters_by_email(server: RunningServer) -> None:
    client = _client(server)
    wanted = client.v1.customers.create({"email": "wanted@example.com"})
    client.v1.customers.create({"email": "other@example.com"})
    found = client.v1.customers.list({"email": "wanted@example.com"})
    assert [c.id for c in found.data] == [wanted.id]


def test_customer_update_changes_fields_and_merges_metadata(server: RunningServer) -> None:
    client = _client(server)
    customer = client.v1.customers.create({"name": "Aiko", "metadata": {"tier": "gold"}})
    updated = client.v1.customers.update(
        customer.id, {"name": "Aiko Sato", "email": "aiko@example.com", "metadata": {"vip": "1"}}
    )
    assert updated.name == "Aiko Sato" and updated.email == "aiko@example.com"
    assert updated.metadata.to_dict() == {"tier": "gold", "vip": "1"}
    assert client.v1.customers.retrieve(customer.id).name == "Aiko Sato"


def test_deleted_customer_retrieves_as_deleted(server: RunningServer) -> None:
    client = _client(server)
    customer = client.v1.customers.create({"email": "gone@example.com"})
    gone = client.v1.customers.delete(customer.id)
    assert gone.id == customer.id and gone.deleted is True
    again = client.v1.customers.retrieve(customer.id)
    assert again.id == customer.id and again.to_dict().get("deleted") is True


# -- tokens ------------------------------------------------------------------------------------

_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}


def test_token_from_card_details_describes_the_card(server: RunningServer) -> None:
    token = _client(server).v1.tokens.create({"card": _CARD})
    assert token.id.startswith("tok_") and token.object == "token" and token.type == "card"
    assert token.used is False
    card = token.card
    assert card is not None
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("Visa", "4242", 12, 2040)


def test_token_with_bad_card_number_is_incorrect_number(server: RunningServer) -> None:
    with pytest.raises(stripe.CardError) as error:
        _client(server).v1.tokens.create({"card": _CARD | {"number": "4242424242424241"}})
    assert error.value.code == "incorrect_number"
    assert error.value.http_status == 402


def test_token_cannot_be_charged_twice(server: RunningServer) -> None:
    client = _client(server)
    token = client.v1.tokens.create({"card": _CARD})
    assert _charge(client, source=token.id).paid is True
    with pytest.raises(stripe.InvalidRequestError) as error:
        _charge(client, source=token.id)
    assert "more than once" in error.value.user_message


# -- PaymentIntents ----------------------------------------------------------------------------


def test_intent_without_payment_method_requires_one(server: RunningServer) -> None:
    intent = _intent(_client(server))
    assert intent.id.startswith("pi_") and intent.object == "payment_intent"
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.latest_charge is None and intent.amount_received == 0


def test_intent_confirmed_later_with_pm_card_visa_succeeds(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    done = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.amount_received == 2000
    assert isinstance(done.latest_charge, str) and done.latest_charge.startswith("ch_")
    charge = client.v1.charges.retrieve(done.latest_charge)
    assert charge.payment_intent == intent.id and charge.amount == 2000 and charge.paid is True


def test_intent_created_with_confirm_true_succeeds_at_once(server: RunningServer) -> None:
    intent = _paid_intent(_client(server), amount=3100)
    assert intent.status == "succeeded" and intent.amount_received == 3100
    assert intent.payment_method is not None and intent.last_payment_error is None


def test_manual_capture_holds_then_captures_in_full(server: RunningServer) -> None:
    client = _client(server)
    held = _intent(client, payment_method="pm_card_visa", confirm=True, capture_method="manual")
    assert held.status == "requires_capture"
    assert held.amount_capturable == 2000 and held.amount_received == 0
    captured = client.v1.payment_intents.capture(held.id)
    assert captured.status == "succeeded"
    assert captured.amount_received == 2000 and captured.amount_capturable == 0
    charge = client.v1.charges.retrieve(str(captured.latest_charge))
    assert charge.captured is True and charge.amount_captured == 2000


def test_partial_capture_receives_the_amount_to_capture(server: RunningServer) -> None:
    client = _client(server)
    held = _intent(client, payment_method="pm_card_visa", confirm=True, capture_method="manual")
    captured = client.v1.payment_intents.capture(held.id, {"amount_to_capture": 1200})
    assert captured.status == "succeeded" and captured.amount_received == 1200
    charge = client.v1.charges.retrieve(str(captured.latest_charge))
    assert charge.amount == 2000 and charge.amount_captured == 1200 and charge.captured is True


def test_cancel_sets_status_and_cancellation_reason(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    canceled = client.v1.payment_intents.cancel(
        intent.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert isinstance(canceled.canceled_at, int)


def test_confirming_a_canceled_intent_is_unexpected_state(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    client.v1.payment_intents.cancel(intent.id)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert error.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.retrieve(intent.id).status == "canceled"


@pytest.mark.parametrize(
    ("payment_method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
def test_declined_confirm_is_card_error_carrying_the_intent(
    server: RunningServer, payment_method: str, decline_code: str
) -> None:
    client = _client(server)
    intent = _intent(client)
    with pytest.raises(stripe.CardError) as error:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": payment_method})
    assert error.value.http_status == 402 and error.value.code == "card_declined"
    assert error.value.error is not None
    assert error.value.error.decline_code == decline_code
    carried = error.value.error.payment_intent
    assert carried is not None and carried.id == intent.id
    assert carried.status == "requires_payment_method"
    assert carried.last_payment_error is not None
    assert carried.last_payment_error.decline_code == decline_code
    stored = client.v1.payment_intents.retrieve(intent.id)
    assert stored.status == "requires_payment_method" and stored.last_payment_error is not None


def test_declined_intent_succeeds_with_another_card(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})
    done = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert done.status == "succeeded" and done.amount_received == 2000
    assert done.last_payment_error is None


# -- charges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "brand"), [("tok_visa", "visa"), ("tok_mastercard", "mastercard")]
)
def test_charge_with_a_test_token_succeeds(server: RunningServer, source: str, brand: str) -> None:
    charge = _charge(_client(server), source=source)
    assert charge.id.startswith("ch_") and charge.object == "charge"
    assert charge.paid is True and charge.captured is True and charge.status == "succeeded"
    assert charge.amount == 1500 and charge.amount_captured == 1500
    details = charge.payment_method_details
    assert details is not None and details.card is not None and details.card.brand == brand


def test_charge_to_a_customer_uses_the_saved_card(server: RunningServer) -> None:
    client = _client(server)
    customer = client.v1.customers.create({"source": "tok_mastercard"})
    charge = _charge(client, customer=customer.id)
    assert charge.paid is True and charge.customer == customer.id
    assert charge.payment_method == customer.default_source
    details = charge.payment_method_details
    assert details is not None and details.card is not None and details.card.brand == "mastercard"


def test_declined_charge_is_card_error_and_retrievable(server: RunningServer) -> None:
    client = _client(server)
    with pytest.raises(stripe.CardError) as error:
        _charge(client, source="tok_chargeDeclined")
    assert error.value.code == "card_declined"
    assert error.value.error is not None and error.value.error.decline_code == "generic_decline"
    body = error.value.json_body
    assert isinstance(body, dict)
    failed = client.v1.charges.retrieve(body["error"]["charge"])
    assert failed.status == "failed" and failed.paid is False and failed.captured is False
    assert failed.failure_code == "card_declined"
    assert failed.outcome is not None and failed.outcome.reason == "generic_decline"


def test_uncaptured_charge_is_captured_later(server: RunningServer) -> None:
    client = _client(server)
    held = _charge(client, source="tok_visa", capture=False)
    assert held.status == "succeeded" and held.paid is True
    assert held.captured is False and held.amount_captured == 0
    captured = client.v1.charges.capture(held.id)
    assert captured.captured is True and captured.amount_captured == 1500


# -- refunds -----------------------------------------------------------------------------------


def test_full_refund_by_charge(server: RunningServer) -> None:
    client = _client(server)
    charge = _charge(client, source="tok_visa")
    refund = client.v1.refunds.create({"charge": charge.id})
    assert refund.id.startswith("re_") and refund.object == "refund"
    assert refund.amount == 1500 and refund.status == "succeeded" and refund.charge == charge.id
    after = client.v1.charges.retrieve(charge.id)
    assert after.amount_refunded == 1500 and after.refunded is True


def test_full_refund_by_payment_intent(server: RunningServer) -> None:
    client = _client(server)
    intent = _paid_intent(client)
    refund = client.v1.refunds.create({"payment_intent": intent.id})
    assert refund.amount == 2000 and refund.payment_intent == intent.id
    assert refund.charge == intent.latest_charge
    after = client.v1.charges.retrieve(str(intent.latest_charge))
    assert after.amount_refunded == 2000 and after.refunded is True


def test_partial_refunds_add_up_then_another_is_refused(server: RunningServer) -> None:
    client = _client(server)
    charge = _charge(client, source="tok_visa")
    client.v1.refunds.create({"charge": charge.id, "amount": 500})
    midway = client.v1.charges.retrieve(charge.id)
    assert midway.amount_refunded == 500 and midway.refunded is False
    client.v1.refunds.create({"charge": charge.id, "amount": 1000})
    done = client.v1.charges.retrieve(charge.id)
    assert done.amount_refunded == 1500 and done.refunded is True
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert error.value.code in ("amount_too_large", "charge_already_refunded")


def test_refund_over_the_remaining_amount_is_refused(server: RunningServer) -> None:
    client = _client(server)
    charge = _charge(client, source="tok_visa")
    client.v1.refunds.create({"charge": charge.id, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.refunds.create({"charge": charge.id, "amount": 501})
    assert error.value.code == "amount_too_large" and error.value.param == "amount"
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 1000


def test_refunds_list_filters_by_charge(server: RunningServer) -> None:
    client = _client(server)
    charge = _charge(client, source="tok_visa")
    other = _charge(client, source="tok_visa")
    first = client.v1.refunds.create({"charge": charge.id, "amount": 100})
    second = client.v1.refunds.create({"charge": charge.id, "amount": 200})
    client.v1.refunds.create({"charge": other.id})
    listed = client.v1.refunds.list({"charge": charge.id})
    assert [r.id for r in listed.data] == [second.id, first.id]


def test_zero_decimal_jpy_amounts_are_exact(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(
        client, amount=1234, currency="jpy", payment_method="pm_card_visa", confirm=True
    )
    assert intent.amount == 1234 and intent.amount_received == 1234 and intent.currency == "jpy"
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 567})
    assert refund.amount == 567 and refund.currency == "jpy"
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount, charge.amount_refunded, charge.currency) == (1234, 567, "jpy")


# -- events ------------------------------------------------------------------------------------


def test_confirmed_intent_emits_its_events_as_things_were(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    events = {e.type: e for e in client.v1.events.list({"limit": 100}).data}
    assert {"payment_intent.created", "charge.succeeded", "payment_intent.succeeded"} <= set(events)
    created = events["payment_intent.created"].data.object
    assert created["id"] == intent.id
    assert created["status"] in ("requires_payment_method", "requires_confirmation")
    assert created["latest_charge"] is None
    succeeded = events["payment_intent.succeeded"].data.object
    assert succeeded["status"] == "succeeded" and succeeded["amount_received"] == 2000
    charge = events["charge.succeeded"].data.object
    assert charge["payment_intent"] == intent.id and charge["paid"] is True


def test_refund_emits_refund_created_and_charge_refunded(server: RunningServer) -> None:
    client = _client(server)
    charge = _charge(client, source="tok_visa")
    refund = client.v1.refunds.create({"charge": charge.id})
    events = {e.type: e for e in client.v1.events.list({"limit": 100}).data}
    assert events["refund.created"].data.object["id"] == refund.id
    refunded = events["charge.refunded"].data.object
    assert refunded["id"] == charge.id and refunded["refunded"] is True
    assert refunded["amount_refunded"] == 1500


def test_declined_intent_emits_charge_failed_and_payment_failed(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})
    events = {e.type: e for e in client.v1.events.list({"limit": 100}).data}
    failed = events["payment_intent.payment_failed"].data.object
    assert failed["id"] == intent.id and failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["decline_code"] == "generic_decline"
    charge = events["charge.failed"].data.object
    assert charge["payment_intent"] == intent.id and charge["status"] == "failed"
    assert "payment_intent.succeeded" not in events


def test_event_carries_the_idempotency_key_and_retrieves_by_id(server: RunningServer) -> None:
    client = _client(server)
    intent = client.v1.payment_intents.create(
        {"amount": 700, "currency": "usd"}, {"idempotency_key": "k1"}
    )
    [event] = client.v1.events.list({"type": "payment_intent.created"}).data
    assert event.data.object["id"] == intent.id
    assert event.request is not None and event.request.idempotency_key == "k1"
    fetched = client.v1.events.retrieve(event.id)
    assert fetched.id == event.id and fetched.type == "payment_intent.created"
    assert fetched.data.object["id"] == intent.id


def test_event_request_id_is_the_request_id_of_the_call(server: RunningServer) -> None:
    client = _client(server)
    intent = _intent(client)
    assert intent.last_response is not None
    [event] = client.v1.events.list({"type": "payment_intent.created"}).data
    assert event.request is not None
    assert event.request.id == intent.last_response.request_id


def test_events_list_filters_by_type(server: RunningServer) -> None:
    client = _client(server)
    _paid_intent(client)
    _paid_intent(client)
    _charge(client, source="tok_visa")
    succeeded = client.v1.events.list({"type": "charge.succeeded"}).data
    assert len(succeeded) == 3 and {e.type for e in succeeded} == {"charge.succeeded"}
    assert len(client.v1.events.list({"type": "payment_intent.succeeded"}).data) == 2


# -- idempotency -------------------------------------------------------------------------------


def test_same_key_and_params_replay_without_a_second_charge(server: RunningServer) -> None:
    client = _client(server)
    params = {"amount": 900, "currency": "usd", "source": "tok_visa"}
    first = client.v1.charges.create(params, {"idempotency_key": "order-7"})
    replay = client.v1.charges.create(params, {"idempotency_key": "order-7"})
    assert replay.id == first.id and replay.to_dict() == first.to_dict()
    assert replay.last_response is not None
    assert replay.last_response.headers.get("idempotent-replayed") == "true"
    assert [c.id for c in client.v1.charges.list().data] == [first.id]
    assert _types(client).count("charge.succeeded") == 1


def test_same_key_with_other_params_is_an_idempotency_error(server: RunningServer) -> None:
    client = _client(server)
    client.v1.charges.create(
        {"amount": 900, "currency": "usd", "source": "tok_visa"}, {"idempotency_key": "order-8"}
    )
    with pytest.raises(stripe.IdempotencyError) as error:
        client.v1.charges.create(
            {"amount": 901, "currency": "usd", "source": "tok_visa"}, {"idempotency_key": "order-8"}
        )
    assert "order-8" in error.value.user_message
    assert len(client.v1.charges.list().data) == 1


# -- expand[] ----------------------------------------------------------------------------------


def test_expand_latest_charge_on_retrieve(server: RunningServer) -> None:
    client = _client(server)
    intent = _paid_intent(client)
    expanded = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
    charge = expanded.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.id == intent.latest_charge and charge.amount == 2000


def test_expand_data_latest_charge_on_a_list(server: RunningServer) -> None:
    client = _client(server)
    intents = [_paid_intent(client), _paid_intent(client)]
    listed = client.v1.payment_intents.list({"expand": ["data.latest_charge"]})
    charges = [i.latest_charge for i in listed.data]
    assert all(isinstance(c, stripe.Charge) for c in charges)
    assert [c.id for c in charges if isinstance(c, stripe.Charge)] == [
        i.latest_charge for i in reversed(intents)
    ]


def test_expanding_an_unknown_field_is_refused(server: RunningServer) -> None:
    client = _client(server)
    intent = _paid_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.retrieve(intent.id, {"expand": ["no_such_field"]})
    assert error.value.param == "expand" and error.value.http_status == 400


# -- pagination --------------------------------------------------------------------------------


def test_pages_of_ten_cover_twenty_five_intents_newest_first(server: RunningServer) -> None:
    client = _client(server)
    made = [_intent(client, amount=100 + i).id for i in range(25)]
    seen: list[str] = []
    more: list[bool] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 10} | ({"starting_after": after} if after else {})
        page = client.v1.payment_intents.list(params)
        seen += [i.id for i in page.data]
        more.append(page.has_more)
        if not page.has_more:
            break
        after = page.data[-1].id
    assert seen == made[::-1]
    assert more == [True, True, False]


def test_auto_paging_iter_yields_every_intent(server: RunningServer) -> None:
    client = _client(server)
    made = {_intent(client, amount=100 + i).id for i in range(25)}
    walked = [i.id for i in client.v1.payment_intents.list({"limit": 10}).auto_paging_iter()]
    assert len(walked) == 25 and set(walked) == made


def test_unknown_payment_method_types_are_refused(server: RunningServer) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        _client(server).v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method_types": ["bogus"]}  # type: ignore[typeddict-unknown-key]
        )
    assert error.value.param == "payment_method_types"
