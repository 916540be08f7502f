"""Orders: server-side pricing, the lifecycle, card-token charges and refunds; money is
applied to orders only through ``orders.ledger``."""

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
from qrcheckout.db import utcnow
from qrcheckout.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    Malformed,
    PaymentDeclined,
    PaymentIncomplete,
    ProviderUnavailable,
    Unauthenticated,
)
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.ledger import Ledger, load_order, move, upsert_refund
from qrcheckout.orders.models import (
    Entitlement,
    Order,
    OrderItem,
    OrderPayment,
    OrderRefund,
)
from qrcheckout.orders.schemas import (
    OrderCreate,
    OrderItemOut,
    OrderOut,
    OrderPaymentOut,
    OrderRefundOut,
)
from qrcheckout.orders.states import (
    PAID,
    REFUNDABLE,
    OrderPaymentStatus,
    OrderStatus,
    PaymentMode,
    RefundSource,
)
from qrcheckout.payments.provider import (
    Charge,
    ChargeRequest,
    ProviderError,
    ProviderErrorKind,
    RefundRequest,
)

log = logging.getLogger(__name__)

MAX_PAGE = 100


class OrderService:
    def __init__(self, checkout: CheckoutService, notifier: Notifier) -> None:
        self.checkout = checkout
        self.db = checkout.db
        self.provider = checkout.provider
        self.settings = checkout.settings
        self.notifier = notifier
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
        async with self.checkout.unit() as (session, outbox):
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
                    OrderItem(
                        position=position,
                        product_id=line.product.id,
                        name=line.product.name,
                        unit_amount=line.product.unit_amount,
                        quantity=line.quantity,
                        amount=line.amount,
                    )
                    for position, line in enumerate(cart.lines)
                ],
                payments=[],
                refunds=[],
            )
            if not free:
                order.token = self.checkout.add_token(session, TokenKind.DYNAMIC, cart, ttl, email)
                order.token_id = order.token.id
            session.add(order)
            await session.flush()
            if free:
                await self.ledger.complete(session, outbox, order)
        if not free and order.token_id is not None:
            try:
                await self.checkout.scan(order.token_id)
            except DomainError as exc:
                # The order stands; its payment_url opens the hosted page once the provider answers.
                log.warning("no hosted checkout yet for order %s: %s", order.id, exc.message)
        return await self.get(order.id)

    # -- cancelling and expiring -------------------------------------------------------------

    async def cancel(self, order_id: str, buyer: Buyer | None) -> Order:
        async with self.checkout.unit() as (session, _):
            order = await load_order(session, order_id, lock=True)
            if order.owner is not None and buyer is None:
                raise Unauthenticated("unauthorized", "Sign in as the order's owner to cancel it.")
            if order.owner is not None and buyer is not None and buyer.subject != order.owner:
                raise _forbidden()
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
            async with self.checkout.unit() as (session, outbox):
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
                await self.checkout.cancel(token_id)
            else:
                await self.checkout.expire([token_id])
        except DomainError as exc:
            # Already paid or ended: a payment that lands now is refunded, never lost.
            log.info("token %s of an ended order stays %s", token_id, exc.code)

    # -- charging a card token ---------------------------------------------------------------

    async def charge(self, order_id: str, buyer: Buyer, source: str | None) -> Order:
        async with self.checkout.unit() as (session, _):
            order = await load_order(session, order_id, lock=True)
            if order.owner != buyer.subject:
                raise _forbidden()
            _check_payable(order)
            if not source:
                raise Invalid(
                    "token_missing",
                    "Send the card token as data.attributes.stripe (a tok_... from Stripe.js).",
                )
            order.attempts += 1
            # One key per order and attempt: a retried or concurrent request with the same card
            # is the same charge; only a refused attempt lets the next one use a new key.
            key = f"qrcheckout-order-{order.id}-charge-{order.refused_attempts}"
            request = ChargeRequest(
                amount=order.amount,
                currency=order.currency,
                source=source,
                idempotency_key=key,
                description=f"Order {order.id}",
                metadata={"order_id": order.id},
            )
        try:
            charge = await self.provider.charge(request)
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.CONFLICT:
                raise Conflict(
                    "charge_in_progress", "Another charge of this order is under way."
                ) from exc
            if exc.took_nothing:
                # Refused outright, nothing was taken: the next attempt may use a new key.
                async with self.checkout.unit() as (session, _):
                    order = await load_order(session, order_id, lock=True)
                    order.refused_attempts += 1
                    order.failure_code = exc.decline_code or exc.code
                    order.failure_message = exc.message
            raise _provider_refusal(exc) from exc
        if charge.status != "succeeded":
            raise PaymentIncomplete(
                "charge_not_succeeded", f"The charge is {charge.status}; the order waits."
            )
        async with self.checkout.unit() as (session, outbox):
            order = await load_order(session, order_id, lock=True)
            payment = await self.ledger.record_payment(
                session,
                outbox,
                order,
                payment_id=charge.payment_intent or charge.id,
                charge_id=charge.id,
                amount=charge.amount,
                currency=charge.currency,
            )
        if not payment.applied:
            raise Conflict(
                f"order_{order.status}" if order.status in _ENDED_CODES else "order_paid",
                f"The order was {order.status} when the payment landed; it will be refunded.",
            )
        return await self.get(order_id)

    async def charge_token(
        self, buyer: Buyer, token: str, amount: int, currency: str, key: str | None
    ) -> Charge:
        """A one-off card-token charge with no order; a retry with the same ``key`` is the
        same charge."""
        request = ChargeRequest(
            amount=amount,
            currency=currency,
            source=token,
            idempotency_key=f"qrcheckout-charge-{buyer.subject}-{key or secrets.token_hex(12)}",
            metadata={"subject": buyer.subject},
        )
        try:
            return await self.provider.charge(request)
        except ProviderError as exc:
            raise _provider_refusal(exc) from exc

    # -- refunds -----------------------------------------------------------------------------

    async def refund(
        self, order_id: str, amount: int | None, idempotency_key: str | None
    ) -> tuple[OrderRefund, Order]:
        async with self.db.sessions() as session:
            order = await load_order(session, order_id)
            if order.status not in REFUNDABLE:
                raise Conflict(
                    "order_not_refundable",
                    f"An order in status {order.status} has nothing to refund.",
                )
            left = order.amount_paid - order.amount_refunded
            if amount is not None and amount > left:
                raise Invalid(
                    "amount_too_large",
                    f"At most {left} {order.currency} is left to refund on this order.",
                )
            payment = next(p for p in order.payments if p.applied)
            key = f"qrcheckout-order-{order.id}-refund-" + (
                idempotency_key or str(len(order.refunds))
            )
        try:
            result = await self.provider.refund(
                RefundRequest(
                    payment=payment.id,
                    idempotency_key=key,
                    amount=amount or left,
                    metadata={"order_id": order_id},
                )
            )
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.CONFLICT:
                raise Conflict(
                    "refund_in_progress", "Another refund of this order is under way."
                ) from exc
            raise _provider_refusal(exc) from exc
        async with self.checkout.unit() as (session, outbox):
            order = await load_order(session, order_id, lock=True)
            payment = next(p for p in order.payments if p.applied)
            refund = upsert_refund(
                order, payment, result.id, result.amount, result.status, RefundSource.API
            )
            await self.ledger.settle_refunds(session, outbox, order, payment)
        return refund, await self.get(order_id)

    async def refund_unapplied(self) -> int:
        """Give back every payment that could not be applied; returns how many were refunded."""
        async with self.db.sessions() as session:
            pending = list(
                await session.scalars(
                    select(OrderPayment).where(
                        OrderPayment.status == OrderPaymentStatus.REFUND_PENDING.value
                    )
                )
            )
        done = 0
        for payment in pending:
            left = payment.amount - payment.amount_refunded
            try:
                result = await self.provider.refund(
                    RefundRequest(
                        payment=payment.id,
                        idempotency_key=f"qrcheckout-payment-{payment.id}-refund",
                        amount=left,
                        metadata={"order_id": payment.order_id, "reason": "not_applied"},
                    )
                )
            except ProviderError as exc:
                if exc.code == "charge_already_refunded":
                    result = None
                else:
                    log.warning("refunding payment %s failed: %s", payment.id, exc.message)
                    continue
            async with self.checkout.unit() as (session, outbox):
                order = await load_order(session, payment.order_id, lock=True)
                current = next(p for p in order.payments if p.id == payment.id)
                if result is not None:
                    upsert_refund(
                        order,
                        current,
                        result.id,
                        result.amount,
                        result.status,
                        RefundSource.AUTOMATIC,
                    )
                else:
                    current.provider_amount_refunded = current.amount
                await self.ledger.settle_refunds(session, outbox, order, current)
            done += 1
        return done


_ENDED_CODES = frozenset({OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value})


def _check_payable(order: Order) -> None:
    if order.payment_mode == PaymentMode.FREE:
        raise Conflict("order_free", "This order is free; there is nothing to charge.")
    status = OrderStatus(order.status)
    if status == OrderStatus.PENDING and order.expires_at and order.expires_at <= utcnow():
        status = OrderStatus.EXPIRED
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        raise Conflict(f"order_{status.value}", f"This order is {status.value}.")
    if status in PAID:
        raise Conflict("order_paid", "This order is already paid.")


def _provider_refusal(exc: ProviderError) -> DomainError:
    """A provider's refusal as the buyer should hear it."""
    if exc.kind == ProviderErrorKind.DECLINED:
        return PaymentDeclined(exc.code, exc.message, decline_code=exc.decline_code)
    if exc.took_nothing or exc.kind == ProviderErrorKind.CONFLICT:
        code = "invalid_currency" if exc.param == "currency" else exc.code
        return Invalid(code, exc.message, field=exc.param)
    return ProviderUnavailable("provider_error", f"The payment provider failed: {exc.message}")


def _forbidden() -> Forbidden:
    return Forbidden("forbidden", "This order belongs to someone else.")
