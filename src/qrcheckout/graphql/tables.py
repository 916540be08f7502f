"""Hasura's shape for what the product holds: each table's columns, and the schema (SDL) built
from them, with Hasura's names (``token_bool_exp``, ``insert_token_one``, ``query_root``, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qrcheckout.access.permissions import Resource
from qrcheckout.catalog.models import Product
from qrcheckout.checkout.models import Token
from qrcheckout.orders.models import Order

SCALARS = ("uuid", "String", "Int", "Boolean", "timestamptz")
ORDER_BY = (
    "asc",
    "asc_nulls_first",
    "asc_nulls_last",
    "desc",
    "desc_nulls_first",
    "desc_nulls_last",
)


@dataclass(frozen=True)
class Column:
    """One field of a table's type: read from the service's view at ``view``; where and
    order_by reach it through the model's ``attribute`` (None: it cannot be filtered on)."""

    name: str
    scalar: str
    view: str
    attribute: str | None = None
    nullable: bool = False

    @property
    def sdl(self) -> str:
        return f"{self.name}: {self.scalar}{'' if self.nullable else '!'}"


@dataclass(frozen=True)
class Table:
    name: str
    resource: Resource
    model: Any
    pk: Column
    columns: tuple[Column, ...]
    # Fields of ``{name}_insert_input`` and ``{name}_set_input``, as SDL.
    insert: tuple[str, ...]
    set: tuple[str, ...]
    # Whether changes are pushed live (``subscription_root``).
    live: bool = True

    @property
    def filterable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.attribute is not None)

    def shape(self, view: Mapping[str, Any]) -> dict[str, Any]:
        """A service's view of a row as this type's fields; what the view hides is null."""
        row = {c.name: view.get(c.view) for c in self.columns}
        if "items" in view:
            row["items"] = [ITEM.shape(item) for item in view["items"]]
        return row


def _c(name: str, scalar: str, view: str, attribute: str | None = None, **kw: Any) -> Column:
    return Column(name, scalar, view, attribute, **kw)


# A line as it was sold (a token's or an order's): never filtered on.
ITEM = Table(
    name="item",
    resource=Resource.PRODUCT,
    model=None,
    pk=_c("productId", "String", "product_id"),
    columns=(
        _c("productId", "String", "product_id"),
        _c("name", "String", "name"),
        _c("unitAmount", "Int", "unit_amount"),
        _c("quantity", "Int", "quantity"),
        _c("amount", "Int", "amount"),
    ),
    insert=("productId: String!", "quantity: Int!"),
    set=(),
    live=False,
)

TOKEN = Table(
    name="token",
    resource=Resource.TOKEN,
    model=Token,
    pk=_c("id", "uuid", "id", "id"),
    columns=(
        # The first design's columns, as it named them.
        _c("id", "uuid", "id", "id"),
        _c("createdAt", "timestamptz", "created_at", "created_at"),
        _c("endAt", "timestamptz", "end_at", "end_at", nullable=True),
        _c("status", "String", "status", "status"),
        _c("userId", "String", "user_id", "user_id", nullable=True),
        _c("stripeSessionId", "String", "stripe_session_id", "session_id", nullable=True),
        # What the product adds.
        _c("provider", "String", "provider", "provider"),
        _c("sessionId", "String", "session_id", "session_id", nullable=True),
        _c("merchantId", "String", "merchant", "merchant_id"),
        _c("kind", "String", "kind", "kind"),
        _c("amountTotal", "Int", "amount_total", "amount_total"),
        _c("currency", "String", "currency", "currency"),
        _c("amountDisplay", "String", "amount_display"),
        _c("customerEmail", "String", "customer_email", "customer_email", nullable=True),
        _c("paymentUrl", "String", "url"),
        _c("qrSvgUrl", "String", "qr_svg_url"),
        _c("qrPngUrl", "String", "qr_png_url"),
        _c("paidAt", "timestamptz", "paid_at", "paid_at", nullable=True),
        _c("paidCount", "Int", "paid_count", "paid_count"),
        _c("failureCode", "String", "failure_code", "failure_code", nullable=True),
        _c("failureMessage", "String", "failure_message", nullable=True),
    ),
    insert=(
        "id: uuid",
        "status: String",
        "kind: String",
        "customerEmail: String",
        "endAt: timestamptz",
        "items: items_arr_rel_insert_input",
    ),
    set=("status: String",),
)

PRODUCT = Table(
    name="product",
    resource=Resource.PRODUCT,
    model=Product,
    pk=_c("id", "String", "id", "id"),
    columns=(
        _c("id", "String", "id", "id"),
        _c("name", "String", "name", "name"),
        _c("description", "String", "description"),
        _c("unitAmount", "Int", "unit_amount", "unit_amount"),
        _c("currency", "String", "currency", "currency"),
        _c("active", "Boolean", "active", "active"),
        _c("createdAt", "timestamptz", "created_at", "created_at"),
    ),
    insert=(
        "id: String!",
        "name: String!",
        "description: String",
        "unitAmount: Int!",
        "currency: String",
    ),
    set=(
        "name: String",
        "description: String",
        "unitAmount: Int",
        "currency: String",
        "active: Boolean",
    ),
    live=False,
)

ORDER = Table(
    name="order",
    resource=Resource.ORDER,
    model=Order,
    pk=_c("id", "String", "id", "id"),
    columns=(
        _c("id", "String", "id", "id"),
        _c("merchantId", "String", "merchant", "merchant_id"),
        _c("status", "String", "status", "status"),
        _c("paymentMode", "String", "payment_mode", "payment_mode"),
        _c("amount", "Int", "amount", "amount"),
        _c("amountPaid", "Int", "amount_paid", "amount_paid"),
        _c("amountRefunded", "Int", "amount_refunded", "amount_refunded"),
        _c("amountDue", "Int", "amount_due"),
        _c("currency", "String", "currency", "currency"),
        _c("attempts", "Int", "attempts", "attempts"),
        _c("userId", "String", "owner", "owner", nullable=True),
        _c("customerEmail", "String", "customer_email", "customer_email", nullable=True),
        _c("createdAt", "timestamptz", "created_at", "created_at"),
        _c("expiresAt", "timestamptz", "expires_at", "expires_at", nullable=True),
        _c("completedAt", "timestamptz", "completed_at", "completed_at", nullable=True),
        _c("paymentUrl", "String", "payment_url", nullable=True),
        _c("qrUrl", "String", "qr_url", nullable=True),
        _c("tokenId", "uuid", "token_id", "token_id", nullable=True),
        _c("failureCode", "String", "failure_code", "failure_code", nullable=True),
        _c("failureMessage", "String", "failure_message", nullable=True),
    ),
    insert=("customerEmail: String", "paymentMode: String", "items: items_arr_rel_insert_input!"),
    set=("status: String",),
    # Its status reaches its merchant as webhooks; not (yet) pushed here.
    live=False,
)

TABLES = (TOKEN, PRODUCT, ORDER)


def _block(kind: str, name: str, fields: list[str] | tuple[str, ...]) -> str:
    body = "\n".join(f"  {field}" for field in fields)
    return f"{kind} {name} {{\n{body}\n}}"


def _list_args(table: Table) -> str:
    t = table.name
    return f"where: {t}_bool_exp, order_by: [{t}_order_by!], limit: Int, offset: Int"


def _comparison(scalar: str) -> str:
    return _block(
        "input",
        f"{scalar}_comparison_exp",
        [
            f"_eq: {scalar}",
            f"_neq: {scalar}",
            f"_gt: {scalar}",
            f"_gte: {scalar}",
            f"_lt: {scalar}",
            f"_lte: {scalar}",
            f"_in: [{scalar}!]",
            f"_nin: [{scalar}!]",
            "_is_null: Boolean",
        ],
    )


def _table_types(table: Table) -> list[str]:
    t = table.name
    fields = [c.sdl for c in table.columns]
    if t in ("token", "order"):
        fields.append("items: [item!]!")
    filters = [f"{c.name}: {c.scalar}_comparison_exp" for c in table.filterable]
    return [
        _block("type", t, fields),
        _block(
            "input",
            f"{t}_bool_exp",
            [f"_and: [{t}_bool_exp!]", f"_or: [{t}_bool_exp!]", f"_not: {t}_bool_exp", *filters],
        ),
        _block("input", f"{t}_order_by", [f"{c.name}: order_by" for c in table.filterable]),
        _block("input", f"{t}_pk_columns_input", [f"{table.pk.name}: {table.pk.scalar}!"]),
        _block("input", f"{t}_insert_input", table.insert),
        _block("input", f"{t}_set_input", table.set),
        _block("type", f"{t}_mutation_response", ["affected_rows: Int!", f"returning: [{t}!]!"]),
    ]


def _roots(table: Table) -> tuple[list[str], list[str]]:
    t, pk = table.name, table.pk
    reads = [
        f"{t}({_list_args(table)}): [{t}!]!",
        f"{t}_by_pk({pk.name}: {pk.scalar}!): {t}",
    ]
    writes = [
        f"insert_{t}(objects: [{t}_insert_input!]!): {t}_mutation_response",
        f"insert_{t}_one(object: {t}_insert_input!): {t}",
        f"update_{t}_by_pk(pk_columns: {t}_pk_columns_input!, _set: {t}_set_input): {t}",
        f"update_{t}(where: {t}_bool_exp!, _set: {t}_set_input): {t}_mutation_response",
    ]
    return reads, writes


def sdl() -> str:
    """The whole schema, as Hasura would generate it for these tables."""
    parts = [
        "scalar uuid",
        "scalar timestamptz",
        _block("enum", "order_by", ORDER_BY),
        *(_comparison(scalar) for scalar in SCALARS),
        _block("type", "item", [c.sdl for c in ITEM.columns]),
        _block("input", "items_insert_input", ITEM.insert),
        _block("input", "items_arr_rel_insert_input", ["data: [items_insert_input!]!"]),
    ]
    query, mutation, subscription = [], [], []
    for table in TABLES:
        parts += _table_types(table)
        reads, writes = _roots(table)
        query += reads
        mutation += writes
        if table.live:
            subscription += reads
    parts += [
        _block("type", "query_root", query),
        _block("type", "mutation_root", mutation),
        _block("type", "subscription_root", subscription),
        "schema {\n  query: query_root\n  mutation: mutation_root\n"
        "  subscription: subscription_root\n}",
    ]
    return "\n\n".join(parts) + "\n"
