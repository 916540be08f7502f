"""Catalog reads and the demo seed; prices are only ever read from here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.catalog.models import Product

DEMO_CATALOG = (
    ("espresso", "Espresso", "A double shot of our house blend.", 250),
    ("flat-white", "Flat white", "Espresso with velvety steamed milk.", 380),
    ("cappuccino", "Cappuccino", "Espresso, steamed milk and foam.", 360),
    ("croissant", "Butter croissant", "Baked this morning.", 290),
    ("banana-bread", "Banana bread", "A thick slice, toasted.", 320),
)


async def list_products(session: AsyncSession) -> list[Product]:
    result = await session.scalars(
        select(Product).where(Product.active).order_by(Product.created_at, Product.id)
    )
    return list(result)


async def products_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, Product]:
    wanted = set(ids)
    result = await session.scalars(select(Product).where(Product.id.in_(wanted), Product.active))
    return {p.id: p for p in result}


async def seed_demo_catalog(session: AsyncSession, currency: str = "usd") -> int:
    """Add the coffee-shop catalog when the catalog is empty; returns how many were added."""
    if await session.scalar(select(func.count()).select_from(Product)):
        return 0
    session.add_all(
        Product(id=pid, name=name, description=desc, unit_amount=amount, currency=currency)
        for pid, name, desc, amount in DEMO_CATALOG
    )
    return len(DEMO_CATALOG)
