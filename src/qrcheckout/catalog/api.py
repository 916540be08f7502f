"""``GET /v1/products``; ``POST /v1/products`` with the merchant's API key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from qrcheckout import auth
from qrcheckout.catalog import service
from qrcheckout.catalog.models import Product
from qrcheckout.catalog.schemas import ProductCreate, ProductList, ProductOut
from qrcheckout.db import utcnow
from qrcheckout.errors import Conflict

router = APIRouter(tags=["catalog"])


@router.get("/v1/products", response_model=ProductList)
async def list_products(request: Request) -> ProductList:
    async with request.app.state.db.sessions() as session:
        products = await service.list_products(session)
    return ProductList(data=[ProductOut.model_validate(p) for p in products])


@router.post(
    "/v1/products",
    status_code=201,
    response_model=ProductOut,
    dependencies=[Depends(auth.merchant)],
)
async def create_product(body: ProductCreate, request: Request) -> ProductOut:
    async with request.app.state.db.transaction() as session:
        if await session.get(Product, body.id) is not None:
            raise Conflict("product_exists", f"A product with id {body.id!r} exists.")
        product = Product(**body.model_dump(), active=True, created_at=utcnow())
        session.add(product)
    return ProductOut.model_validate(product)
