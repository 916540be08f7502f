"""Catalog API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from qrcheckout.catalog.models import Product
from qrcheckout.inputs import Currency, ImageUrl, Input, OneLine
from qrcheckout.money import MAX_AMOUNT

# The most of one product a cart may hold.
MAX_QUANTITY = 999
COLUMNS = (
    "id",
    "name",
    "description",
    "image_url",
    "unit_amount",
    "currency",
    "active",
    "capacity",
    "max_per_order",
    "sale_starts_at",
    "sale_ends_at",
    "sold",
    "created_at",
)


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    image_url: str | None = None
    unit_amount: int
    currency: str
    active: bool
    capacity: int | None
    max_per_order: int | None
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    #: In paid orders.
    sold: int
    #: Held by pending orders.
    reserved: int
    #: What can still be bought; None without a capacity.
    available: int | None
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _counts(cls, data: Any) -> Any:
        if isinstance(data, Product):
            return {
                **{column: getattr(data, column) for column in COLUMNS},
                "reserved": data.held - data.sold,
                "available": None if data.capacity is None else max(0, data.capacity - data.held),
            }
        return data


class ProductList(BaseModel):
    object: str = "list"
    data: list[ProductOut]


class Limits(Input):
    """How many may be sold, how many at once, and when (tickets)."""

    capacity: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)
    max_per_order: int | None = Field(default=None, ge=1, le=MAX_QUANTITY, strict=True)
    sale_starts_at: AwareDatetime | None = None
    sale_ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Limits:
        starts, ends = self.sale_starts_at, self.sale_ends_at
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("sale_ends_at must be after sale_starts_at")
        return self


class ProductCreate(Limits):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: OneLine = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    image_url: ImageUrl | None = None
    unit_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True)
    # Unset: the merchant's default currency.
    currency: Currency | None = None


class ProductUpdate(Limits):
    """The fields to change; ``active: false`` archives a product (no longer sold); a limit
    set to null is lifted."""

    name: OneLine | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    # null: no image.
    image_url: ImageUrl | None = None
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)
    currency: Currency | None = None
    active: bool | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _no_nulls(self) -> ProductUpdate:
        nulls = sorted(
            name
            for name in self.model_fields_set - set(Limits.model_fields) - {"image_url"}
            if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self
