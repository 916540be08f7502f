"""Catalog reads and the demo seed; prices are only ever read from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.catalog.models import Product
from qrcheckout.catalog.schemas import ProductCreate, ProductUpdate
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, Invalid, NotFound
from qrcheckout.listing import Query
from qrcheckout.money import MAX_AMOUNT

DEMO_CATALOG = (
    ("espresso", "Espresso", "A double shot of our house blend.", 250),
    ("flat-white", "Flat white", "Espresso with velvety steamed milk.", 380),
    ("cappuccino", "Cappuccino", "Espresso, steamed milk and foam.", 360),
    ("croissant", "Butter croissant", "Baked this morning.", 290),
    ("banana-bread", "Banana bread", "A thick slice, toasted.", 320),
)


async def products_by_id(
    session: AsyncSession, merchant_id: str, ids: Iterable[str]
) -> dict[str, Product]:
    """The merchant's products on sale with these ids."""
    wanted = set(ids)
    result = await session.scalars(
        select(Product).where(
            Product.merchant_id == merchant_id, Product.id.in_(wanted), Product.active
        )
    )
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
    session: AsyncSession,
    merchant_id: str,
    items: Iterable[tuple[str, int]],
    *,
    merge: bool = True,
) -> PricedCart:
    """Price ``(product_id, quantity)`` pairs from the merchant's catalog; ``merge`` sums the
    quantities of one product into one line. Invalid for an unknown product, mixed
    currencies, or a total over ``MAX_AMOUNT``."""
    wanted = list(items)
    products = await products_by_id(session, merchant_id, (pid for pid, _ in wanted))
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
    cart = PricedCart(
        currency=currencies.pop() if currencies else "",
        lines=tuple(PricedLine(products[pid], quantity) for pid, quantity in wanted),
    )
    now = utcnow()
    for line in cart.lines:
        _check_on_sale(line, now)
    if cart.amount > MAX_AMOUNT:  # no provider would take it, nor could it be stored
        raise Invalid(
            "amount_too_large",
            f"The total amount, {cart.amount}, is more than one checkout may charge "
            f"({MAX_AMOUNT}).",
            field="items",
        )
    return cart


def _check_on_sale(line: PricedLine, now: datetime) -> None:
    """A line refused for its product's sale window or its most per order."""
    product = line.product
    if product.sale_starts_at is not None and now < product.sale_starts_at:
        raise Conflict(
            "sale_not_started",
            f"{product.name} goes on sale at {product.sale_starts_at.isoformat()}.",
            field="items",
            product_id=product.id,
            starts_at=product.sale_starts_at.isoformat(),
        )
    if product.sale_ends_at is not None and now >= product.sale_ends_at:
        raise Conflict(
            "sale_ended",
            f"The sale of {product.name} ended at {product.sale_ends_at.isoformat()}.",
            field="items",
            product_id=product.id,
            ended_at=product.sale_ends_at.isoformat(),
        )
    if product.max_per_order is not None and line.quantity > product.max_per_order:
        raise Invalid(
            "max_per_order_exceeded",
            f"At most {product.max_per_order} of {product.name} per order; "
            f"{line.quantity} asked for.",
            field="items",
            product_id=product.id,
            max_per_order=product.max_per_order,
        )


def refuse_capacity(cart: PricedCart) -> None:
    """Only an order holds seats while it waits for its money: a cart that is not one may
    not sell a product with a capacity."""
    for line in cart.lines:
        if line.product.capacity is not None:
            raise Invalid(
                "order_required",
                f"{line.product.name} has a limited capacity: sell it through an order "
                "(POST /v1/orders), which holds its seats while it waits for payment.",
                field="items",
                product_id=line.product.id,
            )


class Catalog:
    """Each merchant's products: read by everyone, changed with the merchant's key."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def products(self, access: Access, *, archived: bool = False) -> list[Product]:
        query = select(Product).where(access.scope(Resource.PRODUCT, Action.LIST, Product))
        if not (archived and access.may(Resource.PRODUCT, Action.UPDATE)):
            query = query.where(Product.active)
        async with self.db.sessions() as session:
            result = await session.scalars(query.order_by(Product.created_at, Product.id))
            return list(result)

    async def select(self, access: Access, query: Query) -> list[Product]:
        """The products ``access`` may list that ``query`` keeps; archived ones only for who
        may change them."""
        if not access.may(Resource.PRODUCT, Action.UPDATE):
            kept = Product.active.is_(True)
            query = replace(query, where=kept if query.where is None else and_(query.where, kept))
        async with self.db.sessions() as session:
            return [
                product
                for product, _ in await query.rows(session, access, Resource.PRODUCT, Product)
            ]

    async def get(self, access: Access, product_id: str) -> Product:
        """One product of the addressed shop's catalog (archived ones only for who may change
        them)."""
        async with self.db.sessions() as session:
            product = await session.get(Product, (access.principal.shop, product_id))
        if product is None or not (product.active or access.may(Resource.PRODUCT, Action.UPDATE)):
            raise NotFound("product_not_found", f"No product with id {product_id!r}.")
        access.check(Resource.PRODUCT, Action.READ, product)
        return product

    async def add(self, access: Access, new: ProductCreate) -> Product:
        return (await self.add_many(access, [new]))[0]

    async def add_many(self, access: Access, news: list[ProductCreate]) -> list[Product]:
        """New products of the addressed shop, all in one transaction: all, or none."""
        merchant_id = access.shop_for_new(Resource.PRODUCT)
        if len({new.id for new in news}) < len(news):
            raise Invalid("duplicate_id", "Two of the new products have the same id.", field="id")
        added = []
        async with self.db.transaction() as session:
            merchant = await session.get(Merchant, merchant_id)
            if merchant is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            for new in news:
                if await session.get(Product, (merchant_id, new.id)) is not None:
                    raise Conflict("product_exists", f"A product with id {new.id!r} exists.")
                now = utcnow()
                product = Product(
                    **new.model_dump(exclude={"currency"}),
                    currency=new.currency or merchant.default_currency,
                    merchant_id=merchant_id,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                session.add(product)
                added.append(product)
        return added

    async def update(self, access: Access, product_id: str, changes: ProductUpdate) -> Product:
        """Change a product; what was already sold keeps the name and price it was sold at."""
        merchant_id = access.shop_for_new(Resource.PRODUCT)
        async with self.db.transaction() as session:
            product = await session.get(Product, (merchant_id, product_id), with_for_update=True)
            if product is None:
                raise NotFound("product_not_found", f"No product with id {product_id!r}.")
            access.check(Resource.PRODUCT, Action.UPDATE, product)
            for name, value in changes.model_dump(exclude_unset=True).items():
                setattr(product, name, value)
            product.updated_at = utcnow()
        return product

    async def seed_demo(self, merchant_id: str) -> int:
        async with self.db.transaction() as session:
            return await seed_demo_catalog(session, merchant_id)


async def seed_demo_catalog(session: AsyncSession, merchant_id: str, currency: str = "usd") -> int:
    """Add the coffee-shop catalog when the merchant's catalog is empty; returns how many."""
    if await session.scalar(
        select(func.count()).select_from(Product).where(Product.merchant_id == merchant_id)
    ):
        return 0
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        return 0
    # A token made without items (the first design's static QR) sells one espresso.
    merchant.default_product_id = merchant.default_product_id or DEMO_CATALOG[0][0]
    session.add_all(
        Product(
            merchant_id=merchant_id,
            id=pid,
            name=name,
            description=desc,
            unit_amount=amount,
            currency=currency,
        )
        for pid, name, desc, amount in DEMO_CATALOG
    )
    return len(DEMO_CATALOG)
