"""The buyer's receipt after paying: the session they name (a static code takes many), else the
token's own outcome, and what the page should say about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qrcheckout.checkout.models import Payment, Token
from qrcheckout.checkout.states import TokenKind, TokenPaymentStatus, TokenStatus

# A session whose money the provider took, and one that ended without taking any.
_MONEY_TAKEN = frozenset({TokenPaymentStatus.PAID, TokenPaymentStatus.REJECTED})
_NOT_PAID = frozenset({TokenPaymentStatus.FAILED, TokenPaymentStatus.EXPIRED})


class ReceiptState(StrEnum):
    PAID = "paid"
    WAITING = "waiting"  # the buyer is back; the payment is not confirmed yet
    FAILED = "failed"
    ENDED = "ended"  # expired or cancelled before it was paid
    GIVEN_BACK = "given_back"  # paid after it ended (or the wrong amount): refunded


@dataclass(frozen=True)
class Receipt:
    """What the buyer's page after paying says: the token, and the session that paid."""

    state: ReceiptState
    token: Token
    paid: Payment | None = None


def receipt_of(token: Token, session_id: str | None) -> Receipt:
    """The buyer's receipt: the session they name (a static token takes many), else the
    token's own outcome."""
    named = next((p for p in token.payments if p.id == session_id), None)
    if named is not None and named.problem is not None and named.status in _MONEY_TAKEN:
        return Receipt(ReceiptState.GIVEN_BACK, token, named)
    if named is not None and named.status == TokenPaymentStatus.PAID:
        return Receipt(ReceiptState.PAID, token, named)
    if token.kind != TokenKind.STATIC and token.status == TokenStatus.SUCCESS:
        paid = next(
            (
                p
                for p in token.payments
                if p.status == TokenPaymentStatus.PAID and p.problem is None
            ),
            None,
        )
        return Receipt(ReceiptState.PAID, token, paid)
    if named is not None and named.status in _NOT_PAID:
        return Receipt(ReceiptState.FAILED, token, named)
    if token.status == TokenStatus.INPROGRESS:
        return Receipt(ReceiptState.WAITING, token, named)
    if token.status == TokenStatus.FAILED:
        return Receipt(ReceiptState.FAILED, token, named)
    return Receipt(ReceiptState.ENDED, token, named)
