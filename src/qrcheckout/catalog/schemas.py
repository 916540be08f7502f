"""Catalog API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
