"""The executable schema: Hasura's root fields for each table, resolved through its store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from ariadne import ObjectType, ScalarType, SubscriptionType, make_executable_schema
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

from qrcheckout.access.permissions import Access
from qrcheckout.graphql.stores import Args, Store, View
from qrcheckout.graphql.tables import TABLES, Table, sdl
from qrcheckout.inputs import has_control_characters
from qrcheckout.ratelimit import Rule

Info: TypeAlias = "GraphQLResolveInfo[Any]"
# Deeper than any real query of these types goes (introspection's own is about 12).
MAX_DEPTH = 15


@dataclass(frozen=True)
class Context:
    """What every resolver of one operation knows: who asks, and the tables' stores."""

    access: Access
    stores: Mapping[str, Store]
    # Counts one hit of a rate limit against the client (429 past it).
    limit: Callable[[Rule], Awaitable[None]]


def _context(info: Info) -> Context:
    context: Context = info.context
    return context


def _parse_uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a uuid is a string")
    return str(uuid.UUID(value))


def _parse_timestamptz(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a timestamptz is an ISO 8601 string")
    moment = datetime.fromisoformat(value)
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as exc:  # an offset that takes it past year 1 or 9999
        raise ValueError("a timestamptz out of range") from exc


def _serialize_timestamptz(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _bind(table: Table, query: ObjectType, mutation: ObjectType, live: SubscriptionType) -> None:
    t, pk = table.name, table.pk.name

    def store(info: Info) -> tuple[Store, Access]:
        context = _context(info)
        return context.stores[t], context.access

    async def creating(info: Info, count: int) -> tuple[Store, Access]:
        found, access = store(info)
        if found.creates is not None:
            for _ in range(count):
                await _context(info).limit(found.creates)
        return found, access

    def shape(view: View | None) -> dict[str, Any] | None:
        return None if view is None else table.shape(view)

    def response(views: list[View]) -> dict[str, Any]:
        return {"affected_rows": len(views), "returning": [table.shape(v) for v in views]}

    async def rows(_: Any, info: Info, **args: Any) -> list[dict[str, Any]]:
        found, access = store(info)
        return [table.shape(v) for v in await found.select(access, Args(**args))]

    async def by_pk(_: Any, info: Info, **args: Any) -> dict[str, Any] | None:
        found, access = store(info)
        if has_control_characters(args[pk]):
            return None  # no row has such an id
        return shape(await found.by_pk(access, args[pk]))

    async def insert(_: Any, info: Info, objects: list[dict[str, Any]]) -> dict[str, Any]:
        found, access = await creating(info, len(objects))
        return response(await found.insert(access, objects))

    async def insert_one(_: Any, info: Info, object: dict[str, Any]) -> dict[str, Any] | None:
        found, access = await creating(info, 1)
        return shape((await found.insert(access, [object]))[0])

    async def update_by_pk(
        _: Any,
        info: Info,
        pk_columns: dict[str, Any],
        _set: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        found, access = store(info)
        if has_control_characters(pk_columns[pk]):
            return None
        return shape(await found.update_by_pk(access, pk_columns[pk], _set))

    async def update(
        _: Any, info: Info, where: dict[str, Any], _set: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        found, access = store(info)
        return response(await found.update(access, where, _set))

    query.set_field(t, rows)
    query.set_field(f"{t}_by_pk", by_pk)
    mutation.set_field(f"insert_{t}", insert)
    mutation.set_field(f"insert_{t}_one", insert_one)
    mutation.set_field(f"update_{t}_by_pk", update_by_pk)
    mutation.set_field(f"update_{t}", update)
    if not table.live:
        return

    async def watch_rows(_: Any, info: Info, **args: Any) -> AsyncGenerator[Any, None]:
        found, access = store(info)
        async for views in found.watch_list(access, Args(**args)):
            yield [table.shape(v) for v in views]

    async def watch_one(_: Any, info: Info, **args: Any) -> AsyncGenerator[Any, None]:
        found, access = store(info)
        async for view in found.watch(access, args[pk]):
            yield shape(view)

    live.set_source(t, watch_rows)
    live.set_source(f"{t}_by_pk", watch_one)
    # What the source yields is already the field's value.
    live.set_field(t, lambda value, *_, **__: value)
    live.set_field(f"{t}_by_pk", lambda value, *_, **__: value)


def build() -> GraphQLSchema:
    query, mutation = ObjectType("query_root"), ObjectType("mutation_root")
    live = SubscriptionType()
    live.name = "subscription_root"
    for table in TABLES:
        _bind(table, query, mutation, live)
    scalars = [
        ScalarType("uuid", serializer=str, value_parser=_parse_uuid),
        ScalarType(
            "timestamptz", serializer=_serialize_timestamptz, value_parser=_parse_timestamptz
        ),
    ]
    return make_executable_schema(sdl(), query, mutation, live, *scalars)


class DepthLimit(ValidationRule):
    """Refuses an operation whose selections nest deeper than ``MAX_DEPTH``."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        # Each fragment's depth once: a fragment spread twice per level must not cost 2^n.
        self._fragments: dict[str, int] = {}
        depth = self._depth(node.selection_set, set())
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(f"The query nests {depth} levels deep; at most {MAX_DEPTH}.", node)
            )

    def _depth(self, selections: SelectionSetNode | None, seen: set[str]) -> int:
        if selections is None:
            return 0
        deepest = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                deepest = max(deepest, 1 + self._depth(selection.selection_set, seen))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self._depth(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                name = selection.name.value
                if name not in self._fragments:
                    fragment = self.context.get_fragment(name)
                    self._fragments[name] = (
                        0
                        if fragment is None
                        else self._depth(fragment.selection_set, seen | {name})
                    )
                deepest = max(deepest, self._fragments[name])
        return deepest
