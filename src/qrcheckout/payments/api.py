"""``POST /services/Stripe/charge``: charge a card token for a signed-in app user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from qrcheckout import auth
from qrcheckout.auth import Buyer
from qrcheckout.errors import APIError
from qrcheckout.money import CURRENCY_PATTERN
from qrcheckout.orders.service import OrderService

router = APIRouter(tags=["payments"])

MAX_AMOUNT = 99_999_999


class TokenCharge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=255)
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True)
    # The provider refuses a well-formed code it does not take (422 with its message).
    currency: str = Field(pattern=CURRENCY_PATTERN)


@router.post("/services/Stripe/charge")
async def charge(
    body: TokenCharge, request: Request, buyer: Annotated[Buyer, Depends(auth.buyer)]
) -> dict[str, Any]:
    service: OrderService = request.app.state.orders
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise APIError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters.")
    result = await service.charge_token(buyer, body.token, body.amount, body.currency, key)
    return {"id": result.id, "status": result.status}
