"""An order's or a token's story for the back office: every row and event that touched it, in
the order it happened. Read only; the record itself is checked against the permission table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from qrcheckout.access.permissions import Access, Resource
from qrcheckout.checkout.models import Payment, Token
from qrcheckout.db import Database
from qrcheckout.errors import NotFound
from qrcheckout.money import format_amount
from qrcheckout.notifications.models import Delivery, Notification
from qrcheckout.orders.ledger import load_order
from qrcheckout.orders.models import Entitlement, Order
from qrcheckout.webhooks.models import StoredEvent

# The provider events and sessions shown beside one record, newest kept.
MAX_EVENTS = 50
MAX_SESSIONS = 100


@dataclass(frozen=True)
class Moment:
    at: datetime
    what: str
    detail: str = ""
    tone: str = ""  # a badge class: paid, failed, refunded...


@dataclass(frozen=True)
class OrderStory:
    order: Order
    entitlements: list[Entitlement]
    moments: list[Moment]


@dataclass(frozen=True)
class TokenStory:
    token: Token
    order_id: str | None
    moments: list[Moment]


class Timelines:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def order(self, access: Access, order_id: str) -> OrderStory:
        async with self.db.sessions() as session:
            try:
                order = await load_order(session, order_id)
            except NotFound:
                raise NotFound("order_not_found", "No such order.") from None
            access.listed(Resource.ORDER, order)
            entitlements = list(
                await session.scalars(
                    select(Entitlement)
                    .where(Entitlement.order_id == order.id)
                    .order_by(Entitlement.id)
                )
            )
            money = order.currency
            moments = [Moment(order.created_at, "Order placed", format_amount(order.amount, money))]
            for payment in order.payments:
                moments.append(
                    Moment(
                        payment.created_at,
                        f"Payment {payment.status}",
                        f"{format_amount(payment.amount, money)} through {payment.provider} "
                        f"({payment.id}){_problem(payment.problem)}",
                        "paid" if payment.applied else "refunding",
                    )
                )
            for refund in order.refunds:
                moments.append(
                    Moment(
                        refund.created_at,
                        f"Refund {refund.status}",
                        f"{format_amount(refund.amount, money)} ({refund.id}, {refund.source})",
                        "refunded",
                    )
                )
            if order.completed_at:
                moments.append(Moment(order.completed_at, "Order completed", tone="paid"))
            if order.failure_message and order.status in ("cancelled", "expired"):
                moments.append(Moment(order.updated_at, order.failure_message, tone="failed"))
            if order.token is not None:
                moments += _sessions(order.token.payments)
            moments += await _notifications(session, order.id)
            moments += await _events(session, order.merchant_id, [order.id, order.token_id])
        return OrderStory(order, entitlements, _in_order(moments))

    async def token(self, access: Access, token_id: str) -> TokenStory:
        async with self.db.sessions() as session:
            token = await session.get(Token, token_id, options=[raiseload(Token.payments)])
            if token is None:
                raise NotFound("token_not_found", "No such token.")
            access.listed(Resource.TOKEN, token)
            # A café table's code may have thousands: the newest are told.
            latest = list(
                await session.scalars(
                    select(Payment)
                    .where(Payment.token_id == token.id)
                    .order_by(Payment.created_at.desc())
                    .limit(MAX_SESSIONS)
                )
            )
            order_id = await session.scalar(select(Order.id).where(Order.token_id == token.id))
            moments = [
                Moment(
                    token.created_at,
                    f"Checkout made ({token.kind})",
                    format_amount(token.amount_total, token.currency),
                )
            ]
            moments += _sessions(latest)
            if token.failure_message:
                moments.append(Moment(token.updated_at, token.failure_message, tone="failed"))
            moments += await _events(session, token.merchant_id, [token.id])
        return TokenStory(token, order_id, _in_order(moments))


def _sessions(payments: list[Payment]) -> list[Moment]:
    return [
        Moment(
            payment.created_at,
            f"Payment session {payment.status}",
            f"{format_amount(payment.amount_total, payment.currency)} through "
            f"{payment.provider} ({payment.id})"
            + (f": {payment.problem}" if payment.problem else ""),
            payment.status,
        )
        for payment in payments
    ]


async def _notifications(session: AsyncSession, order_id: str) -> list[Moment]:
    rows = await session.execute(
        select(Notification, Delivery)
        .outerjoin(Delivery, Delivery.notification_id == Notification.id)
        .where(Notification.order_id == order_id)
    )
    return [
        Moment(
            told.created_at,
            f"Webhook {told.type}",
            f"to {delivery.url}: {delivery.status}, {delivery.attempts} attempt(s)"
            if delivery is not None
            else "no endpoint configured",
            delivery.status if delivery is not None else "",
        )
        for told, delivery in rows
    ]


async def _events(session: AsyncSession, merchant_id: str, ids: list[str | None]) -> list[Moment]:
    """Provider events of the merchant that name one of ``ids`` (a token's id travels in its
    sessions' metadata, an order's in its payments')."""
    named = [StoredEvent.payload.contains(i, autoescape=True) for i in ids if i]
    found = await session.scalars(
        select(StoredEvent)
        .where(StoredEvent.merchant_id == merchant_id, or_(*named))
        .order_by(StoredEvent.received_at.desc())
        .limit(MAX_EVENTS)
    )
    return [
        Moment(
            event.received_at,
            f"{event.provider} event {event.type}",
            f"{event.id}: {event.status}" + (f" ({event.error})" if event.error else ""),
            event.status,
        )
        for event in found
    ]


def _problem(problem: str | None) -> str:
    return f": {problem}" if problem else ""


def _in_order(moments: list[Moment]) -> list[Moment]:
    return sorted(moments, key=lambda m: m.at.astimezone(UTC))
