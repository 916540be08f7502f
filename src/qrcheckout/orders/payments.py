"""Money for orders through the provider: card-token charges and refunds, and giving back
payments that could not be applied."""

from __future__ import annotations

import json
import logging
import secrets

from sqlalchemy import select

from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.secrets import digest
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    PaymentDeclined,
    PaymentIncomplete,
    ProviderUnavailable,
)
from qrcheckout.orders.ledger import load_order, upsert_refund
from qrcheckout.orders.models import Order, OrderPayment, OrderRefund
from qrcheckout.orders.service import OrderService
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
    PaymentProvider,
    ProviderError,
    ProviderErrorKind,
    ProviderProblem,
    RefundRequest,
)
from qrcheckout.unit import UnitOfWork

log = logging.getLogger(__name__)


class OrderPayments:
    def __init__(
        self, db: Database, units: UnitOfWork, provider: PaymentProvider, orders: OrderService
    ) -> None:
        self.db = db
        self.units = units
        self.provider = provider
        self.orders = orders
        self.ledger = orders.ledger
        self.links = orders.tokens.links

    # -- charging a card token ---------------------------------------------------------------

    async def charge(self, access: Access, order_id: str, source: str | None) -> Order:
        """Charge a card token for the signed-in buyer's own order."""
        async with self.units() as (session, _):
            order = await load_order(session, order_id, lock=True)
            access.check(Resource.ORDER, Action.CHARGE, order)
            _check_payable(order)
            if not source:
                raise Invalid(
                    "token_missing",
                    "Send the card token as data.attributes.stripe (a tok_... from Stripe.js).",
                )
            payee = await self.links.payee(session, order.merchant_id)
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
                account=payee.account,
                application_fee=payee.fee(order.amount),
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
                async with self.units() as (session, _):
                    order = await load_order(session, order_id, lock=True)
                    order.refused_attempts += 1
                    order.failure_code = exc.decline_code or exc.code
                    order.failure_message = exc.message
            raise _provider_refusal(exc) from exc
        if charge.status != "succeeded":
            raise PaymentIncomplete(
                "charge_not_succeeded", f"The charge is {charge.status}; the order waits."
            )
        async with self.units() as (session, outbox):
            order = await load_order(session, order_id, lock=True)
            payment = await self.ledger.record_payment(
                session,
                outbox,
                order,
                payment_id=charge.payment_intent or charge.id,
                charge_id=charge.id,
                amount=charge.amount,
                currency=charge.currency,
                account=payee.account,
            )
        if not payment.applied:
            raise Conflict(
                f"order_{order.status}" if order.status in _ENDED_CODES else "order_paid",
                f"The order was {order.status} when the payment landed; it will be refunded.",
            )
        return await self.orders.get(order_id)

    async def charge_token(
        self, access: Access, token: str, amount: int, currency: str | None, key: str | None
    ) -> Charge:
        """A one-off card-token charge with no order, for the addressed merchant (in its
        default currency unless told), by a signed-in buyer or the merchant's own backend; a
        retry with the same ``key`` by the same caller is the same charge."""
        access.grants(Resource.CARD_CHARGE, Action.CREATE)
        caller = access.principal
        merchant_id = caller.merchant_id or caller.shop
        subject = caller.user_id or f"merchant:{merchant_id}"
        async with self.db.sessions() as session:
            merchant = await session.get(Merchant, merchant_id)
            if merchant is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            payee = await self.links.payee(session, merchant_id)
        request = ChargeRequest(
            amount=amount,
            currency=currency or merchant.default_currency,
            source=token,
            # Hashed together: no two (caller, key) pairs make the same provider key.
            idempotency_key="qrcheckout-charge-"
            + digest(json.dumps([merchant_id, subject, key or secrets.token_hex(12)])),
            metadata={"subject": subject, "merchant_id": merchant_id},
            account=payee.account,
            application_fee=payee.fee(amount),
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
                    account=payment.account_id,
                )
            )
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.CONFLICT:
                raise Conflict(
                    "refund_in_progress", "Another refund of this order is under way."
                ) from exc
            raise _provider_refusal(exc) from exc
        async with self.units() as (session, outbox):
            order = await load_order(session, order_id, lock=True)
            payment = next(p for p in order.payments if p.applied)
            refund = upsert_refund(
                order, payment, result.id, result.amount, result.status, RefundSource.API
            )
            await self.ledger.settle_refunds(session, outbox, order, payment)
        return refund, await self.orders.get(order_id)

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
                        account=payment.account_id,
                    )
                )
            except ProviderError as exc:
                if exc.problem == ProviderProblem.ALREADY_REFUNDED:
                    result = None
                else:
                    log.warning("refunding payment %s failed: %s", payment.id, exc.message)
                    continue
            async with self.units() as (session, outbox):
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
    if exc.kind != ProviderErrorKind.UNAVAILABLE:
        code = "invalid_currency" if exc.problem == ProviderProblem.CURRENCY else exc.code
        return Invalid(code, exc.message)
    return ProviderUnavailable("provider_error", f"The payment provider failed: {exc.message}")
