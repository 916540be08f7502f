"""``GET /v1/products``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from qrcheckout.catalog import service
from qrcheckout.catalog.schemas import ProductList, ProductOut

router = APIRouter(tags=["catalog"])


@router.get("/v1/products", response_model=ProductList)
async def list_products(request: Request) -> ProductList:
    async with request.app.state.db.sessions() as session:
        products = await service.list_products(session)
    return ProductList(data=[ProductOut.model_validate(p) for p in products])
