"""Lifecycles of tokens and of the provider checkout sessions opened for them."""

from __future__ import annotations

from enum import StrEnum

from qrcheckout.lifecycle import terminal


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

TERMINAL = terminal(TOKEN_TRANSITIONS)


class TokenPaymentStatus(StrEnum):
    """One provider checkout session started from a token."""

    OPEN = "open"
    APPROVED = "approved"  # the buyer approved; the money is taken once the service completes it
    PROCESSING = "processing"  # completed, payment_status "unpaid": an async method is settling
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"  # paid, but the amount or currency differs from the token's


TOKEN_PAYMENT_TRANSITIONS: dict[TokenPaymentStatus, frozenset[TokenPaymentStatus]] = {
    TokenPaymentStatus.OPEN: frozenset(
        {
            TokenPaymentStatus.APPROVED,
            TokenPaymentStatus.PROCESSING,
            TokenPaymentStatus.PAID,
            TokenPaymentStatus.FAILED,
            TokenPaymentStatus.EXPIRED,
            TokenPaymentStatus.REJECTED,
        }
    ),
    TokenPaymentStatus.APPROVED: frozenset(
        {
            TokenPaymentStatus.PROCESSING,
            TokenPaymentStatus.PAID,
            TokenPaymentStatus.FAILED,
            TokenPaymentStatus.EXPIRED,
            TokenPaymentStatus.REJECTED,
        }
    ),
    TokenPaymentStatus.PROCESSING: frozenset(
        {TokenPaymentStatus.PAID, TokenPaymentStatus.FAILED, TokenPaymentStatus.REJECTED}
    ),
    TokenPaymentStatus.PAID: frozenset(),
    TokenPaymentStatus.FAILED: frozenset(),
    TokenPaymentStatus.EXPIRED: frozenset(),
    TokenPaymentStatus.REJECTED: frozenset(),
}
