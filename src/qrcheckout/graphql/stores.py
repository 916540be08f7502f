"""Each table's rows through the domain services: what Hasura would read and write in SQL, done
here by the services that own the rules (prices from the catalog, statuses only forward, the
permission table on every row)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from qrcheckout.access.permissions import PUBLIC_TOKEN, Access, Action, Grant, Resource
from qrcheckout.catalog.schemas import ProductCreate, ProductOut, ProductUpdate
from qrcheckout.checkout.schemas import TokenCreate
from qrcheckout.checkout.service import TOKENS_TOPIC, token_topic
from qrcheckout.checkout.states import TokenStatus
from qrcheckout.container import Container
from qrcheckout.db import utcnow
from qrcheckout.errors import Forbidden, Invalid, NotFound
from qrcheckout.graphql import where as sql
from qrcheckout.graphql.tables import ORDER, PRODUCT, TOKEN, Table
from qrcheckout.listing import Query
from qrcheckout.orders.schemas import OrderCreate
from qrcheckout.orders.states import OrderStatus
from qrcheckout.ratelimit import Rule
from qrcheckout.realtime.watch import Watch

View = dict[str, Any]
# At most this many rows a query; without ``limit``, the first this many (as a Hasura
# permission's row limit does).
MAX_ROWS = 500
# A token's watchers see this until a token with that id exists.
ABSENT: View = {"absent": True}


@dataclass(frozen=True)
class Args:
    """A list's arguments, as the query gave them."""

    where: Mapping[str, Any] | None = None
    order_by: list[Mapping[str, str]] | None = None
    limit: int | None = None
    offset: int | None = None

    def query(self, table: Table) -> Query:
        if self.limit is not None and not 0 <= self.limit <= MAX_ROWS:
            raise Invalid("invalid_limit", f"limit must be 0 to {MAX_ROWS}.", field="limit")
        if self.offset is not None and self.offset < 0:
            raise Invalid("invalid_offset", "offset cannot be negative.", field="offset")
        return Query(
            where=sql.where(table, self.where),
            order_by=sql.order_by(table, self.order_by),
            limit=MAX_ROWS if self.limit is None else self.limit,
            offset=self.offset or 0,
        )


def _fields(obj: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The input's fields under the service's names; a field left out stays out."""
    return {names[key]: value for key, value in obj.items() if key in names}


def _lines(obj: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    items = obj.get("items")
    if items is None:
        return None
    return [{"product_id": i["productId"], "quantity": i["quantity"]} for i in items["data"]]


def _status_change(
    changes: Mapping[str, Any] | None, statuses: type[StrEnum], settable: str
) -> bool:
    """Whether ``_set`` asks for ``settable`` (the only status a client may set); refused for
    any other."""
    status = (changes or {}).get("status")
    if status is None:
        if changes and "status" in changes:
            raise Invalid("null_status", "status cannot be null.", field="status")
        return False
    if status not in {s.value for s in statuses}:
        raise Invalid("invalid_status", f"No status {status!r}.", field="status")
    if status != settable:
        raise Forbidden(
            "status_not_settable",
            f"Only '{settable}' can be set here; other statuses come from the payment "
            "provider and from expiry.",
        )
    return True


class Store:
    """One table's rows as ``access`` may see and change them."""

    table: Table
    # The rate limit each new row counts against (a token or an order opens a payment).
    creates: Rule | None = None

    def __init__(self, services: Container) -> None:
        self.services = services

    async def select(self, access: Access, args: Args) -> list[View]:
        raise NotImplementedError

    async def by_pk(self, access: Access, pk: str) -> View | None:
        raise NotImplementedError

    async def insert(self, access: Access, objects: Sequence[Mapping[str, Any]]) -> list[View]:
        raise NotImplementedError

    async def update_by_pk(
        self, access: Access, pk: str, changes: Mapping[str, Any] | None
    ) -> View | None:
        raise NotImplementedError

    def watch(self, access: Access, pk: str) -> AsyncIterator[View | None]:
        """The row, then again on each committed change (tables that are ``live``)."""
        raise NotImplementedError

    def watch_list(self, access: Access, args: Args) -> AsyncIterator[list[View]]:
        raise NotImplementedError

    async def update(
        self, access: Access, where: Mapping[str, Any], changes: Mapping[str, Any] | None
    ) -> list[View]:
        """``update_by_pk`` on every row ``where`` keeps that the caller may list."""
        changed = []
        for row in await self.select(access, Args(where=where)):
            view = await self.update_by_pk(access, row[self.table.pk.view], changes)
            if view is not None:
                changed.append(view)
        return changed


class Cancellable(Store):
    """Rows with a lifecycle whose only status a client may set is ``cancelled`` (the same as
    the REST cancel, with its permission); the rest come from the provider and from expiry."""

    statuses: type[StrEnum]
    # The status a row can be cancelled from.
    open: str

    async def cancel(self, access: Access, pk: str) -> View:
        raise NotImplementedError

    async def update_by_pk(
        self, access: Access, pk: str, changes: Mapping[str, Any] | None
    ) -> View | None:
        if not _status_change(changes, self.statuses, "cancelled"):
            return await self.by_pk(access, pk)
        try:
            return await self.cancel(access, pk)
        except NotFound:
            return None

    async def update(
        self, access: Access, where: Mapping[str, Any], changes: Mapping[str, Any] | None
    ) -> list[View]:
        # Checked before any row is touched; only live rows can be cancelled.
        if _status_change(changes, self.statuses, "cancelled"):
            where = {"_and": [where, {"status": {"_eq": self.open}}]}
        return await super().update(access, where, changes)


class Tokens(Cancellable):
    table = TOKEN
    creates = Rule.TOKENS
    statuses = TokenStatus
    open = TokenStatus.INPROGRESS.value

    async def select(self, access: Access, args: Args) -> list[View]:
        return await self.services.tokens.select(access, args.query(self.table))

    async def by_pk(self, access: Access, pk: str) -> View | None:
        try:
            return await self.services.tokens.read(access, pk)
        except NotFound:
            return None

    async def insert(self, access: Access, objects: Sequence[Mapping[str, Any]]) -> list[View]:
        requests = [self._request(obj) for obj in objects]
        made = await self.services.tokens.create_many(access, requests)
        # Its creator sees all it sent.
        return [self.services.tokens.to_out(token).model_dump(mode="json") for token, _ in made]

    def _request(self, obj: Mapping[str, Any]) -> TokenCreate:
        status = obj.get("status")
        if status is not None and status not in {s.value for s in TokenStatus}:
            raise Invalid("invalid_status", f"No status {status!r}.", field="status")
        if status is not None and status != TokenStatus.INPROGRESS:
            raise Forbidden(
                "status_not_settable",
                "A new token is 'inprogress'; 'success', 'failed' and 'invalid' come only "
                "from the payment provider and from expiry.",
            )
        fields = _fields(obj, {"id": "id", "kind": "kind", "customerEmail": "customer_email"})
        if obj.get("endAt") is not None:
            seconds = math.ceil((obj["endAt"] - utcnow()).total_seconds())
            if seconds < 1:
                raise Invalid("end_in_past", "endAt must be in the future.", field="endAt")
            fields["ttl_seconds"] = seconds
        return TokenCreate.model_validate({**fields, "items": _lines(obj)})

    async def cancel(self, access: Access, pk: str) -> View:
        return await self.services.tokens.cancel(access, pk)

    # -- live ----------------------------------------------------------------------------------

    async def watch(self, access: Access, pk: str) -> AsyncIterator[View | None]:
        """The token as ``access`` may see it, then again on each committed change; None while
        no token has that id (it may be inserted later)."""
        tokens = self.services.tokens
        grant: Grant | None = None  # decided once the token is seen: whose it is never changes

        async def read() -> View:
            try:
                return tokens.message(await tokens.get(pk))
            except NotFound:
                return ABSENT

        watch = Watch(
            self.services.bus,
            token_topic(pk),
            read,
            lambda _: False,  # a live query lasts until the client ends it
            poll_seconds=self.services.settings.watch_poll_seconds,
            keepalive_seconds=None,  # the WebSocket's pings keep it open
            transport="graphql",
        )
        await watch.open()
        async for state in watch.states():
            if not state:
                continue  # a keepalive: the protocol has its own
            if state.get("absent"):
                yield None
                continue
            if grant is None:
                grant = access.check(Resource.TOKEN, Action.SUBSCRIBE, await tokens.get(pk))
            if grant.hides >= PUBLIC_TOKEN.hides:
                yield grant.view(state)  # the message is the public view: nothing to read
            else:
                yield tokens.view(await tokens.get(pk), grant)

    async def watch_list(self, access: Access, args: Args) -> AsyncIterator[list[View]]:
        """The list, then again whenever one of the caller's tokens changed."""
        access.grants(Resource.TOKEN, Action.LIST)
        query = args.query(self.table)

        async def read() -> View:
            return {"rows": await self.services.tokens.select(access, query)}

        def concerns(notice: View) -> bool:
            return access.allows(Resource.TOKEN, Action.LIST, notice) is not None

        watch = Watch(
            self.services.bus,
            TOKENS_TOPIC,
            read,
            lambda _: False,
            poll_seconds=self.services.settings.watch_poll_seconds,
            keepalive_seconds=None,  # the WebSocket's pings keep it open
            reread_on=concerns,
            transport="graphql",
        )
        await watch.open()
        async for state in watch.states():
            if state:
                yield state["rows"]


PRODUCT_FIELDS = {
    "id": "id",
    "name": "name",
    "description": "description",
    "unitAmount": "unit_amount",
    "currency": "currency",
    "active": "active",
}


class Products(Store):
    table = PRODUCT

    @staticmethod
    def _view(product: Any) -> View:
        return ProductOut.model_validate(product).model_dump(mode="json")

    async def select(self, access: Access, args: Args) -> list[View]:
        rows = await self.services.catalog.select(access, args.query(self.table))
        return [self._view(product) for product in rows]

    async def by_pk(self, access: Access, pk: str) -> View | None:
        try:
            return self._view(await self.services.catalog.get(access, pk))
        except NotFound:
            return None

    async def insert(self, access: Access, objects: Sequence[Mapping[str, Any]]) -> list[View]:
        news = [ProductCreate.model_validate(_fields(obj, PRODUCT_FIELDS)) for obj in objects]
        return [self._view(p) for p in await self.services.catalog.add_many(access, news)]

    async def update_by_pk(
        self, access: Access, pk: str, changes: Mapping[str, Any] | None
    ) -> View | None:
        update = ProductUpdate.model_validate(_fields(changes or {}, PRODUCT_FIELDS))
        try:
            return self._view(await self.services.catalog.update(access, pk, update))
        except NotFound:
            return None


class Orders(Cancellable):
    table = ORDER
    creates = Rule.TOKENS
    statuses = OrderStatus
    open = OrderStatus.PENDING.value

    async def select(self, access: Access, args: Args) -> list[View]:
        return await self.services.orders.select(access, args.query(self.table))

    async def by_pk(self, access: Access, pk: str) -> View | None:
        try:
            return await self.services.orders.read(access, pk)
        except NotFound:
            return None

    async def insert(self, access: Access, objects: Sequence[Mapping[str, Any]]) -> list[View]:
        if len(objects) != 1:
            # An order opens a payment at the provider: one is made, or refused, at a time.
            raise Invalid("one_order", "Insert one order at a time.", field="objects")
        fields = _fields(
            objects[0], {"customerEmail": "customer_email", "paymentMode": "payment_mode"}
        )
        request = OrderCreate.model_validate({**fields, "items": _lines(objects[0])})
        order, _ = await self.services.orders.create(access, request)
        return [self.services.orders.message(order)]  # its creator sees all it sent

    async def cancel(self, access: Access, pk: str) -> View:
        return await self.services.orders.cancel(access, pk)
