"""Token API shapes. A client names products and quantities, never prices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qrcheckout.catalog.schemas import MAX_QUANTITY
from qrcheckout.checkout.states import TokenKind, TokenStatus
from qrcheckout.inputs import Email, Input

MAX_ITEMS = 100
PRICE_FIELDS = frozenset(
    {"price", "prices", "amount", "unit_amount", "amount_total", "total", "unit_price", "currency"}
)


class ClientPriceRefused(ValueError):
    """A request carried a price or amount: the catalog alone sets prices."""


def refuse_prices(data: Any) -> Any:
    if isinstance(data, dict):
        sent = sorted(PRICE_FIELDS & data.keys())
        if sent:
            raise ClientPriceRefused(
                f"{', '.join(sent)} cannot be sent: prices come from the catalog"
            )
    return data


class ItemIn(Input):
    product_id: str = Field(min_length=1, max_length=64)
    # Strict: "2" or true is a mistake to point out, not a quantity to guess.
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_prices(cls, data: Any) -> Any:
        return refuse_prices(data)


class TokenCreate(Input):
    # The token's id, chosen by the client (a Hasura front-end inserts its own); unset: new.
    id: uuid.UUID | None = None
    # Unset: one of the merchant's default item (a donation, a fixed bill).
    items: list[ItemIn] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)
    kind: TokenKind = TokenKind.DYNAMIC
    customer_email: Email | None = None
    ttl_seconds: int | None = Field(default=None, ge=1, le=86_400)
    # The payment provider it is paid through ("stripe", "paypal"); unset: the service's default.
    provider: str | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="before")
    @classmethod
    def _no_prices(cls, data: Any) -> Any:
        return refuse_prices(data)

    @model_validator(mode="after")
    def _ttl_needs_expiry(self) -> TokenCreate:
        if self.kind is TokenKind.STATIC and self.ttl_seconds is not None:
            raise ValueError("a static token never expires; ttl_seconds is not allowed")
        return self


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: str
    name: str
    unit_amount: int
    quantity: int
    amount: int


class TokenOut(BaseModel):
    """A token as its merchant sees it; others see the fields the permission table shows."""

    id: str
    object: str = "checkout_token"
    merchant: str
    # The signed-in buyer who made it (hidden, as customer_email, from who only holds the id).
    user_id: str | None = None
    kind: TokenKind
    status: TokenStatus
    created_at: datetime
    end_at: datetime | None
    amount_total: int
    currency: str
    amount_display: str
    items: list[ItemOut]
    customer_email: str | None = None
    url: str
    qr_svg_url: str
    qr_png_url: str
    # The provider it is paid through, and the provider session (checkout) opened last.
    provider: str
    session_id: str | None
    # The first design's name for ``session_id``, set for a token paid through Stripe.
    stripe_session_id: str | None
    paid_at: datetime | None
    paid_count: int
    failure_code: str | None
    failure_message: str | None


class TokenCreated(TokenOut):
    cancel_secret: str


class TokenList(BaseModel):
    object: str = "list"
    data: list[TokenOut]
    has_more: bool


class CancelRequest(Input):
    """A token's or an order's cancellation by whoever created it."""

    cancel_secret: str | None = Field(default=None, max_length=200)
