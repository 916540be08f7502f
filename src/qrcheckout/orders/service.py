"""Orders: server-side pricing and the lifecycle; money is applied to orders only through
``orders.ledger``, and taken or given back through ``orders.payments``."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from qrcheckout.auth import Buyer
from qrcheckout.catalog.service import price_cart
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.states import TokenKind
from qrcheckout.config import Settings
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    Unauthenticated,
)
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.ledger import Ledger, load_order, move
from qrcheckout.orders.models import (
    Entitlement,
    Order,
    OrderItem,
)
from qrcheckout.orders.schemas import (
    OrderCreate,
    OrderItemOut,
    OrderOut,
    OrderPaymentOut,
    OrderRefundOut,
)
from qrcheckout.orders.states import (
    OrderStatus,
    PaymentMode,
)
from qrcheckout.unit import UnitOfWork

log = logging.getLogger(__name__)

MAX_PAGE = 100


class OrderService:
    """Orders from cart to end: priced, paid through a checkout token, cancelled, expired."""

    def __init__(
        self,
        db: Database,
        units: UnitOfWork,
        tokens: CheckoutService,
        notifier: Notifier,
        settings: Settings,
    ) -> None:
        self.db = db
        self.units = units
        self.tokens = tokens
        self.notifier = notifier
        self.settings = settings
        self.ledger = Ledger(notifier, self.message)

    # -- reading -----------------------------------------------------------------------------

    def to_out(self, order: Order) -> OrderOut:
        base = self.settings.public_url
        pending = order.status == OrderStatus.PENDING
        token = order.token
        payment_url = qr_url = None
        if token is not None:
            qr_url = f"{base}/v1/tokens/{token.id}/qr.svg"
            if pending:
                open_pages = [p.url for p in token.payments if p.status == "open" and p.url]
                payment_url = open_pages[-1] if open_pages else f"{base}/t/{token.id}"
        return OrderOut(
            id=order.id,
            identifier=order.id,
            status=OrderStatus(order.status),
            payment_mode=PaymentMode(order.payment_mode),
            amount=order.amount,
            amount_paid=order.amount_paid,
            amount_refunded=order.amount_refunded,
            amount_due=order.amount - order.amount_paid if pending else 0,
            currency=order.currency,
            attempts=order.attempts,
            owner=order.owner,
            customer_email=order.customer_email,
            items=[OrderItemOut.model_validate(item) for item in order.items],
            created_at=order.created_at,
            expires_at=order.expires_at,
            completed_at=order.completed_at,
            payment_url=payment_url,
            qr_url=qr_url,
            token_id=order.token_id,
            payments=[OrderPaymentOut.model_validate(p) for p in order.payments],
            refunds=[OrderRefundOut.model_validate(r) for r in order.refunds],
            failure_code=order.failure_code,
            failure_message=order.failure_message,
        )

    def message(self, order: Order) -> dict[str, Any]:
        return self.to_out(order).model_dump(mode="json")

    async def get(self, order_id: str) -> Order:
        async with self.db.sessions() as session:
            return await load_order(session, order_id)

    async def list_for(
        self, owner: str, limit: int, starting_after: str | None
    ) -> tuple[list[Order], bool]:
        """The owner's orders, newest first, a page at a time."""
        query = select(Order).where(Order.owner == owner)
        async with self.db.sessions() as session:
            if starting_after is not None:
                cursor = await session.get(Order, starting_after)
                if cursor is None or cursor.owner != owner:
                    raise Malformed(
                        "invalid_cursor",
                        f"No order {starting_after!r} to start after.",
                        field="starting_after",
                    )
                query = query.where(
                    or_(
                        Order.created_at < cursor.created_at,
                        and_(Order.created_at == cursor.created_at, Order.id < cursor.id),
                    )
                )
            rows = list(
                await session.scalars(
                    query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
                )
            )
        return rows[:limit], len(rows) > limit

    async def entitlements(self, buyer: Buyer) -> list[Entitlement]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(Entitlement)
                .where(Entitlement.owner.in_(buyer.owners))
                .order_by(Entitlement.id)
            )
            return list(rows)

    # -- creating ----------------------------------------------------------------------------

    async def create(self, request: OrderCreate, buyer: Buyer | None) -> Order:
        owner = buyer.subject if buyer else None
        email = request.customer_email or (buyer.email if buyer else None)
        if owner is None and email is None:
            raise Invalid(
                "owner_required",
                "Sign in or give a customer_email: someone must own what the order grants.",
            )
        async with self.units() as (session, outbox):
            cart = await price_cart(session, ((i.product_id, i.quantity) for i in request.items))
            free = cart.amount == 0
            if request.payment_mode == PaymentMode.FREE and not free:
                raise Invalid(
                    "order_not_free",
                    f"This order costs {cart.amount} {cart.currency}; only a zero-priced order "
                    "can be free.",
                )
            now = utcnow()
            ttl = self.settings.order_ttl_seconds
            order = Order(
                id="ord_" + secrets.token_hex(12),
                status=OrderStatus.PENDING.value,
                payment_mode=(PaymentMode.FREE if free else PaymentMode.STRIPE).value,
                owner=owner,
                customer_email=email,
                amount=cart.amount,
                currency=cart.currency,
                amount_paid=0,
                amount_refunded=0,
                attempts=0,
                refused_attempts=0,
                created_at=now,
                updated_at=now,
                expires_at=None if free else now + timedelta(seconds=ttl),
                items=[
                    OrderItem(**line.sold(position)) for position, line in enumerate(cart.lines)
                ],
                payments=[],
                refunds=[],
            )
            if not free:
                order.token = self.tokens.add_token(session, TokenKind.DYNAMIC, cart, ttl, email)
                order.token_id = order.token.id
            session.add(order)
            await session.flush()
            if free:
                await self.ledger.complete(session, outbox, order)
        if not free and order.token_id is not None:
            try:
                await self.tokens.scan(order.token_id)
            except DomainError as exc:
                # The order stands; its payment_url opens the hosted page once the provider answers.
                log.warning("no hosted checkout yet for order %s: %s", order.id, exc.message)
        return await self.get(order.id)

    # -- cancelling and expiring -------------------------------------------------------------

    async def cancel(self, order_id: str, buyer: Buyer | None) -> Order:
        async with self.units() as (session, _):
            order = await load_order(session, order_id, lock=True)
            if order.owner is not None and buyer is None:
                raise Unauthenticated("unauthorized", "Sign in as the order's owner to cancel it.")
            if order.owner is not None and buyer is not None and buyer.subject != order.owner:
                raise forbidden()
            if not move(order, OrderStatus.CANCELLED):
                raise Conflict(
                    "order_not_cancellable",
                    f"An order in status {order.status} cannot be cancelled.",
                )
            order.failure_code = "cancelled"
            order.failure_message = "The order was cancelled."
        await self._end_token(order.token_id, cancel=True)
        return await self.get(order_id)

    async def expire_due(self) -> int:
        """Expire every pending order past its time; returns how many."""
        async with self.db.sessions() as session:
            due = list(
                await session.scalars(
                    select(Order.id).where(
                        Order.status == OrderStatus.PENDING.value,
                        Order.expires_at.is_not(None),
                        Order.expires_at <= utcnow(),
                    )
                )
            )
        expired = 0
        for order_id in due:
            async with self.units() as (session, outbox):
                order = await load_order(session, order_id, lock=True)
                due_now = order.expires_at is not None and order.expires_at <= utcnow()
                if not (due_now and move(order, OrderStatus.EXPIRED)):
                    continue
                order.failure_code = "expired"
                order.failure_message = "The order expired before it was paid."
                message = self.message(order)
                outbox.add(f"order:{order.id}", message)
                await self.notifier.enqueue(
                    session, "order.expired", f"order.expired:{order.id}", message
                )
                expired += 1
            await self._end_token(order.token_id, cancel=False)
        return expired

    async def _end_token(self, token_id: str | None, *, cancel: bool) -> None:
        """Close the order's QR checkout so it can no longer be paid."""
        if token_id is None:
            return
        try:
            if cancel:
                await self.tokens.cancel(token_id)
            else:
                await self.tokens.expire([token_id])
        except DomainError as exc:
            # Already paid or ended: a payment that lands now is refunded, never lost.
            log.info("token %s of an ended order stays %s", token_id, exc.code)


def forbidden() -> Forbidden:
    return Forbidden("forbidden", "This order belongs to someone else.")
