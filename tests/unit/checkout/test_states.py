"""The moves the QR checkout relies on for tokens and the provider sessions opened for them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qrcheckout.checkout.states import (
    TERMINAL,
    TOKEN_PAYMENT_TRANSITIONS,
    TOKEN_TRANSITIONS,
    TokenPaymentStatus,
    TokenStatus,
)
from qrcheckout.lifecycle import advance, can_move


@dataclass
class Record:
    status: str


@pytest.mark.parametrize(
    "end", [TokenStatus.SUCCESS, TokenStatus.INVALID, TokenStatus.FAILED, TokenStatus.CANCELLED]
)
def test_a_token_in_progress_can_end_each_way(end: TokenStatus) -> None:
    token = Record("inprogress")
    assert advance(token, TOKEN_TRANSITIONS, end)
    assert token.status == end.value


@pytest.mark.parametrize("late", [TokenStatus.FAILED, TokenStatus.CANCELLED, TokenStatus.INVALID])
def test_a_paid_token_stays_paid_whatever_comes_after(late: TokenStatus) -> None:
    token = Record("inprogress")
    assert advance(token, TOKEN_TRANSITIONS, TokenStatus.SUCCESS)
    assert not advance(token, TOKEN_TRANSITIONS, late)
    assert not advance(token, TOKEN_TRANSITIONS, TokenStatus.INPROGRESS)
    assert token.status == "success"


def test_the_terminal_token_states_are_every_state_but_in_progress() -> None:
    assert set(TokenStatus) - TERMINAL == {TokenStatus.INPROGRESS}


def test_a_card_payment_goes_straight_from_open_to_paid() -> None:
    session = Record("open")
    assert advance(session, TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.PAID)
    assert session.status == "paid"


def test_a_delayed_payment_settles_through_processing() -> None:
    session = Record("open")
    assert advance(session, TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.PROCESSING)
    assert advance(session, TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.PAID)
    assert session.status == "paid"


def test_a_delayed_payment_can_fail_while_processing() -> None:
    session = Record("processing")
    assert advance(session, TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.FAILED)
    assert session.status == "failed"


@pytest.mark.parametrize("current", [TokenPaymentStatus.OPEN, TokenPaymentStatus.PROCESSING])
def test_money_of_the_wrong_amount_is_rejected_open_or_processing(
    current: TokenPaymentStatus,
) -> None:
    assert can_move(TOKEN_PAYMENT_TRANSITIONS, current, TokenPaymentStatus.REJECTED)


def test_only_an_open_session_expires() -> None:
    assert can_move(TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.OPEN, TokenPaymentStatus.EXPIRED)
    # A completed session (settling) is past expiry: Stripe no longer expires it.
    assert not can_move(
        TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.PROCESSING, TokenPaymentStatus.EXPIRED
    )


@pytest.mark.parametrize(
    "late",
    [
        TokenPaymentStatus.OPEN,
        TokenPaymentStatus.PROCESSING,
        TokenPaymentStatus.FAILED,
        TokenPaymentStatus.EXPIRED,
    ],
)
def test_a_late_event_never_downgrades_a_paid_session(late: TokenPaymentStatus) -> None:
    session = Record("paid")
    assert not advance(session, TOKEN_PAYMENT_TRANSITIONS, late)
    assert session.status == "paid"


def test_an_expired_session_is_never_turned_into_a_paid_one() -> None:
    session = Record("expired")
    assert not advance(session, TOKEN_PAYMENT_TRANSITIONS, TokenPaymentStatus.PAID)
    assert session.status == "expired"
