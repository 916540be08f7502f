"""Catalog API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from qrcheckout.money import CURRENCY_PATTERN, MAX_AMOUNT


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


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    unit_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True)
    currency: str = Field(pattern=CURRENCY_PATTERN)
