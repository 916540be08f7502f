"""Hasura's boolean expressions and ``order_by`` as SQL on a table's columns.

Only the columns a table exposes can be named; an explicit ``null`` operand is refused rather
than read as "no condition" (which would widen a filter to every row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, true

from qrcheckout.errors import Invalid
from qrcheckout.graphql.tables import Table
from qrcheckout.inputs import has_control_characters

MAX_DEPTH = 10


def where(
    table: Table, expression: Mapping[str, Any] | None, depth: int = 0
) -> ColumnElement[bool]:
    """``{"status": {"_eq": "success"}, "_or": [...]}`` as a WHERE clause on ``table``."""
    if expression is None:
        return true()
    if depth > MAX_DEPTH:
        raise Invalid("where_too_deep", f"A where may nest at most {MAX_DEPTH} levels.")
    columns = {c.name: c for c in table.filterable}
    clauses: list[ColumnElement[bool]] = []
    for key, value in expression.items():
        if value is None:
            raise _null(key)
        if key == "_and":
            clauses.append(and_(true(), *(where(table, e, depth + 1) for e in value)))
        elif key == "_or":
            parts = [where(table, e, depth + 1) for e in value]
            clauses.append(or_(*parts) if parts else true())
        elif key == "_not":
            clauses.append(not_(where(table, value, depth + 1)))
        else:
            column = getattr(table.model, columns[key].attribute or key)
            clauses.append(_compare(key, column, value))
    return and_(true(), *clauses)


def _compare(name: str, column: Any, comparison: Mapping[str, Any]) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for op, operand in comparison.items():
        if operand is None:
            raise _null(f"{name}.{op}")
        if any(isinstance(v, str) and has_control_characters(v) for v in _values(operand)):
            raise Invalid(
                "control_characters", f"{name}.{op} holds a control character.", field=name
            )
        match op:
            case "_eq":
                clauses.append(column == operand)
            case "_neq":
                clauses.append(column != operand)
            case "_gt":
                clauses.append(column > operand)
            case "_gte":
                clauses.append(column >= operand)
            case "_lt":
                clauses.append(column < operand)
            case "_lte":
                clauses.append(column <= operand)
            case "_in":
                clauses.append(column.in_(list(operand)))
            case "_nin":
                clauses.append(column.not_in(list(operand)))
            case "_is_null":
                clauses.append(column.is_(None) if operand else column.is_not(None))
    return and_(true(), *clauses)


def order_by(table: Table, terms: Sequence[Mapping[str, str]] | None) -> list[Any]:
    """``[{"createdAt": "desc"}, ...]`` as ORDER BY terms, the primary key last so that a
    page's rows always come in one order (by creation when none is asked for)."""
    columns = {c.name: c for c in table.filterable}
    if not terms:
        terms = [{"createdAt": "asc"}] if "createdAt" in columns else []
    ordered: list[Any] = []
    for term in terms:
        for key, direction in term.items():
            if direction is None:
                raise _null(f"order_by.{key}")
            column = getattr(table.model, columns[key].attribute or key)
            base, _, nulls = direction.partition("_nulls_")
            term_sql = column.desc() if base == "desc" else column.asc()
            if nulls == "first":
                term_sql = term_sql.nulls_first()
            elif nulls == "last":
                term_sql = term_sql.nulls_last()
            ordered.append(term_sql)
    ordered.append(getattr(table.model, table.pk.attribute or table.pk.name).asc())
    return ordered


def _values(operand: Any) -> list[Any]:
    return list(operand) if isinstance(operand, list | tuple) else [operand]


def _null(where: str) -> Invalid:
    return Invalid(
        "null_operand",
        f"{where} is null: leave it out instead (a null operand filters nothing).",
        field=where,
    )
