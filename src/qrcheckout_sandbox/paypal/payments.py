"""Payments v2: captures and their refunds, and authorizations captured or voided later."""

from __future__ import annotations

from typing import Any

from qrcheckout_sandbox.paypal import money, orders
from qrcheckout_sandbox.paypal.core import AUTHORIZATION, CAPTURE, REFUND, Call, link, new_id
from qrcheckout_sandbox.paypal.errors import malformed, unprocessable

NOTE_LENGTH = 255


def get_capture(call: Call, capture_id: str) -> dict[str, Any]:
    return call.get(CAPTURE, capture_id, "capture")


def get_refund(call: Call, refund_id: str) -> dict[str, Any]:
    return call.get(REFUND, refund_id, "refund")


def get_authorization(call: Call, authorization_id: str) -> dict[str, Any]:
    return call.get(AUTHORIZATION, authorization_id, "authorization")


def refund_capture(call: Call, capture_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Give back ``amount`` (all that is left when absent) of a completed capture."""
    capture = get_capture(call, capture_id)
    extra = call.store.extra(capture_id)
    gross, currency = money.read(capture["amount"], "/amount")
    if capture["status"] == "REFUNDED":
        raise unprocessable(
            "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded."
        )
    if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
        raise unprocessable(
            "REFUND_NOT_ALLOWED",
            "Refund cannot be issued for this transaction. Please contact customer support "
            "for further assistance.",
        )
    left = gross - extra["refunded"]
    if "amount" in body:
        code = (
            (body["amount"] or {}).get("currency_code")
            if isinstance(body["amount"], dict)
            else None
        )
        if code is not None and code != currency:
            raise unprocessable(
                "REFUND_CAPTURE_CURRENCY_MISMATCH",
                "Refund must be in the same currency as the capture.",
                "/amount/currency_code",
            )
        amount, _ = money.read(body["amount"], "/amount", payments=True)
        if amount == 0:
            raise unprocessable(
                "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", "/amount/value"
            )
    else:
        amount = left
    if amount > left:
        raise unprocessable(
            "REFUND_AMOUNT_EXCEEDED",
            "The refund amount must be less than or equal to the capture amount that has not "
            "yet been refunded.",
            "/amount/value",
        )
    refund_id = new_id()
    extra["refunded"] += amount
    refund: dict[str, Any] = {
        "id": refund_id,
        "status": "COMPLETED",
        "amount": money.money(amount, currency),
        # PayPal keeps its fee on a refund, under its standard pricing.
        "seller_payable_breakdown": {
            "gross_amount": money.money(amount, currency),
            "paypal_fee": money.money(0, currency),
            "net_amount": money.money(amount, currency),
            "total_refunded_amount": money.money(extra["refunded"], currency),
        },
        "links": [
            link(f"{call.base}/v2/payments/refunds/{refund_id}", "self"),
            link(f"{call.base}/v2/payments/captures/{capture_id}", "up"),
        ],
        "create_time": call.now(),
        "update_time": call.now(),
    }
    for key in ("invoice_id", "custom_id"):
        if key in body:
            refund[key] = orders.text(body[key], f"/{key}", 127)
    if "note_to_payer" in body:
        refund["note_to_payer"] = orders.text(body["note_to_payer"], "/note_to_payer", NOTE_LENGTH)
    call.add(REFUND, refund, capture=capture_id)
    capture["status"] = "REFUNDED" if extra["refunded"] == gross else "PARTIALLY_REFUNDED"
    capture["update_time"] = call.now()
    call.store.saved(capture)
    order_id = extra["order"]
    payments = call.store.extra(order_id)["payments"]
    for unit_payments in payments.values():
        if capture_id in unit_payments.get("captures", []):
            unit_payments.setdefault("refunds", []).append(refund_id)
    call.emit(
        "PAYMENT.CAPTURE.REFUNDED",
        refund,
        f"A {refund['amount']['value']} {currency} capture payment was refunded",
    )
    return refund


def capture_authorization(
    call: Call, authorization_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Capture ``amount`` (all that is left when absent) of an authorization; ``final_capture``
    (false by default, as PayPal has it) closes it."""
    authorization = get_authorization(call, authorization_id)
    extra = call.store.extra(authorization_id)
    _capturable(authorization["status"])
    gross, currency = money.read(authorization["amount"], "/amount")
    left = gross - extra["captured"]
    amount = left
    if "amount" in body:
        amount, _ = money.read(
            body["amount"],
            "/amount",
            currency=currency,
            mismatch="AUTH_CAPTURE_CURRENCY_MISMATCH",
            payments=True,
        )
        if amount == 0:
            raise unprocessable(
                "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", "/amount/value"
            )
    if amount > left:
        raise unprocessable(
            "MAX_CAPTURE_AMOUNT_EXCEEDED",
            "Capture amount exceeds allowable limit. Please contact customer support or your "
            "account manager to request the change to your overall limit.",
            "/amount/value",
        )
    final = body.get("final_capture", False)
    if not isinstance(final, bool):
        raise malformed("/final_capture", final)
    order_id = extra["order"]
    order = call.store.record(order_id).obj  # type: ignore[union-attr]
    payments = call.store.extra(order_id)["payments"]
    unit = next(
        u
        for u in order["purchase_units"]
        if authorization_id in payments.get(u["reference_id"], {}).get("authorizations", [])
    )
    capture = orders.new_capture(
        call,
        order,
        unit,
        declined=False,
        amount=money.money(amount, currency),
        final=final or amount == left,
        authorization=authorization_id,
    )
    payments[unit["reference_id"]].setdefault("captures", []).append(capture["id"])
    extra["captured"] += amount
    authorization["status"] = "CAPTURED" if final or amount == left else "PARTIALLY_CAPTURED"
    authorization["update_time"] = call.now()
    call.store.saved(authorization)
    orders.announce_capture(call, capture, order_id)
    return capture


def void_authorization(call: Call, authorization_id: str) -> dict[str, Any]:
    authorization = get_authorization(call, authorization_id)
    status = authorization["status"]
    if status == "CAPTURED":
        raise unprocessable(
            "PREVIOUSLY_CAPTURED",
            "Authorization has been previously captured and hence cannot be voided.",
        )
    if status == "VOIDED":
        raise unprocessable(
            "PREVIOUSLY_VOIDED",
            "Authorization has been previously voided and hence cannot be voided again.",
        )
    if status not in ("CREATED", "PARTIALLY_CAPTURED"):
        raise unprocessable(
            "CANNOT_BE_VOIDED",
            "A reauthorization cannot be voided. Please void the original parent authorization.",
        )
    authorization["status"] = "VOIDED"
    authorization["update_time"] = call.now()
    authorization["links"] = [
        link(f"{call.base}/v2/payments/authorizations/{authorization_id}", "self"),
        link(f"{call.base}/v2/checkout/orders/{call.store.extra(authorization_id)['order']}", "up"),
    ]
    call.store.saved(authorization)
    call.emit(
        "PAYMENT.AUTHORIZATION.VOIDED",
        orders.with_order(authorization, call.store.extra(authorization_id)["order"]),
        "A payment authorization was voided",
    )
    return authorization


def _capturable(status: str) -> None:
    refusals = {
        "CAPTURED": (
            "AUTHORIZATION_ALREADY_CAPTURED",
            "Authorization has been previously captured and hence cannot be captured again.",
        ),
        "VOIDED": (
            "AUTHORIZATION_VOIDED",
            "A voided authorization cannot be captured or reauthorized.",
        ),
        "DENIED": ("AUTHORIZATION_DENIED", "A denied authorization cannot be captured."),
    }
    if status in refusals:
        raise unprocessable(*refusals[status])
