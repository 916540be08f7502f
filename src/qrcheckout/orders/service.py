"""Orders: server-side pricing and the lifecycle; money is applied to orders only through
``orders.ledger``, and taken or given back through ``orders.payments``."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.permissions import Access, Action, Grant, Resource
from qrcheckout.access.roles import Owner
from qrcheckout.access.secrets import digest, holds
from qrcheckout.catalog import seats
from qrcheckout.catalog.service import price_cart
from qrcheckout.checkout.models import Token
from qrcheckout.checkout.service import CANCEL_PREFIX, CheckoutService, token_owner
from qrcheckout.checkout.states import TokenKind
from qrcheckout.config import Settings
from qrcheckout.connect.service import paid_on
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import (
    Conflict,
    DomainError,
    Invalid,
)
from qrcheckout.listing import ListFilters, Query
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.ledger import Ledger, load_order, move, order_lines, order_owner
from qrcheckout.orders.models import (
    PENDING_ENDING,
    PENDING_INDEX,
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
from qrcheckout.payments.events import Mention
from qrcheckout.unit import UnitOfWork

log = logging.getLogger(__name__)


# Orders expired a tick (the next tick takes the rest).
EXPIRE_BATCH = 1000


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
            merchant=order.merchant_id,
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
        """The order as its merchant sees it (its webhooks)."""
        return self.to_out(order).model_dump(mode="json")

    def view(self, order: Order, grant: Grant) -> dict[str, Any]:
        return grant.view(self.message(order))

    async def read(self, access: Access, order_id: str) -> dict[str, Any]:
        order = await self.get(order_id)
        return self.view(order, access.check(Resource.ORDER, Action.READ, order))

    async def page(self, access: Access, filters: ListFilters) -> tuple[list[dict[str, Any]], bool]:
        """The orders ``access`` may list, newest first, a page at a time."""
        async with self.db.sessions() as session:
            rows, has_more = await filters.page(session, access, Resource.ORDER, Order)
        return [self.view(order, grant) for order, grant in rows], has_more

    async def select(self, access: Access, query: Query) -> list[dict[str, Any]]:
        """The orders ``access`` may list that ``query`` keeps, as it may see them."""
        async with self.db.sessions() as session:
            rows = await query.rows(session, access, Resource.ORDER, Order)
        return [self.view(order, grant) for order, grant in rows]

    async def get(self, order_id: str) -> Order:
        async with self.db.sessions() as session:
            return await load_order(session, order_id)

    async def entitlements(self, access: Access) -> list[Entitlement]:
        """What the caller's completed orders granted (a buyer's: by user id or email)."""
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(Entitlement)
                .where(access.scope(Resource.ENTITLEMENT, Action.LIST, Entitlement))
                .order_by(Entitlement.id)
            )
            return list(rows)

    # -- creating ----------------------------------------------------------------------------

    async def create(self, access: Access, request: OrderCreate) -> tuple[Order, str | None]:
        """A new order, and the capability to cancel it while pending (shown this once)."""
        merchant_id = access.shop_for_new(Resource.ORDER)
        owner = access.principal.user_id
        email = request.customer_email or access.principal.email
        # A merchant's own backend may sell at its till with nobody named; a buyer may not.
        if owner is None and email is None and access.principal.merchant_id is None:
            raise Invalid(
                "owner_required",
                "Sign in or give a customer_email: someone must own what the order grants.",
            )
        async with self.units() as (session, outbox):
            cart = await price_cart(
                session, merchant_id, ((i.product_id, i.quantity) for i in request.items)
            )
            free = cart.amount == 0
            if request.payment_mode == PaymentMode.FREE and not free:
                raise Invalid(
                    "order_not_free",
                    f"This order costs {cart.amount} {cart.currency}; only a zero-priced order "
                    "can be free.",
                )
            # Paid through the provider it names: refused when that one is not set up, while
            # the merchant's account is unlinked, or when it is linked elsewhere.
            mode = PaymentMode.FREE if free else request.payment_mode
            if not free:
                provider = self.tokens.providers.chosen(mode.value, field="payment_mode").name
                await self.tokens.links.payee(session, merchant_id, provider)
            now = utcnow()
            ttl = self.settings.order_ttl_seconds
            order = Order(
                id="ord_" + secrets.token_hex(12),
                merchant_id=merchant_id,
                status=OrderStatus.PENDING.value,
                payment_mode=mode.value,
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
            cancel_secret = None
            if not free:
                cancel_secret = CANCEL_PREFIX + secrets.token_urlsafe(24)
                order.token = self.tokens.add_token(
                    session,
                    Owner(merchant_id, owner),
                    TokenKind.DYNAMIC,
                    cart,
                    ttl,
                    email,
                    provider=mode.value,
                    cancel_digest=digest(cancel_secret),
                    outbox=outbox,
                )
                order.token_id = order.token.id
            session.add(order)
            await session.flush()
            # Last, so that a product's row is locked for as short a time as can be.
            await seats.adjust(session, merchant_id, order_lines(order), held=1, sold=0)
            if free:
                await self.ledger.complete(session, outbox, order)
        if not free and order.token_id is not None:
            try:
                await self.tokens.scan(order.token_id)
            except DomainError as exc:
                # The order stands; its payment_url opens the hosted page once the provider answers.
                log.warning("no hosted checkout yet for order %s: %s", order.id, exc.message)
        return await self.get(order.id), cancel_secret

    # -- cancelling and expiring -------------------------------------------------------------

    async def cancel(
        self, access: Access, order_id: str, cancel_secret: str | None = None
    ) -> dict[str, Any]:
        """Cancel a pending order: its owner, its merchant, or whoever holds the capability
        returned when it was made."""
        async with self.units() as (session, _):
            order = await load_order(session, order_id, lock=True)
            kept = order.token.cancel_digest if order.token is not None else None
            grant = access.check(
                Resource.ORDER, Action.CANCEL, order, capability=holds(cancel_secret, kept)
            )
            if not await move(session, order, OrderStatus.CANCELLED):
                raise Conflict(
                    "order_not_cancellable",
                    f"An order in status {order.status} cannot be cancelled.",
                )
            order.failure_code = "cancelled"
            order.failure_message = "The order was cancelled."
        await self._end_token(order.token_id, cancel=True)
        return self.view(await self.get(order_id), grant)

    async def expire_due(self) -> int:
        """Expire every pending order past its time; returns how many."""
        async with self.db.sessions() as session:
            due = list(
                await session.scalars(
                    self.db.due(
                        "orders", PENDING_INDEX, PENDING_ENDING, "expires_at", EXPIRE_BATCH
                    ),
                    {"now": utcnow()},
                )
            )
        expired = 0
        for order_id in due:
            async with self.units() as (session, outbox):
                order = await load_order(session, order_id, lock=True)
                due_now = order.expires_at is not None and order.expires_at <= utcnow()
                if not (due_now and await move(session, order, OrderStatus.EXPIRED)):
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
                await self.tokens.end(token_id)
            else:
                await self.tokens.expire([token_id])
        except DomainError as exc:
            # Already paid or ended: a payment that lands now is refunded, never lost.
            log.info("token %s of an ended order stays %s", token_id, exc.code)


async def owner_of(session: AsyncSession, mention: Mention) -> Owner | None:
    """Whose the order or token an event names is, if the event came from the account that
    merchant is paid on (another's event names no row of it)."""
    owner = None
    if mention.order_id is not None:
        order = await session.get(Order, mention.order_id)
        owner = order_owner(order) if order is not None else None
    if owner is None and mention.token_id is not None:
        token = await session.get(Token, mention.token_id)
        owner = token_owner(token) if token is not None else None
    if owner is None or await paid_on(session, owner.merchant_id) != mention.account:
        return None
    return owner
