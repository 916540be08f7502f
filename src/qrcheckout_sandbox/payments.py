"""Cards, customers, PaymentMethods, PaymentIntents, Charges and Refunds, as Stripe runs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox import shapes
from qrcheckout_sandbox.cards import Card, Decline, luhn_ok, test_card
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import StripeAPIError, invalid, missing, new_id, no_such

PI_CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
PI_CANCELLABLE = ("requires_payment_method", "requires_capture", "requires_confirmation")
PI_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass(frozen=True)
class Instrument:
    """What pays: the card, and the PaymentMethod or source object that carries it."""

    card: Card
    payment_method: dict[str, Any] | None = None
    source: dict[str, Any] | None = None


def card_error(decline: Decline, **fields: Any) -> StripeAPIError:
    return StripeAPIError(
        402,
        decline.message,
        type="card_error",
        code=decline.code,
        decline_code=decline.decline_code,
        **fields,
    )


# -- cards from parameters ---------------------------------------------------------------------


def card_from_params(raw: dict[str, Any], prefix: str = "card") -> Card:
    """A card typed into the API (``card[number]``, ...), refused as Stripe refuses it."""
    number = "".join(ch for ch in str(raw.get("number") or "") if ch not in " -")
    if not number:
        raise missing(f"{prefix}[number]")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise StripeAPIError(
            402,
            "Your card number is incorrect.",
            type="card_error",
            code="incorrect_number",
            param=f"{prefix}[number]",
        )
    month = p.integer(raw, "exp_month", low=1, high=12, required=True, param=f"{prefix}[exp_month]")
    year = p.integer(raw, "exp_year", low=0, high=9999, required=True, param=f"{prefix}[exp_year]")
    assert month is not None and year is not None
    year = year + 2000 if year < 100 else year
    today = date.today()
    if (year, month) < (today.year, today.month):
        raise StripeAPIError(
            402,
            "Your card's expiration year is invalid.",
            type="card_error",
            code="invalid_expiry_year",
            param=f"{prefix}[exp_year]",
        )
    cvc = str(raw.get("cvc") or "123")
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise StripeAPIError(
            402,
            "Your card's security code is invalid.",
            type="card_error",
            code="invalid_cvc",
            param=f"{prefix}[cvc]",
        )
    return Card(number, month, year, cvc)


def _stored_card(ctx: Ctx, object_id: str) -> Card:
    extra = ctx.store.extra(object_id)
    return Card(extra["number"], extra["exp_month"], extra["exp_year"], "123")


def _card_extra(card: Card) -> dict[str, Any]:
    return {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year}


def card_object(card: Card, *, customer: str | None = None) -> dict[str, Any]:
    return shapes.card(id=new_id("card_"), customer=customer, **card.as_dict())


# -- tokens and PaymentMethods -----------------------------------------------------------------


def create_token(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    raw = params.get("card")
    if not isinstance(raw, dict):
        raise missing("card")
    card = card_from_params(raw)
    shown = card_object(card)
    del shown["customer"]
    shown["networks"] = {"preferred": None}
    token = shapes.blank("token", id=new_id("tok_"), card=shown, created=ctx.now(), type="card")
    return ctx.add("token", token, **_card_extra(card))


def create_payment_method(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if p.text(params, "type", required=True) != "card":
        raise invalid("type", "The sandbox supports payment methods of type card.")
    raw = p.nested(params, "card")
    if raw.get("token"):
        card = _token_card(ctx, str(raw["token"]), "card[token]")
    else:
        card = card_from_params(raw)
    billing = p.nested(params, "billing_details")
    return new_payment_method(
        ctx, card, billing_email=p.text(billing, "email"), billing_name=p.text(billing, "name")
    )


def new_payment_method(
    ctx: Ctx,
    card: Card,
    *,
    customer: str | None = None,
    billing_email: str | None = None,
    billing_name: str | None = None,
) -> dict[str, Any]:
    method = shapes.blank(
        "payment_method",
        id=new_id("pm_"),
        type="card",
        card=shapes.payment_method_card(**card.as_dict()),
        billing_details=shapes.billing_details(email=billing_email, name=billing_name),
        created=ctx.now(),
        customer=customer,
    )
    return ctx.add("payment_method", method, **_card_extra(card))


def attach_payment_method(ctx: Ctx, params: dict[str, Any], method_id: str) -> dict[str, Any]:
    method = ctx.get("payment_method", method_id)
    customer = ctx.get("customer", p.text(params, "customer", required=True), "customer")
    method["customer"] = customer["id"]
    ctx.emit("payment_method.attached", method)
    return method


def detach_payment_method(ctx: Ctx, params: dict[str, Any], method_id: str) -> dict[str, Any]:
    method = ctx.get("payment_method", method_id)
    if method["customer"] is None:
        raise invalid(
            "payment_method",
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
        )
    method["customer"] = None
    ctx.emit("payment_method.detached", method)
    return method


def _token_card(ctx: Ctx, token_id: str, param: str) -> Card:
    magic = test_card(token_id.removeprefix("tok_"), date.today())
    if token_id.startswith("tok_") and magic is not None:
        return magic
    token = ctx.get("token", token_id, param)
    if token["used"]:
        raise invalid(param, f"You cannot use a Stripe token more than once: {token_id}.")
    token["used"] = True
    ctx.saved(token)
    return _stored_card(ctx, token_id)


def payment_method_for(ctx: Ctx, ref: str, param: str = "payment_method") -> Instrument:
    """``pm_card_visa``, a stored ``pm_`` or a customer's ``card_``, as a PaymentMethod."""
    if ref.startswith("pm_card_"):
        magic = test_card(ref.removeprefix("pm_card_"), date.today())
        if magic is None:
            raise no_such("PaymentMethod", ref, param)
        return Instrument(magic, payment_method=new_payment_method(ctx, magic))
    if ref.startswith("card_"):
        source = ctx.get("card", ref, param)
        return Instrument(_stored_card(ctx, ref), source=source)
    method = ctx.store.get("payment_method", ref, ctx.account)
    if method is None:
        raise no_such("PaymentMethod", ref, param)
    return Instrument(_stored_card(ctx, ref), payment_method=method)


def source_for(ctx: Ctx, ref: str, customer: dict[str, Any] | None) -> Instrument:
    """A legacy charge's ``source``: a token (used once) or a customer's saved card."""
    if ref.startswith("tok_"):
        card = _token_card(ctx, ref, "source")
        return Instrument(card, source=card_object(card))
    if ref.startswith("card_"):
        source = ctx.get("card", ref, "source")
        if customer is None or source["customer"] != customer["id"]:
            raise invalid(
                "source",
                f"Customer {customer['id'] if customer else ''} does not have a linked source "
                f"with ID {ref}.",
            )
        return Instrument(_stored_card(ctx, ref), source=source)
    if ref.startswith("pm_"):
        return payment_method_for(ctx, ref, "source")
    raise no_such("source", ref, "source")


# -- customers ---------------------------------------------------------------------------------


def create_customer(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    customer = shapes.blank(
        "customer", id=new_id("cus_", 14), created=ctx.now(), invoice_prefix=new_id("", 8).upper()
    )
    ctx.add("customer", customer)
    _update_customer_fields(ctx, customer, params)
    ctx.emit("customer.created", customer)
    return customer


def update_customer(ctx: Ctx, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = ctx.get("customer", customer_id)
    _update_customer_fields(ctx, customer, params)
    ctx.emit("customer.updated", customer)
    return customer


def _update_customer_fields(ctx: Ctx, customer: dict[str, Any], params: dict[str, Any]) -> None:
    for name in ("email", "name", "description", "phone"):
        if name in params:
            customer[name] = p.text(params, name)
    customer["metadata"] = p.metadata(params, customer["metadata"])
    if params.get("source"):
        card = _token_card(ctx, str(params["source"]), "source")
        source = card_object(card, customer=customer["id"])
        ctx.add("card", source, **_card_extra(card))
        customer["default_source"] = source["id"]
    if params.get("payment_method"):
        method = payment_method_for(ctx, str(params["payment_method"])).payment_method
        if method is not None:
            method["customer"] = customer["id"]
            ctx.saved(method)


def delete_customer(ctx: Ctx, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = ctx.get("customer", customer_id)
    ctx.store.move(customer_id, "deleted_customer")
    ctx.emit("customer.deleted", customer)
    return {"id": customer_id, "object": "customer", "deleted": True}


# -- charges -----------------------------------------------------------------------------------


def _charge(
    ctx: Ctx,
    *,
    amount: int,
    currency: str,
    instrument: Instrument,
    capture: bool,
    customer: str | None,
    payment_intent: str | None,
    description: str | None,
    metadata: dict[str, Any],
    receipt_email: str | None,
    application_fee_amount: int | None,
) -> dict[str, Any]:
    """One attempt on the card: a ``succeeded`` or ``failed`` charge, and its event."""
    card = instrument.card
    decline = card.decline
    method = instrument.payment_method
    charge = shapes.blank(
        "charge",
        id=new_id("ch_"),
        amount=amount,
        amount_captured=amount if capture and decline is None else 0,
        application_fee_amount=application_fee_amount,
        billing_details=(method or {}).get("billing_details") or shapes.billing_details(),
        captured=capture and decline is None,
        created=ctx.now(),
        currency=currency,
        customer=customer,
        description=description,
        failure_code=decline.code if decline else None,
        failure_message=decline.message if decline else None,
        metadata=metadata,
        outcome=shapes.outcome(
            decline_code=decline.decline_code if decline else None,
            failure_message=decline.message if decline else None,
        ),
        paid=decline is None,
        payment_intent=payment_intent,
        payment_method=method["id"] if method else (instrument.source or {}).get("id"),
        payment_method_details=shapes.charge_payment_method_details(**card.as_dict()),
        receipt_email=receipt_email,
        status="failed" if decline else "succeeded",
    )
    charge["refunds"]["url"] = f"/v1/charges/{charge['id']}/refunds"
    if "source" in charge and instrument.source is not None:
        charge["source"] = instrument.source
    if decline is None:
        charge["receipt_url"] = f"https://pay.stripe.com/receipts/{charge['id']}"
        if application_fee_amount and ctx.account is not None:
            charge["application_fee"] = _application_fee(ctx, charge, application_fee_amount)
    ctx.add("charge", charge)
    ctx.emit("charge.failed" if decline else "charge.succeeded", charge)
    return charge


def _application_fee(ctx: Ctx, charge: dict[str, Any], fee: int) -> str:
    """The platform's cut of a connected account's charge, kept on the platform's books."""
    record = shapes.blank(
        "application_fee",
        id=new_id("fee_"),
        account=ctx.account,
        amount=fee,
        charge=charge["id"],
        created=ctx.now(),
        currency=charge["currency"],
    )
    ctx.store.add("application_fee", record, None)
    ctx.engine.emit("application_fee.created", record, account=None, request_id=ctx.request_id)
    return str(record["id"])


def _fee(ctx: Ctx, params: dict[str, Any], amount: int) -> int | None:
    fee = p.integer(params, "application_fee_amount", high=amount)
    if fee is not None and ctx.account is None:
        raise invalid(
            "application_fee_amount",
            "Can only apply an application_fee_amount when the request is made on behalf of "
            "another account (using an OAuth key or the Stripe-Account header).",
        )
    return fee


def create_charge(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    amount = p.amount(params, "amount")
    if amount < 1:
        raise invalid("amount", "Amount must be at least 1.")
    currency = p.currency(params)
    customer = None
    if params.get("customer"):
        customer = ctx.get("customer", params["customer"], "customer")
    ref = p.text(params, "source") or (customer or {}).get("default_source")
    if not ref:
        raise missing("source")
    instrument = source_for(ctx, str(ref), customer)
    charge = _charge(
        ctx,
        amount=amount,
        currency=currency,
        instrument=instrument,
        capture=p.boolean(params, "capture", True),
        customer=customer["id"] if customer else None,
        payment_intent=None,
        description=p.text(params, "description"),
        metadata=p.metadata(params),
        receipt_email=p.text(params, "receipt_email"),
        application_fee_amount=_fee(ctx, params, amount),
    )
    decline = instrument.card.decline
    if decline is not None:
        raise card_error(decline, charge=charge["id"])
    return charge


def capture_charge(ctx: Ctx, params: dict[str, Any], charge_id: str) -> dict[str, Any]:
    charge = ctx.get("charge", charge_id)
    if charge["captured"] or charge["status"] != "succeeded":
        raise StripeAPIError(
            400, f"Charge {charge_id} has already been captured.", code="charge_already_captured"
        )
    amount = p.integer(params, "amount", low=1, high=charge["amount"]) or charge["amount"]
    _capture(ctx, charge, amount)
    return charge


def _capture(ctx: Ctx, charge: dict[str, Any], amount: int) -> None:
    charge["captured"] = True
    charge["amount_captured"] = amount
    if amount < charge["amount"]:  # the rest of the authorization is released
        charge["amount_refunded"] = charge["amount"] - amount
    ctx.emit("charge.captured", charge)


# -- PaymentIntents ----------------------------------------------------------------------------


def create_payment_intent(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    amount = p.amount(params, "amount")
    if amount < 1:
        raise invalid("amount", "Amount must be at least 1.")
    currency = p.currency(params)
    customer = None
    if params.get("customer"):
        customer = ctx.get("customer", params["customer"], "customer")["id"]
    intent_id = new_id("pi_")
    intent = shapes.blank(
        "payment_intent",
        id=intent_id,
        amount=amount,
        currency=currency,
        application_fee_amount=_fee(ctx, params, amount),
        capture_method=p.choice(params, "capture_method", PI_CAPTURE_METHODS, "automatic"),
        client_secret=f"{intent_id}_secret_{new_id('', 25)}",
        created=ctx.now(),
        customer=customer,
        description=p.text(params, "description"),
        metadata=p.metadata(params),
        payment_method_types=_method_types(params),
        receipt_email=p.text(params, "receipt_email"),
    )
    if p.nested(params, "automatic_payment_methods").get("enabled") in ("true", True):
        intent["automatic_payment_methods"] = {"allow_redirects": "always", "enabled": True}
    if params.get("payment_method"):
        _set_payment_method(ctx, intent, str(params["payment_method"]))
    ctx.add("payment_intent", intent)
    ctx.emit("payment_intent.created", intent)
    if p.boolean(params, "confirm"):
        return _confirm(ctx, intent)
    return intent


def _method_types(params: dict[str, Any]) -> list[str]:
    types = p.strings(params, "payment_method_types") or ["card"]
    for kind in types:
        if kind != "card":
            raise invalid(
                "payment_method_types",
                f"The payment method type provided: {kind} is invalid. The sandbox takes card.",
            )
    return types


def _set_payment_method(ctx: Ctx, intent: dict[str, Any], ref: str) -> None:
    instrument = payment_method_for(ctx, ref)
    holder = instrument.payment_method or instrument.source or {}
    intent["payment_method"] = holder["id"]
    intent["status"] = "requires_confirmation"


def update_payment_intent(ctx: Ctx, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    intent = ctx.get("payment_intent", intent_id)
    if intent["status"] not in PI_CONFIRMABLE:
        raise _unexpected_state(intent, "update")
    if "amount" in params:
        intent["amount"] = p.amount(params, "amount")
    for name in ("description", "receipt_email"):
        if name in params:
            intent[name] = p.text(params, name)
    intent["metadata"] = p.metadata(params, intent["metadata"])
    if params.get("payment_method"):
        _set_payment_method(ctx, intent, str(params["payment_method"]))
    return ctx.saved(intent)


def confirm_payment_intent(ctx: Ctx, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    intent = ctx.get("payment_intent", intent_id)
    if intent["status"] not in PI_CONFIRMABLE:
        raise _unexpected_state(intent, "confirm")
    if params.get("payment_method"):
        _set_payment_method(ctx, intent, str(params["payment_method"]))
    if "receipt_email" in params:
        intent["receipt_email"] = p.text(params, "receipt_email")
    return _confirm(ctx, intent)


def _confirm(ctx: Ctx, intent: dict[str, Any]) -> dict[str, Any]:
    if intent["payment_method"] is None:
        raise StripeAPIError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "To confirm the PaymentIntent with a payment method, pass the `payment_method` "
            "parameter.",
            code="payment_intent_unexpected_state",
        )
    instrument = payment_method_for(ctx, intent["payment_method"])
    manual = intent["capture_method"] == "manual"
    charge = _charge(
        ctx,
        amount=intent["amount"],
        currency=intent["currency"],
        instrument=instrument,
        capture=not manual,
        customer=intent["customer"],
        payment_intent=intent["id"],
        description=intent["description"],
        metadata=intent["metadata"],
        receipt_email=intent["receipt_email"],
        application_fee_amount=intent["application_fee_amount"],
    )
    intent["latest_charge"] = charge["id"]
    decline = instrument.card.decline
    if decline is not None:
        error = card_error(decline, charge=charge["id"], payment_method=instrument.payment_method)
        intent["last_payment_error"] = dict(error.body)
        intent["status"] = "requires_payment_method"
        intent["payment_method"] = None
        ctx.emit("payment_intent.payment_failed", intent)
        error.body["payment_intent"] = intent
        raise error
    intent["last_payment_error"] = None
    if manual:
        intent["status"] = "requires_capture"
        intent["amount_capturable"] = intent["amount"]
        ctx.emit("payment_intent.amount_capturable_updated", intent)
    else:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        ctx.emit("payment_intent.succeeded", intent)
    return intent


def capture_payment_intent(ctx: Ctx, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    intent = ctx.get("payment_intent", intent_id)
    if intent["status"] != "requires_capture":
        raise _unexpected_state(intent, "capture")
    amount = p.integer(params, "amount_to_capture", low=1, high=intent["amount_capturable"])
    amount = amount or intent["amount_capturable"]
    charge = ctx.get("charge", intent["latest_charge"])
    _capture(ctx, charge, amount)
    intent["amount_capturable"] = 0
    intent["amount_received"] = amount
    intent["status"] = "succeeded"
    ctx.emit("payment_intent.succeeded", intent)
    return intent


def cancel_payment_intent(ctx: Ctx, params: dict[str, Any], intent_id: str) -> dict[str, Any]:
    intent = ctx.get("payment_intent", intent_id)
    if intent["status"] not in PI_CANCELLABLE:
        raise _unexpected_state(intent, "cancel")
    reason = params.get("cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise invalid("cancellation_reason", f"Invalid cancellation_reason: {reason}")
    if intent["status"] == "requires_capture":  # the authorization is released in full
        charge = ctx.get("charge", intent["latest_charge"])
        _refund(ctx, charge, charge["amount"], reason="requested_by_customer", metadata={})
        intent["amount_capturable"] = 0
    intent["status"] = "canceled"
    intent["canceled_at"] = ctx.now()
    intent["cancellation_reason"] = reason
    ctx.emit("payment_intent.canceled", intent)
    return intent


def _unexpected_state(intent: dict[str, Any], action: str) -> StripeAPIError:
    return StripeAPIError(
        400,
        f"You cannot {action} this PaymentIntent because it has a status of {intent['status']}.",
        code="payment_intent_unexpected_state",
        payment_intent=intent,
    )


# -- refunds -----------------------------------------------------------------------------------


def create_refund(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("charge"):
        charge = ctx.get("charge", params["charge"], "charge")
    elif params.get("payment_intent"):
        intent = ctx.get("payment_intent", params["payment_intent"], "payment_intent")
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise StripeAPIError(
                400,
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
            )
        charge = ctx.get("charge", intent["latest_charge"])
    else:
        raise StripeAPIError(
            400,
            "One of the following params should be provided for this request: "
            "payment_intent or charge.",
            code="parameter_missing",
        )
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise StripeAPIError(
            400,
            f"Charge {charge['id']} has not been captured; cancel it instead.",
            code="charge_not_refundable",
            param="charge",
        )
    left = charge["amount_captured"] - _refunded_of_captured(charge)
    if left <= 0:
        raise StripeAPIError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = p.integer(params, "amount", low=1) or left
    if amount > left:
        raise StripeAPIError(
            400,
            f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded amount "
            f"on charge ({left} {charge['currency']})",
            code="amount_too_large",
            param="amount",
        )
    reason = params.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid("reason", f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}")
    return _refund(ctx, charge, amount, reason=reason, metadata=p.metadata(params))


def _refunded_of_captured(charge: dict[str, Any]) -> int:
    """Refunds so far, less what was released uncaptured (a partial capture's remainder)."""
    return sum(r["amount"] for r in charge["refunds"]["data"] if r["status"] == "succeeded")


def _refund(
    ctx: Ctx, charge: dict[str, Any], amount: int, *, reason: str | None, metadata: dict[str, Any]
) -> dict[str, Any]:
    refund = shapes.blank(
        "refund",
        id=new_id("re_"),
        amount=amount,
        charge=charge["id"],
        created=ctx.now(),
        currency=charge["currency"],
        metadata=metadata,
        payment_intent=charge["payment_intent"],
        reason=reason,
        status="succeeded",
    )
    ctx.add("refund", refund)
    refunds = charge["refunds"]
    refunds["data"].insert(0, refund)
    charge["amount_refunded"] = charge["amount_refunded"] + amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    ctx.emit("refund.created", refund)
    ctx.emit("charge.refunded", charge)
    return refund
