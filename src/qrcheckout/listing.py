"""Lists of tokens or orders: filtered, newest first, a page at a time after a cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.permissions import Access, Action, Grant, Resource
from qrcheckout.errors import Malformed

MAX_PAGE = 100
Row = TypeVar("Row")


@dataclass(frozen=True)
class ListFilters:
    """What a list keeps: a status, a created range (``created_gte <= created_at <
    created_lt``), a buyer's email; ``starting_after`` is the last id of the page before."""

    limit: int = 10
    starting_after: str | None = None
    status: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    email: str | None = None

    async def page(
        self, session: AsyncSession, access: Access, resource: Resource, model: type[Row]
    ) -> tuple[list[tuple[Row, Grant]], bool]:
        """One page of the rows of ``model`` that ``access`` may list, each with the grant
        that says what of it is shown; and whether more follow."""
        table: Any = model
        allowed = access.scope(resource, Action.LIST, model)
        query = select(model).where(allowed)
        if self.status is not None:
            query = query.where(table.status == self.status)
        if self.created_gte is not None:
            query = query.where(table.created_at >= self.created_gte)
        if self.created_lt is not None:
            query = query.where(table.created_at < self.created_lt)
        if self.email is not None:
            query = query.where(func.lower(table.customer_email) == self.email.lower())
        if self.starting_after is not None:
            found = (
                await session.execute(
                    select(table.created_at, table.id).where(
                        table.id == self.starting_after, allowed
                    )
                )
            ).first()
            if found is None:
                raise Malformed(
                    "invalid_cursor",
                    f"No {table.__tablename__[:-1]} {self.starting_after!r} to start after.",
                    field="starting_after",
                )
            created_at, row_id = found
            query = query.where(
                or_(
                    table.created_at < created_at,
                    and_(table.created_at == created_at, table.id < row_id),
                )
            )
        rows = list(
            await session.scalars(
                query.order_by(table.created_at.desc(), table.id.desc()).limit(self.limit + 1)
            )
        )
        shown = [(row, access.check(resource, Action.LIST, row)) for row in rows[: self.limit]]
        return shown, len(rows) > self.limit


@dataclass(frozen=True)
class Query:
    """A list as a query language asks for it: a condition on the rows' columns, an order, a
    window (``offset``, at most ``limit`` rows); the caller's scope is added to it."""

    where: ColumnElement[bool] | None = None
    order_by: Sequence[Any] = ()
    limit: int = MAX_PAGE
    offset: int = 0

    async def rows(
        self, session: AsyncSession, access: Access, resource: Resource, model: type[Row]
    ) -> list[tuple[Row, Grant]]:
        """The rows of ``model`` that ``access`` may list and ``where`` keeps, each with the
        grant that says what of it is shown."""
        query = select(model).where(access.scope(resource, Action.LIST, model))
        if self.where is not None:
            query = query.where(self.where)
        query = query.order_by(*self.order_by).limit(self.limit).offset(self.offset)
        found = await session.scalars(query)
        return [(row, access.check(resource, Action.LIST, row)) for row in found]
