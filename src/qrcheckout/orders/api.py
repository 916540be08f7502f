"""Order routes: create, read, list, cancel, charge a card token (JSON:API), refund, and
what the signed-in buyer was granted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Role
from qrcheckout.checkout.schemas import CancelRequest
from qrcheckout.errors import Invalid, Malformed
from qrcheckout.http.deps import (
    AccessDep,
    Filters,
    IdempotencyKey,
    Orders,
    Payments,
    idempotency_key,
    principal,
    signed_in,
)
from qrcheckout.http.errors import INVALID_JSON, jsonapi_response, refusal
from qrcheckout.http.ratelimit import limited
from qrcheckout.inputs import Currency, Input, has_control_characters, parse_json
from qrcheckout.money import MAX_AMOUNT, format_amount
from qrcheckout.orders.schemas import (
    EntitlementList,
    EntitlementOut,
    OrderCreate,
    OrderCreated,
    OrderList,
    OrderOut,
    RefundCreate,
)
from qrcheckout.ratelimit import Rule

router = APIRouter(tags=["orders"])
JSONAPI = "application/vnd.api+json"


@router.post(
    "/v1/orders",
    status_code=201,
    response_model=OrderCreated,
    dependencies=[limited(Rule.TOKENS)],
)
async def create_order(body: OrderCreate, orders: Orders, access: AccessDep) -> dict[str, Any]:
    """A new order; ``cancel_secret`` (shown this once) lets its creator cancel it."""
    order, cancel_secret = await orders.create(access, body)
    # Its creator sees all it sent.
    return orders.message(order) | {"cancel_secret": cancel_secret}


@router.get("/v1/orders", response_model=OrderList, response_model_exclude_unset=True)
async def list_orders(orders: Orders, access: AccessDep, filters: Filters) -> dict[str, Any]:
    """A signed-in buyer's orders, or a merchant's; newest first, a page at a time."""
    rows, has_more = await orders.page(access, filters)
    return {"object": "list", "data": rows, "has_more": has_more}


@router.get("/v1/orders/{order_id}", response_model=OrderOut, response_model_exclude_unset=True)
async def get_order(order_id: str, orders: Orders, access: AccessDep) -> dict[str, Any]:
    return await orders.read(access, order_id)


@router.post(
    "/v1/orders/{order_id}/cancel", response_model=OrderOut, response_model_exclude_unset=True
)
async def cancel_order(
    order_id: str, orders: Orders, access: AccessDep, body: CancelRequest | None = None
) -> dict[str, Any]:
    """By the order's owner or merchant, or with the ``cancel_secret`` it was created with."""
    return await orders.cancel(access, order_id, body.cancel_secret if body else None)


@router.post("/v1/orders/{order_id}/charge")
async def charge_order(
    order_id: str, request: Request, orders: Orders, payments: Payments
) -> JSONResponse:
    """JSON:API in and out: ``{"data": {"type": "charge", "attributes": {"stripe": "tok_"}}}``
    charges a card token; ``{"paypal_payer_id": "...", "paypal_payment_id": "..."}`` (with
    ``"stripe": null``) takes the PayPal payment the buyer approved on the order's payment page
    (its id is the order's ``token_id``'s ``session_id``)."""
    try:
        await signed_in(request)  # refused in JSON:API's envelope too
        access = Access(await principal(request))
        provider, source = _charge_source(await request.body())
        order = await payments.charge(access, order_id, source, provider)
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        # The ticketing front-end reads the outcome from data.attributes, refused or not.
        outcome = {"status": False, "message": refused.message}
        return jsonapi_response(
            refused, data={"type": "charge", "id": order_id, "attributes": outcome}
        )
    attributes = orders.to_out(order).model_dump(mode="json")
    paid = format_amount(order.amount_paid, order.currency)
    attributes["message"] = f"Charge successful: {paid} paid, the order is {order.status}."
    return JSONResponse(
        {"data": {"type": "order", "id": order.id, "attributes": attributes}},
        media_type=JSONAPI,
    )


def _charge_source(body: bytes) -> tuple[str | None, str | None]:
    """The provider a charge names (None: the order's own) and what pays: a card token, or the
    id of the PayPal payment the buyer approved."""
    try:
        document: Any = parse_json(body) if body.strip() else {}
    except ValueError as exc:  # not JSON, not UTF-8, or nested too deep
        raise Malformed("invalid_json", INVALID_JSON) from exc
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, dict) and data.get("type") not in (None, "charge", "charges"):
        raise Invalid("invalid_type", "data.type must be 'charge'.", field="data.type")
    attributes = data.get("attributes") if isinstance(data, dict) else None
    attributes = attributes if isinstance(attributes, dict) else {}
    token = _text(attributes, "stripe", "token_missing", "a card token string")
    payment = _text(attributes, "paypal_payment_id", "payment_missing", "a PayPal payment id")
    _text(attributes, "paypal_payer_id", "payer_invalid", "a PayPal payer id")
    if token and payment:
        raise Invalid(
            "ambiguous_charge",
            "Send a card token (stripe) or a PayPal payment (paypal_payment_id), not both.",
            field="data.attributes",
        )
    if payment:
        return "paypal", payment
    return ("stripe", token) if token else (None, None)


def _text(attributes: dict[str, Any], name: str, code: str, what: str) -> str | None:
    value = attributes.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or has_control_characters(value) or len(value) > 255:
        raise Invalid(
            code, f"data.attributes.{name} must be {what}.", field=f"data.attributes.{name}"
        )
    return value.strip() or None


@router.post("/v1/orders/{order_id}/refunds", status_code=201)
async def refund_order(
    order_id: str,
    request: Request,
    key: IdempotencyKey,
    orders: Orders,
    payments: Payments,
    access: AccessDep,
) -> dict[str, Any]:
    """The order's merchant refunds all that is left, or ``amount`` of it."""
    # Refused before the body is read, when the caller may not refund it.
    access.check(Resource.ORDER, Action.REFUND, await orders.get(order_id))
    raw = await request.body()
    try:
        # The body is optional: none (or ``{}``) refunds all that is left.
        amount = RefundCreate.model_validate_json(raw).amount if raw.strip() else None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    refund, order = await payments.refund(access, order_id, amount, key)
    return {
        "refund": {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "currency": order.currency,
            "status": refund.status,
            "source": refund.source,
            "created_at": refund.created_at.isoformat(),
        },
        "order": orders.to_out(order).model_dump(mode="json"),
    }


@router.get("/v1/me/entitlements", response_model=EntitlementList)
async def my_entitlements(orders: Orders, access: AccessDep) -> EntitlementList:
    rows = await orders.entitlements(access)
    return EntitlementList(data=[EntitlementOut.model_validate(row) for row in rows])


class TokenCharge(Input):
    token: str = Field(min_length=1, max_length=255)
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True)
    # Unset: the merchant's default currency.
    currency: Currency | None = None


async def _charger(request: Request) -> Access:
    """Who charges a card token: refused, before the body is read, without a credential."""
    access = Access(await principal(request))
    if access.role is Role.ANONYMOUS:
        await signed_in(request)  # the refusal a missing credential has always had
    return access


Charger = Annotated[Access, Depends(_charger)]

# Its own router: the app developers' charge route keeps its tag and operation id.
card_charges = APIRouter(tags=["payments"])


@card_charges.post("/services/Stripe/charge", operation_id="charge_services_Stripe_charge_post")
async def charge_card_token(
    body: TokenCharge, request: Request, payments: Payments, access: Charger
) -> dict[str, Any]:
    """Charge a card token with no order: for a signed-in app user, or by the merchant's own
    backend with its key (an app key)."""
    key = idempotency_key(request)  # after the body, as this route has always checked
    result = await payments.charge_token(access, body.token, body.amount, body.currency, key)
    return {"id": result.id, "status": result.status}
