"""PaymentIntents: created, confirmed (one charge per attempt), captured or cancelled."""

from __future__ import annotations

from typing import Any

from qrcheckout_sandbox import charges, methods, shapes
from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import StripeAPIError, invalid, new_id

PI_CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
PI_CANCELLABLE = ("requires_payment_method", "requires_capture", "requires_confirmation")
PI_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def create_payment_intent(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    amount, currency, customer = charges.payment_terms(ctx, params)
    intent_id = new_id("pi_")
    intent = shapes.blank(
        "payment_intent",
        id=intent_id,
        amount=amount,
        currency=currency,
        application_fee_amount=charges.requested_fee(ctx, params, amount),
        capture_method=p.choice(params, "capture_method", PI_CAPTURE_METHODS, "automatic"),
        client_secret=f"{intent_id}_secret_{new_id('', 25)}",
        created=ctx.now(),
        customer=customer["id"] if customer else None,
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
    instrument = methods.payment_method_for(ctx, ref)
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
    instrument = methods.payment_method_for(ctx, intent["payment_method"])
    manual = intent["capture_method"] == "manual"
    charge = charges.charge_card(
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
        error = charges.card_error(
            decline, charge=charge["id"], payment_method=instrument.payment_method
        )
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
    charges.record_capture(ctx, charge, amount)
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
        charges.refund_charge(
            ctx, charge, charge["amount"], reason="requested_by_customer", metadata={}
        )
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
