"""Token and payment lifecycles: a StrEnum and one transition table each; only forward."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar


class TokenKind(StrEnum):
    DYNAMIC = "dynamic"
    TEMPORARY = "temporary"
    STATIC = "static"


class TokenStatus(StrEnum):
    INPROGRESS = "inprogress"
    SUCCESS = "success"
    INVALID = "invalid"
    FAILED = "failed"
    CANCELLED = "cancelled"


TOKEN_TRANSITIONS: dict[TokenStatus, frozenset[TokenStatus]] = {
    TokenStatus.INPROGRESS: frozenset(
        {TokenStatus.SUCCESS, TokenStatus.INVALID, TokenStatus.FAILED, TokenStatus.CANCELLED}
    ),
    TokenStatus.SUCCESS: frozenset(),
    TokenStatus.INVALID: frozenset(),
    TokenStatus.FAILED: frozenset(),
    TokenStatus.CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, targets in TOKEN_TRANSITIONS.items() if not targets)


class PaymentStatus(StrEnum):
    """One provider checkout session started from a token."""

    OPEN = "open"
    PROCESSING = "processing"  # completed, payment_status "unpaid": an async method is settling
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"  # paid, but the amount or currency differs from the token's


PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.OPEN: frozenset(
        {
            PaymentStatus.PROCESSING,
            PaymentStatus.PAID,
            PaymentStatus.FAILED,
            PaymentStatus.EXPIRED,
            PaymentStatus.REJECTED,
        }
    ),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.REJECTED}
    ),
    PaymentStatus.PAID: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.EXPIRED: frozenset(),
    PaymentStatus.REJECTED: frozenset(),
}


S = TypeVar("S", bound=StrEnum)


def can_move(table: dict[S, frozenset[S]], current: S, target: S) -> bool:
    """True when ``current -> target`` is in ``table``; staying put is not a move."""
    return target in table[current]


def advance(record: Any, table: dict[S, frozenset[S]], target: S) -> bool:
    """Set ``record.status`` to ``target`` when ``table`` allows the move; False otherwise."""
    if not can_move(table, type(target)(record.status), target):
        return False
    record.status = target.value
    return True
