"""The catalog: read by anyone for the addressed shop; changed with the merchant's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from qrcheckout.catalog.schemas import ProductCreate, ProductList, ProductOut, ProductUpdate
from qrcheckout.http.deps import AccessDep, CatalogDep

router = APIRouter(tags=["catalog"])


@router.get("/v1/products", response_model=ProductList)
async def list_products(
    catalog: CatalogDep,
    access: AccessDep,
    include_archived: Annotated[bool, Query()] = False,
) -> ProductList:
    products = await catalog.products(access, archived=include_archived)
    return ProductList(data=[ProductOut.model_validate(p) for p in products])


@router.post("/v1/products", status_code=201, response_model=ProductOut)
async def create_product(body: ProductCreate, catalog: CatalogDep, access: AccessDep) -> ProductOut:
    return ProductOut.model_validate(await catalog.add(access, body))


@router.patch("/v1/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: str, body: ProductUpdate, catalog: CatalogDep, access: AccessDep
) -> ProductOut:
    return ProductOut.model_validate(await catalog.update(access, product_id, body))


@router.delete("/v1/products/{product_id}", response_model=ProductOut)
async def archive_product(product_id: str, catalog: CatalogDep, access: AccessDep) -> ProductOut:
    """Archive: the product is no longer sold; orders and tokens keep what they sold."""
    return ProductOut.model_validate(
        await catalog.update(access, product_id, ProductUpdate(active=False))
    )
