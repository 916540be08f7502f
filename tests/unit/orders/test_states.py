"""The moves orders, their payments and their refunds rely on, and the status sets built on them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qrcheckout.lifecycle import advance, can_move
from qrcheckout.orders.states import (
    COUNTED_REFUND_STATUSES,
    ORDER_PAYMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    PAID,
    REFUND_TRANSITIONS,
    REFUNDABLE,
    OrderPaymentStatus,
    OrderStatus,
)
from qrcheckout.payments.provider import RefundStatus


@dataclass
class Record:
    status: str


def test_an_order_is_paid_then_refunded_in_parts_then_in_full() -> None:
    order = Record("pending")
    for step, moves in (
        (OrderStatus.COMPLETED, True),
        (OrderStatus.PARTIALLY_REFUNDED, True),
        (OrderStatus.PARTIALLY_REFUNDED, False),  # a second partial refund: already there
        (OrderStatus.REFUNDED, True),
    ):
        assert advance(order, ORDER_TRANSITIONS, step) is moves
        assert order.status == step.value


def test_a_completed_order_can_be_refunded_in_full_at_once() -> None:
    order = Record("completed")
    assert advance(order, ORDER_TRANSITIONS, OrderStatus.REFUNDED)


@pytest.mark.parametrize("end", [OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_a_pending_order_can_be_cancelled_or_expire(end: OrderStatus) -> None:
    order = Record("pending")
    assert advance(order, ORDER_TRANSITIONS, end)
    assert order.status == end.value


@pytest.mark.parametrize("ended", [OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_a_payment_landing_after_an_order_ended_does_not_complete_it(ended: OrderStatus) -> None:
    # The money is kept as a payment to give back (refund_pending), not applied.
    order = Record(ended.value)
    assert not advance(order, ORDER_TRANSITIONS, OrderStatus.COMPLETED)
    assert order.status == ended.value


@pytest.mark.parametrize(
    "late", [OrderStatus.PENDING, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED]
)
def test_a_refunded_order_stays_refunded(late: OrderStatus) -> None:
    order = Record("refunded")
    assert not advance(order, ORDER_TRANSITIONS, late)
    assert order.status == "refunded"


@pytest.mark.parametrize("late", [OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.PENDING])
def test_a_paid_order_is_never_cancelled_expired_or_reopened(late: OrderStatus) -> None:
    for paid in PAID:
        assert not can_move(ORDER_TRANSITIONS, paid, late)


def test_refundable_orders_are_exactly_those_that_can_still_become_refunded() -> None:
    for state in OrderStatus:
        assert (state in REFUNDABLE) == can_move(ORDER_TRANSITIONS, state, OrderStatus.REFUNDED)


def test_paid_orders_are_completed_and_every_state_after_it() -> None:
    after_completed = {OrderStatus.COMPLETED}
    frontier = [OrderStatus.COMPLETED]
    while frontier:
        for target in ORDER_TRANSITIONS[frontier.pop()]:
            if target not in after_completed:
                after_completed.add(target)
                frontier.append(target)
    assert after_completed == PAID


def test_money_to_give_back_is_given_back_once() -> None:
    payment = Record("refund_pending")
    assert advance(payment, ORDER_PAYMENT_TRANSITIONS, OrderPaymentStatus.REFUNDED)
    assert not advance(payment, ORDER_PAYMENT_TRANSITIONS, OrderPaymentStatus.REFUND_PENDING)
    assert payment.status == "refunded"


@pytest.mark.parametrize("target", [OrderPaymentStatus.REFUND_PENDING, OrderPaymentStatus.REFUNDED])
def test_an_applied_payment_is_never_turned_into_one_to_give_back(
    target: OrderPaymentStatus,
) -> None:
    payment = Record("succeeded")
    assert not advance(payment, ORDER_PAYMENT_TRANSITIONS, target)
    assert payment.status == "succeeded"


@pytest.mark.parametrize(
    "end", [RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED]
)
def test_a_pending_refund_settles_each_way(end: RefundStatus) -> None:
    refund = Record("pending")
    assert advance(refund, REFUND_TRANSITIONS, end)
    assert refund.status == end.value


def test_a_refund_waiting_on_the_customer_can_still_succeed() -> None:
    refund = Record("pending")
    assert advance(refund, REFUND_TRANSITIONS, RefundStatus.REQUIRES_ACTION)
    assert advance(refund, REFUND_TRANSITIONS, RefundStatus.SUCCEEDED)
    assert refund.status == "succeeded"


def test_a_late_pending_never_overwrites_a_succeeded_refund() -> None:
    refund = Record("succeeded")
    assert not advance(refund, REFUND_TRANSITIONS, RefundStatus.PENDING)
    assert refund.status == "succeeded"


def test_a_succeeded_refund_can_still_fail_and_nothing_else() -> None:
    # Stripe documents it: the bank may return a refund that had succeeded.
    assert REFUND_TRANSITIONS[RefundStatus.SUCCEEDED] == {RefundStatus.FAILED}
    refund = Record("succeeded")
    assert advance(refund, REFUND_TRANSITIONS, RefundStatus.FAILED)
    assert not advance(refund, REFUND_TRANSITIONS, RefundStatus.SUCCEEDED)
    assert refund.status == "failed"


def test_counted_refunds_are_those_that_have_or_may_still_give_money_back() -> None:
    def may_succeed(state: RefundStatus) -> bool:
        seen, frontier = set(), [state]
        while frontier:
            current = frontier.pop()
            if current == RefundStatus.SUCCEEDED:
                return True
            if current not in seen:
                seen.add(current)
                frontier.extend(REFUND_TRANSITIONS[current])
        return False

    assert {s for s in RefundStatus if may_succeed(s)} == COUNTED_REFUND_STATUSES
