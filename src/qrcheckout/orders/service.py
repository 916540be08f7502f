"""Orders: server-side pricing, the lifecycle, card-token charges, refunds and fulfilment.

Every payment the provider reports for an order goes through ``_record_payment`` and every
refund through ``_settle_refunds``, inside the transaction of the request or event that
brought it, so a duplicate, concurrent or replayed event changes nothing twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.auth import Buyer
from qrcheckout.catalog.service import price_cart
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.states import TokenKind, can_move
from qrcheckout.db import utcnow
from qrcheckout.errors import APIError
from qrcheckout.notifications.service import Notifier
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
    COUNTED_REFUND_STATUSES,
    ORDER_TRANSITIONS,
    PAID,
    PAYMENT_TRANSITIONS,
    REFUNDABLE,
    OrderPaymentStatus,
    OrderStatus,
    PaymentMode,
    RefundSource,
)
from qrcheckout.payments.provider import ChargeRequest, ProviderError, RefundRequest
from qrcheckout.realtime.bus import Outbox

log = logging.getLogger(__name__)

MAX_PAGE = 100


class OrderService:
    def __init__(self, checkout: CheckoutService, notifier: Notifier) -> None:
        self.checkout = checkout
        self.db = checkout.db
        self.provider = checkout.provider
        self.settings = checkout.settings
        self.notifier = notifier

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[tuple[AsyncSession, Outbox]]:
        async with self.checkout.unit() as (session, outbox):
            yield session, outbox
        self.notifier.wake.set()

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
            return await _load(session, order_id)

    async def list_for(
        self, owner: str, limit: int, starting_after: str | None
    ) -> tuple[list[Order], bool]:
        """The owner's orders, newest first, a page at a time."""
        query = select(Order).where(Order.owner == owner)
        async with self.db.sessions() as session:
            if starting_after is not None:
                cursor = await session.get(Order, starting_after)
                if cursor is None or cursor.owner != owner:
                    raise APIError(
                        400, "invalid_cursor", f"No order {starting_after!r} to start after."
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
            raise APIError(
                422,
                "owner_required",
                "Sign in or give a customer_email: someone must own what the order grants.",
            )
        async with self.unit() as (session, outbox):
            cart = await price_cart(session, ((i.product_id, i.quantity) for i in request.items))
            free = cart.amount == 0
            if request.payment_mode == PaymentMode.FREE and not free:
                raise APIError(
                    422,
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
                declined_attempts=0,
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
                await self._complete(session, outbox, order)
        if not free and order.token_id is not None:
            try:
                await self.checkout.scan(order.token_id)
            except APIError as exc:
                # The order stands; its payment_url opens the hosted page once the provider answers.
                log.warning("no hosted checkout yet for order %s: %s", order.id, exc.message)
        return await self.get(order.id)

    # -- cancelling and expiring -------------------------------------------------------------

    async def cancel(self, order_id: str, buyer: Buyer | None) -> Order:
        async with self.unit() as (session, _):
            order = await _load(session, order_id, lock=True)
            if order.owner is not None and (buyer is None or buyer.subject != order.owner):
                raise _forbidden()
            if not _move(order, OrderStatus.CANCELLED):
                raise APIError(
                    409,
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
            async with self.unit() as (session, outbox):
                order = await _load(session, order_id, lock=True)
                due_now = order.expires_at is not None and order.expires_at <= utcnow()
                if not (due_now and _move(order, OrderStatus.EXPIRED)):
                    continue
                order.failure_code = "expired"
                order.failure_message = "The order expired before it was paid."
                outbox.add(f"order:{order.id}", self.message(order))
                await self.notifier.enqueue(
                    session, "order.expired", f"order.expired:{order.id}", self.message(order)
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
        except APIError as exc:
            # Already paid or ended: a payment that lands now is refunded, never lost.
            log.info("token %s of an ended order stays %s", token_id, exc.code)

    # -- charging a card token ---------------------------------------------------------------

    async def charge(self, order_id: str, buyer: Buyer, source: str | None) -> Order:
        async with self.unit() as (session, _):
            order = await _load(session, order_id, lock=True)
            if order.owner != buyer.subject:
                raise _forbidden()
            _check_payable(order)
            if not source:
                raise APIError(
                    422,
                    "token_missing",
                    "Send the card token as data.attributes.stripe (a tok_... from Stripe.js).",
                )
            order.attempts += 1
            # One key per order and attempt: a retried or concurrent request with the same card
            # is the same charge; only a declined attempt lets the next one try again.
            key = f"qrcheckout-order-{order.id}-charge-{order.declined_attempts}"
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
            if exc.is_card_error:
                async with self.unit() as (session, _):
                    order = await _load(session, order_id, lock=True)
                    order.declined_attempts += 1
                    order.failure_code = exc.decline_code or exc.code
                    order.failure_message = exc.message
                raise CardDeclined(exc) from exc
            raise _provider_refusal(exc) from exc
        if charge.status != "succeeded":
            raise APIError(
                402, "charge_not_succeeded", f"The charge is {charge.status}; the order waits."
            )
        async with self.unit() as (session, outbox):
            order = await _load(session, order_id, lock=True)
            payment = await self._record_payment(
                session,
                outbox,
                order,
                payment_id=charge.payment_intent or charge.id,
                charge_id=charge.id,
                amount=charge.amount,
                currency=charge.currency,
            )
        if not payment.applied:
            raise APIError(
                409,
                f"order_{order.status}" if order.status in _ENDED_CODES else "order_paid",
                f"The order was {order.status} when the payment landed; it will be refunded.",
            )
        return await self.get(order_id)

    async def charge_token(self, buyer: Buyer, token: str, amount: int, currency: str) -> Any:
        """A one-off card-token charge with no order; the caller's own key or a fresh one."""
        request = ChargeRequest(
            amount=amount,
            currency=currency,
            source=token,
            idempotency_key=f"qrcheckout-charge-{secrets.token_hex(12)}",
            metadata={"subject": buyer.subject},
        )
        try:
            return await self.provider.charge(request)
        except ProviderError as exc:
            if exc.is_card_error:
                raise CardDeclined(exc) from exc
            raise _provider_refusal(exc) from exc

    # -- refunds -----------------------------------------------------------------------------

    async def refund(
        self, order_id: str, amount: int | None, idempotency_key: str | None
    ) -> tuple[OrderRefund, Order]:
        async with self.db.sessions() as session:
            order = await _load(session, order_id)
            if order.status not in REFUNDABLE:
                raise APIError(
                    409,
                    "order_not_refundable",
                    f"An order in status {order.status} has nothing to refund.",
                )
            left = order.amount_paid - order.amount_refunded
            if amount is not None and amount > left:
                raise APIError(
                    422,
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
            if exc.code == "idempotency_error":
                raise APIError(
                    409, "refund_in_progress", "Another refund of this order is under way."
                ) from exc
            raise _provider_refusal(exc) from exc
        async with self.unit() as (session, outbox):
            order = await _load(session, order_id, lock=True)
            payment = next(p for p in order.payments if p.applied)
            refund = _upsert_refund(
                order, payment, result.id, result.amount, result.status, RefundSource.API
            )
            await self._settle_refunds(session, outbox, order, payment)
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
            async with self.unit() as (session, outbox):
                order = await _load(session, payment.order_id, lock=True)
                current = next(p for p in order.payments if p.id == payment.id)
                if result is not None:
                    _upsert_refund(
                        order,
                        current,
                        result.id,
                        result.amount,
                        result.status,
                        RefundSource.AUTOMATIC,
                    )
                else:
                    current.provider_amount_refunded = current.amount
                await self._settle_refunds(session, outbox, order, current)
            done += 1
        return done

    # -- provider events (inside the webhook's transaction) ----------------------------------

    async def on_session_event(
        self, session: AsyncSession, outbox: Outbox, event: dict[str, Any]
    ) -> bool:
        obj = event["data"]["object"]
        paid = event["type"] == "checkout.session.async_payment_succeeded" or (
            event["type"] == "checkout.session.completed" and obj.get("payment_status") == "paid"
        )
        token_id = (obj.get("metadata") or {}).get("token_id")
        if not paid or not isinstance(token_id, str):
            return False
        order = await _find_by(session, Order.token_id == token_id)
        if order is None:
            return False
        payment_id = obj.get("payment_intent") or obj.get("id")
        amount, currency = obj.get("amount_total"), obj.get("currency")
        if not isinstance(payment_id, str) or not isinstance(amount, int):
            return False
        await self._record_payment(
            session, outbox, order, payment_id, None, amount, str(currency or "").lower()
        )
        return True

    async def on_charge_succeeded(
        self, session: AsyncSession, outbox: Outbox, event: dict[str, Any]
    ) -> bool:
        obj = event["data"]["object"]
        charge_id, intent = obj.get("id"), obj.get("payment_intent")
        payment_id = intent if isinstance(intent, str) else charge_id
        if not isinstance(payment_id, str):
            return False
        known = await session.get(OrderPayment, payment_id)
        if known is not None:
            known.charge_id = known.charge_id or charge_id
            return True
        order_id = (obj.get("metadata") or {}).get("order_id")
        if not isinstance(order_id, str):
            return False
        order = await _find_by(session, Order.id == order_id)
        if order is None or not isinstance(obj.get("amount"), int):
            return False
        await self._record_payment(
            session, outbox, order, payment_id, charge_id, obj["amount"], str(obj["currency"])
        )
        return True

    async def on_refund_event(
        self, session: AsyncSession, outbox: Outbox, event: dict[str, Any]
    ) -> bool:
        refund = event["data"]["object"]
        found = await self._payment_of(session, refund.get("payment_intent"), refund.get("charge"))
        if found is None or not isinstance(refund.get("id"), str):
            return False
        order, payment = found
        _upsert_refund(
            order,
            payment,
            refund["id"],
            int(refund.get("amount") or 0),
            str(refund.get("status") or "pending"),
            RefundSource.PROVIDER,
        )
        await self._settle_refunds(session, outbox, order, payment)
        return True

    async def on_charge_refunded(
        self, session: AsyncSession, outbox: Outbox, event: dict[str, Any]
    ) -> bool:
        charge = event["data"]["object"]
        found = await self._payment_of(session, charge.get("payment_intent"), charge.get("id"))
        if found is None:
            return False
        order, payment = found
        refunded = charge.get("amount_refunded")
        if isinstance(refunded, int):
            payment.provider_amount_refunded = max(payment.provider_amount_refunded, refunded)
        for refund in (charge.get("refunds") or {}).get("data") or []:
            _upsert_refund(
                order,
                payment,
                refund["id"],
                int(refund.get("amount") or 0),
                str(refund.get("status") or "pending"),
                RefundSource.PROVIDER,
            )
        await self._settle_refunds(session, outbox, order, payment)
        return True

    async def _payment_of(
        self, session: AsyncSession, intent: Any, charge: Any
    ) -> tuple[Order, OrderPayment] | None:
        payment = None
        if isinstance(intent, str):
            payment = await session.get(OrderPayment, intent)
        if payment is None and isinstance(charge, str):
            payment = await session.get(OrderPayment, charge) or await session.scalar(
                select(OrderPayment).where(OrderPayment.charge_id == charge)
            )
        if payment is None:
            return None
        order = await _load(session, payment.order_id, lock=True)
        current = next(p for p in order.payments if p.id == payment.id)
        if isinstance(charge, str):
            current.charge_id = current.charge_id or charge
        return order, current

    # -- the one place money is applied -----------------------------------------------------

    async def _record_payment(
        self,
        session: AsyncSession,
        outbox: Outbox,
        order: Order,
        payment_id: str,
        charge_id: str | None,
        amount: int,
        currency: str,
    ) -> OrderPayment:
        """Apply a payment to a pending order once; money it cannot take is kept to refund."""
        order = await _load(session, order.id, lock=True)
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
            await self._complete(session, outbox, order)
        else:
            log.error("order %s: %s; it will be refunded", order.id, problem)
            if order.status == OrderStatus.PENDING:
                order.failure_code = "amount_mismatch"
                order.failure_message = f"A payment did not match this order: {problem}."
        return payment

    async def _complete(self, session: AsyncSession, outbox: Outbox, order: Order) -> None:
        if not _move(order, OrderStatus.COMPLETED):
            return
        order.completed_at = utcnow()
        order.failure_code = order.failure_message = None
        owner = order.owner or order.customer_email or ""
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
        await self.notifier.enqueue(
            session, "order.completed", f"order.completed:{order.id}", self.message(order)
        )
        outbox.add(f"order:{order.id}", self.message(order))

    async def _settle_refunds(
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
                _move_payment(payment, OrderPaymentStatus.REFUNDED)
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
        _move(order, target)
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
            self.message(order),
        )
        outbox.add(f"order:{order.id}", self.message(order))


class CardDeclined(APIError):
    """The provider declined the card: 422 with its message and the issuer's decline code."""

    def __init__(self, exc: ProviderError) -> None:
        super().__init__(422, exc.code, exc.message, decline_code=exc.decline_code)


_ENDED_CODES = frozenset({OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value})


def _check_payable(order: Order) -> None:
    if order.payment_mode == PaymentMode.FREE:
        raise APIError(409, "order_free", "This order is free; there is nothing to charge.")
    status = OrderStatus(order.status)
    if status == OrderStatus.PENDING and order.expires_at and order.expires_at <= utcnow():
        status = OrderStatus.EXPIRED
    if status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        raise APIError(409, f"order_{status.value}", f"This order is {status.value}.")
    if status in PAID:
        raise APIError(409, "order_paid", "This order is already paid.")


def _provider_refusal(exc: ProviderError) -> APIError:
    if exc.http_status is not None and 400 <= exc.http_status < 500:
        return APIError(422, exc.code, exc.message)
    return APIError(502, "provider_error", f"The payment provider failed: {exc.message}")


def _forbidden() -> APIError:
    return APIError(403, "forbidden", "This order belongs to someone else.")


def _upsert_refund(
    order: Order,
    payment: OrderPayment,
    refund_id: str,
    amount: int,
    status: str,
    source: RefundSource,
) -> OrderRefund:
    for refund in order.refunds:
        if refund.id == refund_id:
            refund.status = status
            return refund
    refund = OrderRefund(
        id=refund_id,
        order_id=order.id,
        payment_id=payment.id,
        amount=amount,
        status=status,
        source=source.value,
        created_at=utcnow(),
    )
    order.refunds.append(refund)
    return refund


def _move(order: Order, target: OrderStatus) -> bool:
    if not can_move(ORDER_TRANSITIONS, OrderStatus(order.status), target):
        return False
    order.status = target.value
    return True


def _move_payment(payment: OrderPayment, target: OrderPaymentStatus) -> bool:
    if not can_move(PAYMENT_TRANSITIONS, OrderPaymentStatus(payment.status), target):
        return False
    payment.status = target.value
    return True


async def _find_by(session: AsyncSession, where: Any, *, lock: bool = True) -> Order | None:
    query = select(Order).where(where).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def _load(session: AsyncSession, order_id: str, *, lock: bool = False) -> Order:
    order = await _find_by(session, Order.id == order_id, lock=lock)
    if order is None:
        raise APIError(404, "order_not_found", f"No order with identifier {order_id!r}.")
    return order
