"""Order routes: create, read, list, cancel, charge a card token (JSON:API), refund, and
what the signed-in buyer was granted."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qrcheckout.errors import DomainError, Invalid, Malformed
from qrcheckout.http.deps import (
    IdempotencyKey,
    Merchant,
    OptionalBuyer,
    Orders,
    Payments,
    SignedIn,
    idempotency_key,
    signed_in,
)
from qrcheckout.http.errors import jsonapi_response
from qrcheckout.money import CURRENCY_PATTERN, MAX_AMOUNT
from qrcheckout.orders.schemas import (
    EntitlementList,
    EntitlementOut,
    OrderCreate,
    OrderList,
    OrderOut,
    RefundCreate,
)
from qrcheckout.orders.service import MAX_PAGE

router = APIRouter(tags=["orders"])


@router.post("/v1/orders", status_code=201, response_model=OrderOut)
async def create_order(body: OrderCreate, orders: Orders, buyer: OptionalBuyer) -> OrderOut:
    return orders.to_out(await orders.create(body, buyer))


@router.get("/v1/orders", response_model=OrderList)
async def list_orders(
    orders: Orders,
    buyer: SignedIn,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
) -> OrderList:
    page, has_more = await orders.list_for(buyer.subject, limit, starting_after)
    return OrderList(data=[orders.to_out(o) for o in page], has_more=has_more)


@router.get("/v1/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: str, orders: Orders) -> OrderOut:
    return orders.to_out(await orders.get(order_id))


@router.post("/v1/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(order_id: str, orders: Orders, buyer: OptionalBuyer) -> OrderOut:
    return orders.to_out(await orders.cancel(order_id, buyer))


@router.post("/v1/orders/{order_id}/charge")
async def charge_order(
    order_id: str, request: Request, orders: Orders, payments: Payments
) -> JSONResponse:
    """JSON:API in and out: ``{"data": {"type": "charge", "attributes": {"stripe": "tok_"}}}``."""
    try:
        buyer = signed_in(request)  # refused in JSON:API's envelope too
        order = await payments.charge(order_id, buyer, _card_token(await request.body()))
    except DomainError as exc:
        return jsonapi_response(exc)
    attributes = orders.to_out(order).model_dump(mode="json")
    return JSONResponse(
        {"data": {"type": "order", "id": order.id, "attributes": attributes}},
        media_type="application/vnd.api+json",
    )


def _card_token(body: bytes) -> str | None:
    try:
        document: Any = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed("invalid_json", "The request body is not valid JSON.") from exc
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, dict) and data.get("type") not in (None, "charge", "charges"):
        raise Invalid("invalid_type", "data.type must be 'charge'.", field="data.type")
    attributes = data.get("attributes") if isinstance(data, dict) else None
    token = attributes.get("stripe") if isinstance(attributes, dict) else None
    if token is not None and not isinstance(token, str):
        raise Invalid(
            "token_missing",
            "data.attributes.stripe must be a card token string.",
            field="data.attributes.stripe",
        )
    return token.strip() if token else None


@router.post("/v1/orders/{order_id}/refunds", status_code=201, dependencies=[Merchant])
async def refund_order(
    order_id: str, request: Request, key: IdempotencyKey, orders: Orders, payments: Payments
) -> dict[str, Any]:
    raw = await request.body()
    try:
        # The body is optional: none (or ``{}``) refunds all that is left.
        amount = RefundCreate.model_validate_json(raw).amount if raw.strip() else None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    refund, order = await payments.refund(order_id, amount, key)
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
async def my_entitlements(orders: Orders, buyer: SignedIn) -> EntitlementList:
    rows = await orders.entitlements(buyer)
    return EntitlementList(data=[EntitlementOut.model_validate(row) for row in rows])


class TokenCharge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=255)
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True)
    # The provider refuses a well-formed code it does not take (422 with its message).
    currency: str = Field(pattern=CURRENCY_PATTERN)


# Its own router: the app developers' charge route keeps its tag and operation id.
card_charges = APIRouter(tags=["payments"])


@card_charges.post("/services/Stripe/charge", operation_id="charge_services_Stripe_charge_post")
async def charge_card_token(
    body: TokenCharge, request: Request, payments: Payments, buyer: SignedIn
) -> dict[str, Any]:
    """Charge a card token for a signed-in app user, with no order."""
    key = idempotency_key(request)  # after the body, as this route has always checked
    result = await payments.charge_token(buyer, body.token, body.amount, body.currency, key)
    return {"id": result.id, "status": result.status}
