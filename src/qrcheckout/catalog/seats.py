"""Each product's held and sold counts, moved inside the transaction of every order change;
a product's capacity bounds what is held, under any concurrency.

A hold is one conditional ``UPDATE`` of the product's row (``held + n <= capacity``): on
PostgreSQL concurrent holders queue on that row and each re-checks the condition against the
last committed count; on SQLite writers are serialised already. Rows are updated in product id
order, so two carts never wait on each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.catalog.models import Product
from qrcheckout.errors import Conflict


async def adjust(
    session: AsyncSession,
    merchant_id: str,
    lines: Iterable[tuple[str, int]],
    *,
    held: int,
    sold: int,
) -> None:
    """Move each product's ``held`` and ``sold`` by those multiples (-1, 0 or 1) of its
    quantity; more held than a capacity allows is refused as ``sold_out``, naming what is left."""
    if not held and not sold:
        return
    quantities: dict[str, int] = {}
    for product_id, quantity in lines:
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    for product_id, quantity in sorted(quantities.items()):
        statement = (
            update(Product)
            .where(Product.merchant_id == merchant_id, Product.id == product_id)
            .values(held=Product.held + held * quantity, sold=Product.sold + sold * quantity)
            .execution_options(synchronize_session=False)
        )
        if held > 0:
            statement = statement.where(
                or_(Product.capacity.is_(None), Product.held + quantity <= Product.capacity)
            )
        result = await session.execute(statement)
        if held > 0 and result.rowcount == 0:  # type: ignore[attr-defined]
            raise await _sold_out(session, merchant_id, product_id, quantity)


async def _sold_out(
    session: AsyncSession, merchant_id: str, product_id: str, wanted: int
) -> Conflict:
    row = (
        await session.execute(
            select(Product.name, Product.capacity, Product.held).where(
                Product.merchant_id == merchant_id, Product.id == product_id
            )
        )
    ).one()
    left = max(0, (row.capacity or 0) - row.held)
    return Conflict(
        "sold_out",
        f"{row.name} is sold out: {left} left, {wanted} asked for."
        if left
        else f"{row.name} is sold out.",
        field="items",
        product_id=product_id,
        left=left,
    )
