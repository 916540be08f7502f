"""Charges (one attempt on a card each), their capture, and refunds, as Stripe runs them."""

from __future__ import annotations

from typing import Any

from qrcheckout_sandbox import methods, shapes
from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.cards import Decline
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.methods import Instrument
from qrcheckout_sandbox.objects import StripeAPIError, invalid, missing, new_id

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def card_error(decline: Decline, **fields: Any) -> StripeAPIError:
    return StripeAPIError(
        402,
        decline.message,
        type="card_error",
        code=decline.code,
        decline_code=decline.decline_code,
        **fields,
    )


# -- charges -----------------------------------------------------------------------------------


def charge_card(
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
        payment_method_details=shapes.charge_payment_method_details(card),
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
    record["refunds"]["url"] = f"/v1/application_fees/{record['id']}/refunds"
    ctx.store.add("application_fee", record, None)
    ctx.engine.emit("application_fee.created", record, account=None, request_id=ctx.request_id)
    return str(record["id"])


def requested_fee(
    ctx: Ctx,
    params: dict[str, Any],
    amount: int,
    *,
    param: str = "application_fee_amount",
    made: str = "the request is made",
) -> int | None:
    """The ``application_fee_amount`` asked for: only a call for a connected account may."""
    fee = p.integer(params, "application_fee_amount", high=amount, param=param)
    if fee is not None and ctx.account is None:
        raise invalid(
            param,
            f"Can only apply an application_fee_amount when {made} on behalf of "
            "another account (using an OAuth key or the Stripe-Account header).",
        )
    return fee


def payment_terms(ctx: Ctx, params: dict[str, Any]) -> tuple[int, str, dict[str, Any] | None]:
    """The ``amount`` (at least 1), ``currency`` and optional ``customer`` of a charge or
    PaymentIntent being created."""
    amount = p.amount(params, "amount")
    if amount < 1:
        raise invalid("amount", "Amount must be at least 1.")
    currency = p.currency(params)
    customer = None
    if params.get("customer"):
        customer = ctx.get("customer", params["customer"], "customer")
    return amount, currency, customer


def create_charge(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    amount, currency, customer = payment_terms(ctx, params)
    ref = p.text(params, "source") or (customer or {}).get("default_source")
    if not ref:
        raise missing("source")
    instrument = methods.source_for(ctx, str(ref), customer)
    charge = charge_card(
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
        application_fee_amount=requested_fee(ctx, params, amount),
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
    record_capture(ctx, charge, amount)
    return charge


def record_capture(ctx: Ctx, charge: dict[str, Any], amount: int) -> None:
    """Capture ``amount`` of an authorized charge; the rest of the authorization is released."""
    charge["captured"] = True
    charge["amount_captured"] = amount
    if amount < charge["amount"]:
        charge["amount_refunded"] = charge["amount"] - amount
    ctx.emit("charge.captured", charge)


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
    give_fee_back = p.boolean(params, "refund_application_fee")
    if give_fee_back and ctx.account is None:
        raise invalid(
            "refund_application_fee",
            "Can only refund an application fee when the request is made on behalf of "
            "another account (using an OAuth key or the Stripe-Account header).",
        )
    refund = refund_charge(ctx, charge, amount, reason=reason, metadata=p.metadata(params))
    if give_fee_back and charge.get("application_fee"):
        _refund_fee(ctx, charge, amount)
    return refund


def _refund_fee(ctx: Ctx, charge: dict[str, Any], refunded: int) -> None:
    """Give back the platform's fee in proportion to what was refunded of the charge (all that
    is left of it once the charge is refunded in full), as Stripe does."""
    fee = ctx.store.get("application_fee", charge["application_fee"], None)
    if fee is None:
        return
    left = fee["amount"] - fee["amount_refunded"]
    share = left if charge["refunded"] else min(left, fee["amount"] * refunded // charge["amount"])
    if share <= 0:
        return
    fee_refund = {
        "id": new_id("fr_"),
        "object": "fee_refund",
        "amount": share,
        "balance_transaction": None,
        "created": ctx.now(),
        "currency": fee["currency"],
        "fee": fee["id"],
        "metadata": {},
    }
    fee["refunds"]["data"].insert(0, fee_refund)
    fee["refunds"]["url"] = f"/v1/application_fees/{fee['id']}/refunds"
    fee["amount_refunded"] += share
    fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
    ctx.store.saved(fee)
    ctx.engine.emit("application_fee.refunded", fee, account=None, request_id=ctx.request_id)


def _refunded_of_captured(charge: dict[str, Any]) -> int:
    """Refunds so far, less what was released uncaptured (a partial capture's remainder)."""
    return sum(r["amount"] for r in charge["refunds"]["data"] if r["status"] == "succeeded")


def refund_charge(
    ctx: Ctx, charge: dict[str, Any], amount: int, *, reason: str | None, metadata: dict[str, Any]
) -> dict[str, Any]:
    """A succeeded refund of ``amount`` of ``charge``, with its events."""
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
