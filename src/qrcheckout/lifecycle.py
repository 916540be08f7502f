"""One rule for every lifecycle: a ``StrEnum`` of states, one transition table, ``advance``.

Tokens, the provider sessions opened for them, orders, the money paid for orders and refunds
each keep their own table beside their own package; all of them move through ``advance``, so
a late, duplicate or out-of-order event can only move a record forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol, TypeVar

S = TypeVar("S", bound=StrEnum)

Transitions = Mapping[S, frozenset[S]]


class HasStatus(Protocol):
    status: str


def can_move(table: Transitions[S], current: S, target: S) -> bool:
    """True when ``current -> target`` is in ``table``; staying put is not a move."""
    return target in table[current]


def advance(record: HasStatus, table: Transitions[S], target: S) -> bool:
    """Set ``record.status`` to ``target`` when ``table`` allows the move; False otherwise."""
    if not can_move(table, type(target)(record.status), target):
        return False
    record.status = target.value
    return True


def terminal(table: Transitions[S]) -> frozenset[S]:
    """The states nothing leaves."""
    return frozenset(state for state, targets in table.items() if not targets)
