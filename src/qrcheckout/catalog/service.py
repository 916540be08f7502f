"""Catalog reads and the demo seed; prices are only ever read from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.catalog.models import Product
from qrcheckout.catalog.schemas import ProductCreate
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, Invalid

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


@dataclass(frozen=True)
class PricedLine:
    product: Product
    quantity: int

    @property
    def amount(self) -> int:
        return self.product.unit_amount * self.quantity

    def sold(self, position: int) -> dict[str, Any]:
        """The columns of this line as a token or an order keeps it (``SoldLine``)."""
        return {
            "position": position,
            "product_id": self.product.id,
            "name": self.product.name,
            "unit_amount": self.product.unit_amount,
            "quantity": self.quantity,
            "amount": self.amount,
        }


@dataclass(frozen=True)
class PricedCart:
    """A cart priced from the catalog: one currency, quantities of one product summed."""

    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)


async def price_cart(
    session: AsyncSession, items: Iterable[tuple[str, int]], *, merge: bool = True
) -> PricedCart:
    """Price ``(product_id, quantity)`` pairs from the catalog; ``merge`` sums the quantities
    of one product into one line. Invalid for an unknown product or mixed currencies."""
    wanted = list(items)
    products = await products_by_id(session, (product_id for product_id, _ in wanted))
    return price(products, wanted, merge=merge)


def price(
    products: Mapping[str, Product], items: Sequence[tuple[str, int]], *, merge: bool = True
) -> PricedCart:
    """``price_cart`` on products already read from the catalog."""
    wanted = list(items)
    for index, (product_id, _) in enumerate(wanted):
        if product_id not in products:
            raise Invalid(
                "unknown_product",
                f"No product with id {product_id!r} in the catalog.",
                field=f"items.{index}.product_id",
            )
    currencies = {products[product_id].currency for product_id, _ in wanted}
    if len(currencies) > 1:
        raise Invalid("mixed_currencies", "All items of one checkout must share a currency.")
    if merge:
        quantities: dict[str, int] = {}
        for product_id, quantity in wanted:
            quantities[product_id] = quantities.get(product_id, 0) + quantity
        wanted = list(quantities.items())
    return PricedCart(
        currency=currencies.pop() if currencies else "",
        lines=tuple(PricedLine(products[pid], quantity) for pid, quantity in wanted),
    )


class Catalog:
    """The merchant's products: read by everyone, added with the merchant's key."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def products(self) -> list[Product]:
        async with self.db.sessions() as session:
            return await list_products(session)

    async def add(self, new: ProductCreate) -> Product:
        async with self.db.transaction() as session:
            if await session.get(Product, new.id) is not None:
                raise Conflict("product_exists", f"A product with id {new.id!r} exists.")
            product = Product(**new.model_dump(), active=True, created_at=utcnow())
            session.add(product)
        return product

    async def seed_demo(self) -> int:
        async with self.db.transaction() as session:
            return await seed_demo_catalog(session)


async def seed_demo_catalog(session: AsyncSession, currency: str = "usd") -> int:
    """Add the coffee-shop catalog when the catalog is empty; returns how many were added."""
    if await session.scalar(select(func.count()).select_from(Product)):
        return 0
    session.add_all(
        Product(id=pid, name=name, description=desc, unit_amount=amount, currency=currency)
        for pid, name, desc, amount in DEMO_CATALOG
    )
    return len(DEMO_CATALOG)
