"""Order API shapes. A client names products and quantities, never prices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from qrcheckout.checkout.schemas import MAX_ITEMS, ItemIn, refuse_prices
from qrcheckout.inputs import Email, Input
from qrcheckout.orders.states import OrderStatus, PaymentMode


class OrderItemIn(ItemIn):
    """An item as the checkout takes it, also in the short form ``{"productId", "quantity"}``."""

    product_id: str = Field(
        min_length=1, max_length=64, validation_alias=AliasChoices("product_id", "productId")
    )


class OrderCreate(Input):
    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    customer_email: Email | None = None
    payment_mode: PaymentMode = PaymentMode.STRIPE

    @model_validator(mode="before")
    @classmethod
    def _no_prices(cls, data: Any) -> Any:
        data = refuse_prices(data)
        # One product, bare: ``{"productId": "...", "quantity": 10}`` is an order of one line.
        if isinstance(data, dict) and "items" not in data and data.keys() & ONE_LINE_NAMES:
            data = dict(data)
            line = {key: data.pop(key) for key in ONE_LINE if key in data}
            data["items"] = [line]
        return data


# The fields of a bare one-line order, as a client sends them.
ONE_LINE = ("product_id", "productId", "quantity")
ONE_LINE_NAMES = frozenset({"product_id", "productId"})


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: str
    name: str
    unit_amount: int
    quantity: int
    amount: int


class OrderPaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    amount: int
    currency: str
    status: str
    applied: bool
    amount_refunded: int
    problem: str | None
    created_at: datetime


class OrderRefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    amount: int
    status: str
    source: str
    created_at: datetime


class OrderOut(BaseModel):
    id: str
    identifier: str
    object: str = "order"
    merchant: str
    status: OrderStatus
    payment_mode: PaymentMode
    amount: int
    amount_paid: int
    amount_refunded: int
    amount_due: int
    currency: str
    attempts: int
    # Hidden from whoever only holds the order's id (the permission table).
    owner: str | None = None
    customer_email: str | None = None
    items: list[OrderItemOut]
    created_at: datetime
    expires_at: datetime | None
    completed_at: datetime | None
    payment_url: str | None
    qr_url: str | None
    token_id: str | None
    payments: list[OrderPaymentOut]
    refunds: list[OrderRefundOut]
    failure_code: str | None
    failure_message: str | None


class OrderList(BaseModel):
    object: str = "list"
    data: list[OrderOut]
    has_more: bool


class RefundCreate(Input):
    amount: int | None = Field(default=None, ge=1, strict=True)


class EntitlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: str
    product_id: str
    quantity: int
    owner: str
    granted_at: datetime
    revoked_at: datetime | None


class EntitlementList(BaseModel):
    object: str = "list"
    data: list[EntitlementOut]


class OrderCreated(OrderOut):
    # None for a free order: it is complete at once.
    cancel_secret: str | None
