"""``GET /v1/products``; ``POST /v1/products`` with the merchant's API key."""

from __future__ import annotations

from fastapi import APIRouter

from qrcheckout.catalog.schemas import ProductCreate, ProductList, ProductOut
from qrcheckout.http.deps import CatalogDep, Merchant

router = APIRouter(tags=["catalog"])


@router.get("/v1/products", response_model=ProductList)
async def list_products(catalog: CatalogDep) -> ProductList:
    return ProductList(data=[ProductOut.model_validate(p) for p in await catalog.products()])


@router.post("/v1/products", status_code=201, response_model=ProductOut, dependencies=[Merchant])
async def create_product(body: ProductCreate, catalog: CatalogDep) -> ProductOut:
    return ProductOut.model_validate(await catalog.add(body))
