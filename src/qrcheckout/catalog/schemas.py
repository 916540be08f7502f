"""Catalog API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qrcheckout.inputs import Currency, Input
from qrcheckout.money import MAX_AMOUNT


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    unit_amount: int
    currency: str
    active: bool
    created_at: datetime


class ProductList(BaseModel):
    object: str = "list"
    data: list[ProductOut]


class ProductCreate(Input):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    unit_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True)
    # Unset: the merchant's default currency.
    currency: Currency | None = None


class ProductUpdate(Input):
    """The fields to change; ``active: false`` archives a product (no longer sold)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    unit_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)
    currency: Currency | None = None
    active: bool | None = Field(default=None, strict=True)

    @model_validator(mode="after")
    def _no_nulls(self) -> ProductUpdate:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self
