"""The one place money meets orders: payments applied once, refunds settled, fulfilment.

Every payment the provider reports for an order goes through ``record_payment`` and every
refund through ``settle_refunds``, inside the transaction of the request or event that
brought it, so a duplicate, concurrent or replayed event changes nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.roles import Owner
from qrcheckout.catalog import seats
from qrcheckout.checkout.models import Payment
from qrcheckout.connect.service import paid_on
from qrcheckout.db import utcnow
from qrcheckout.errors import NotFound
from qrcheckout.lifecycle import advance
from qrcheckout.money import format_amount
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.models import Entitlement, Order, OrderPayment, OrderRefund
from qrcheckout.orders.states import (
    COUNTED_REFUND_STATUSES,
    HOLDS_SEATS,
    ORDER_PAYMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    REFUND_TRANSITIONS,
    SELLS_SEATS,
    OrderPaymentStatus,
    OrderStatus,
    RefundSource,
)
from qrcheckout.payments.events import (
    ChargeRefunded,
    ChargeSucceeded,
    CheckoutPaid,
    RefundChanged,
    RefundSeen,
)
from qrcheckout.payments.provider import RefundStatus
from qrcheckout.realtime.bus import Outbox

log = logging.getLogger(__name__)


class Ledger:
    def __init__(self, notifier: Notifier, render: Callable[[Order], dict[str, Any]]) -> None:
        self.notifier = notifier
        self.message = render

    # -- provider events (inside the webhook transaction) ---------------------------------

    async def on_checkout_paid(
        self, session: AsyncSession, outbox: Outbox, paid: CheckoutPaid
    ) -> Owner | None:
        if paid.reference is None or not paid.amount:
            return None
        # The token's session, accepted from the account it was opened on (tokens go first).
        opened = await session.get(Payment, paid.session_id)
        if opened is None or (opened.provider, opened.account_id) != (paid.provider, paid.account):
            return None
        order = await find_order(session, Order.token_id == paid.reference)
        if order is None:
            return None
        payment_id = paid.payment_id or paid.session_id
        await self.record_payment(
            session,
            outbox,
            order,
            payment_id,
            None,
            paid.amount,
            paid.currency,
            (paid.provider, paid.account),
        )
        return order_owner(order)

    async def on_charge_succeeded(
        self, session: AsyncSession, outbox: Outbox, charge: ChargeSucceeded
    ) -> Owner | None:
        known = await session.get(OrderPayment, charge.payment_id)
        if known is not None:
            if (known.provider, known.account_id) != (charge.provider, charge.account):
                return None
            known.charge_id = known.charge_id or charge.charge_id
            paid_for = await session.get(Order, known.order_id)
            return order_owner(paid_for) if paid_for is not None else None
        if charge.order_id is None:
            return None
        order = await find_order(session, Order.id == charge.order_id)
        if order is None or charge.amount is None:
            return None
        if await paid_on(session, order.merchant_id) != charge.account:
            log.warning("order %s: a charge from another account is ignored", order.id)
            return None
        await self.record_payment(
            session,
            outbox,
            order,
            charge.payment_id,
            charge.charge_id,
            charge.amount,
            charge.currency,
            (charge.provider, charge.account),
        )
        return order_owner(order)

    async def on_refund_changed(
        self, session: AsyncSession, outbox: Outbox, change: RefundChanged
    ) -> Owner | None:
        found = await self._payment_of(session, change)
        if found is None:
            return None
        order, payment = found
        _seen_refund(order, payment, change.refund)
        await self.settle_refunds(session, outbox, order, payment)
        return order_owner(order)

    async def on_charge_refunded(
        self, session: AsyncSession, outbox: Outbox, change: ChargeRefunded
    ) -> Owner | None:
        found = await self._payment_of(session, change)
        if found is None:
            return None
        order, payment = found
        if change.amount_refunded is not None:
            payment.provider_amount_refunded = max(
                payment.provider_amount_refunded, change.amount_refunded
            )
        for refund in change.refunds:
            _seen_refund(order, payment, refund)
        await self.settle_refunds(session, outbox, order, payment)
        return order_owner(order)

    async def _payment_of(
        self, session: AsyncSession, change: RefundChanged | ChargeRefunded
    ) -> tuple[Order, OrderPayment] | None:
        """The order payment a refund names, if it was taken through the provider and on the
        account the refund came from."""
        intent, charge = change.payment_id, change.charge_id
        payment = None
        if intent is not None:
            payment = await session.get(OrderPayment, intent)
        if payment is None and charge is not None:
            payment = await session.get(OrderPayment, charge) or await session.scalar(
                select(OrderPayment).where(OrderPayment.charge_id == charge)
            )
        if payment is None or (payment.provider, payment.account_id) != (
            change.provider,
            change.account,
        ):
            return None
        order = await load_order(session, payment.order_id, lock=True)
        current = next(p for p in order.payments if p.id == payment.id)
        if charge is not None:
            current.charge_id = current.charge_id or charge
        return order, current

    # -- the one place money is applied -----------------------------------------------------

    async def record_payment(
        self,
        session: AsyncSession,
        outbox: Outbox,
        order: Order,
        payment_id: str,
        charge_id: str | None,
        amount: int,
        currency: str,
        taken_on: tuple[str, str | None],
    ) -> OrderPayment:
        """Apply a payment (taken on ``taken_on``: a provider, and the merchant's linked account
        there or None) to a pending order, locked by the caller, once; money it cannot take is
        kept to refund."""
        provider, account = taken_on
        for payment in order.payments:
            if payment.id == payment_id:
                payment.charge_id = payment.charge_id or charge_id
                return payment
        problem = None
        if order.status != OrderStatus.PENDING:
            problem = f"paid after the order was {order.status}"
        elif amount != order.amount or currency != order.currency:
            problem = f"paid {amount} {currency}, expected {order.amount} {order.currency}"
        payment = OrderPayment(
            id=payment_id,
            order_id=order.id,
            charge_id=charge_id,
            provider=provider,
            account_id=account,
            status=(
                OrderPaymentStatus.REFUND_PENDING if problem else OrderPaymentStatus.SUCCEEDED
            ).value,
            applied=problem is None,
            amount=amount,
            currency=currency,
            amount_refunded=0,
            provider_amount_refunded=0,
            problem=problem,
            created_at=utcnow(),
        )
        order.payments.append(payment)
        if problem is None:
            order.amount_paid = amount
            await self.complete(session, outbox, order)
        else:
            log.error("order %s: %s; it will be refunded", order.id, problem)
            if order.status == OrderStatus.PENDING:
                order.failure_code = "amount_mismatch"
                order.failure_message = f"A payment did not match this order: {problem}."
        return payment

    async def complete(self, session: AsyncSession, outbox: Outbox, order: Order) -> None:
        if not await move(session, order, OrderStatus.COMPLETED):
            return
        order.completed_at = utcnow()
        order.failure_code = order.failure_message = None
        said = (order.id, format_amount(order.amount, order.currency))
        outbox.once_committed(lambda: log.info("order %s paid: %s", *said))
        owner = order.owner or order.customer_email
        if owner is None:  # sold by the merchant to nobody named: nothing to grant
            await self._completed(session, outbox, order)
            return
        granted = set(
            await session.scalars(
                select(Entitlement.product_id).where(Entitlement.order_id == order.id)
            )
        )
        session.add_all(
            Entitlement(
                order_id=order.id,
                product_id=item.product_id,
                quantity=item.quantity,
                owner=owner,
                granted_at=order.completed_at,
            )
            for item in order.items
            if item.product_id not in granted
        )
        await self._completed(session, outbox, order)

    async def _completed(self, session: AsyncSession, outbox: Outbox, order: Order) -> None:
        await self.notifier.enqueue(
            session,
            "order.completed",
            f"order.completed:{order.id}",
            message := self.message(order),
        )
        outbox.add(f"order:{order.id}", message)

    async def settle_refunds(
        self, session: AsyncSession, outbox: Outbox, order: Order, payment: OrderPayment
    ) -> None:
        """Bring a payment's refunded amount, and then its order, in line with its refunds."""
        counted = sum(
            r.amount
            for r in order.refunds
            if r.payment_id == payment.id and r.status in COUNTED_REFUND_STATUSES
        )
        payment.amount_refunded = min(
            max(counted, payment.provider_amount_refunded), payment.amount
        )
        if not payment.applied:
            if payment.amount_refunded >= payment.amount:
                advance(payment, ORDER_PAYMENT_TRANSITIONS, OrderPaymentStatus.REFUNDED)
            return
        before = order.amount_refunded
        order.amount_refunded = sum(p.amount_refunded for p in order.payments if p.applied)
        if order.amount_refunded <= before:
            return
        target = (
            OrderStatus.REFUNDED
            if order.amount_refunded >= order.amount_paid
            else OrderStatus.PARTIALLY_REFUNDED
        )
        await move(session, order, target)
        if order.status == OrderStatus.REFUNDED:
            await session.execute(
                update(Entitlement)
                .where(Entitlement.order_id == order.id, Entitlement.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        await self.notifier.enqueue(
            session,
            "order.refunded",
            f"order.refunded:{order.id}:{order.amount_refunded}",
            message := self.message(order),
        )
        outbox.add(f"order:{order.id}", message)


def upsert_refund(
    order: Order,
    payment: OrderPayment,
    refund_id: str,
    amount: int,
    status: RefundStatus,
    source: RefundSource,
) -> OrderRefund:
    for refund in order.refunds:
        if refund.id == refund_id:
            advance(refund, REFUND_TRANSITIONS, status)
            if source != RefundSource.PROVIDER:
                # Its event can arrive before the request that made it records the answer.
                refund.source = source.value
            return refund
    refund = OrderRefund(
        id=refund_id,
        order_id=order.id,
        payment_id=payment.id,
        amount=amount,
        status=status.value,
        source=source.value,
        created_at=utcnow(),
    )
    order.refunds.append(refund)
    return refund


def _seen_refund(order: Order, payment: OrderPayment, refund: RefundSeen) -> None:
    """A refund as a provider event shows it; one made here keeps its own source."""
    upsert_refund(order, payment, refund.id, refund.amount, refund.status, RefundSource.PROVIDER)


def order_owner(order: Order) -> Owner:
    """Whose an order is."""
    return Owner(order.merchant_id, order.owner)


async def move(session: AsyncSession, order: Order, target: OrderStatus) -> bool:
    """Move an order on, and its items' seats with it: held while pending, sold once paid,
    given back when it ends unpaid or is refunded in full."""
    before = OrderStatus(order.status)
    if not advance(order, ORDER_TRANSITIONS, target):
        return False
    await seats.adjust(
        session,
        order.merchant_id,
        order_lines(order),
        held=(target in HOLDS_SEATS) - (before in HOLDS_SEATS),
        sold=(target in SELLS_SEATS) - (before in SELLS_SEATS),
    )
    return True


def order_lines(order: Order) -> list[tuple[str, int]]:
    return [(item.product_id, item.quantity) for item in order.items]


async def find_order(session: AsyncSession, where: Any, *, lock: bool = True) -> Order | None:
    query = select(Order).where(where).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def load_order(session: AsyncSession, order_id: str, *, lock: bool = False) -> Order:
    order = await find_order(session, Order.id == order_id, lock=lock)
    if order is None:
        raise NotFound("order_not_found", f"No order with identifier {order_id!r}.")
    return order
