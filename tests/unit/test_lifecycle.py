"""Every lifecycle table: complete, forward-only, dead ends that stay dead; ``advance`` obeys it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import pytest

from qrcheckout.checkout.states import (
    TOKEN_PAYMENT_TRANSITIONS,
    TOKEN_TRANSITIONS,
    TokenPaymentStatus,
    TokenStatus,
)
from qrcheckout.lifecycle import advance, can_move, terminal
from qrcheckout.orders.states import (
    ORDER_PAYMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    REFUND_TRANSITIONS,
    OrderPaymentStatus,
    OrderStatus,
)
from qrcheckout.payments.provider import RefundStatus

Table = Mapping[StrEnum, frozenset[StrEnum]]

# Each table, its states, and the states nothing may leave (written out, not derived).
TABLES: dict[str, tuple[type[StrEnum], Table, set[str]]] = {
    "token": (
        TokenStatus,
        TOKEN_TRANSITIONS,
        {"success", "invalid", "failed", "cancelled"},
    ),
    "token payment": (
        TokenPaymentStatus,
        TOKEN_PAYMENT_TRANSITIONS,
        {"paid", "failed", "expired", "rejected"},
    ),
    "order": (OrderStatus, ORDER_TRANSITIONS, {"refunded", "cancelled", "expired"}),
    "order payment": (OrderPaymentStatus, ORDER_PAYMENT_TRANSITIONS, {"succeeded", "refunded"}),
    "refund": (RefundStatus, REFUND_TRANSITIONS, {"failed", "canceled"}),
}
every_table = pytest.mark.parametrize("name", list(TABLES))


@dataclass
class Record:
    """Anything with a stored status, as the models keep it: a plain string."""

    status: str


def _reachable(table: Table, start: StrEnum) -> set[StrEnum]:
    """Every state some sequence of one or more moves leads to from ``start``."""
    seen: set[StrEnum] = set()
    frontier = list(table[start])
    while frontier:
        state = frontier.pop()
        if state not in seen:
            seen.add(state)
            frontier.extend(table[state])
    return seen


@every_table
def test_every_state_has_a_row_and_every_move_names_a_state(name: str) -> None:
    states, table, _ = TABLES[name]
    assert set(table) == set(states)
    for targets in table.values():
        assert targets <= set(states)


@every_table
def test_the_dead_ends_are_exactly_the_final_states(name: str) -> None:
    _, table, final = TABLES[name]
    assert {state.value for state in terminal(table)} == final


@every_table
def test_nothing_moves_out_of_a_final_state(name: str) -> None:
    states, table, _ = TABLES[name]
    for current in terminal(table):
        for target in states:
            record = Record(current.value)
            assert not can_move(table, current, target)
            assert advance(record, table, target) is False
            assert record.status == current.value


@every_table
def test_no_state_can_ever_come_back_to_itself(name: str) -> None:
    states, table, _ = TABLES[name]
    cycles = [state for state in states if state in _reachable(table, state)]
    assert cycles == [], f"{name}: these states can be reached again after leaving: {cycles}"


@every_table
def test_staying_put_is_not_a_move(name: str) -> None:
    states, table, _ = TABLES[name]
    for state in states:
        record = Record(state.value)
        assert not can_move(table, state, state)
        assert advance(record, table, state) is False
        assert record.status == state.value


@every_table
def test_advance_moves_a_record_exactly_when_the_table_allows_it(name: str) -> None:
    states, table, _ = TABLES[name]
    wrong = []
    for current in states:
        for target in states:
            record = Record(current.value)
            allowed = target in table[current]
            moved = advance(record, table, target)
            expected_status = target.value if allowed else current.value
            if moved is not allowed or record.status != expected_status:
                wrong.append((current.value, target.value, moved, record.status))
    assert wrong == [], f"{name}: (from, to, advance returned, status after): {wrong}"


def test_advance_walks_a_record_forward_through_several_moves() -> None:
    order = Record("pending")
    assert advance(order, ORDER_TRANSITIONS, OrderStatus.COMPLETED)
    assert advance(order, ORDER_TRANSITIONS, OrderStatus.REFUNDED)
    # A late, duplicate or out-of-order event changes nothing.
    assert not advance(order, ORDER_TRANSITIONS, OrderStatus.COMPLETED)
    assert not advance(order, ORDER_TRANSITIONS, OrderStatus.PARTIALLY_REFUNDED)
    assert order.status == "refunded"


def test_terminal_of_a_table_with_no_dead_end_is_empty() -> None:
    class Light(StrEnum):
        RED = "red"
        GREEN = "green"

    looping = {Light.RED: frozenset({Light.GREEN}), Light.GREEN: frozenset({Light.RED})}
    assert terminal(looping) == frozenset()
    # The cycle check above is no tautology: it does catch a table that goes round.
    assert Light.RED in _reachable(looping, Light.RED)
