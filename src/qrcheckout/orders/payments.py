"""Money for orders through the provider: card-token charges and refunds, and giving back
payments that could not be applied."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable

from sqlalchemy import select

from qrcheckout import metrics
from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.secrets import digest
from qrcheckout.checkout.models import Payment
from qrcheckout.checkout.states import TokenPaymentStatus
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
from qrcheckout.money import format_amount
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
    ProviderError,
    ProviderErrorKind,
    ProviderProblem,
    RefundRequest,
)
from qrcheckout.payments.providers import Providers
from qrcheckout.unit import UnitOfWork

log = logging.getLogger(__name__)


class OrderPayments:
    def __init__(
        self, db: Database, units: UnitOfWork, providers: Providers, orders: OrderService
    ) -> None:
        self.db = db
        self.units = units
        self.providers = providers
        self.orders = orders
        self.ledger = orders.ledger
        self.links = orders.tokens.links
        #: Refunds the jobs give back that the provider refused, and when to try each again.
        self.retries = Retries()

    # -- charging ----------------------------------------------------------------------------

    async def charge(
        self, access: Access, order_id: str, source: str | None, provider: str | None = None
    ) -> Order:
        """Pay the signed-in buyer's own order through ``provider`` (None: the order's own):
        charge a card token, or complete the session the buyer approved (``source`` its id)
        with a provider that takes the money only when asked."""
        async with self.db.sessions() as session:
            order = await load_order(session, order_id)
            access.check(Resource.ORDER, Action.CHARGE, order)
            _check_payable(order)
        name = provider or order.payment_mode
        if name != order.payment_mode:
            raise Conflict(
                "wrong_provider",
                f"This order is paid with {order.payment_mode}, not {name}.",
                field="data.attributes",
            )
        if self.providers.chosen(name).needs_completion:
            return await self._complete(order, name, source)
        return await self._charge_card(access, order_id, source, name)

    async def _complete(self, order: Order, provider: str, session_id: str | None) -> Order:
        token = order.token
        opened = {p.id for p in token.payments} if token is not None else set()
        if not session_id or session_id not in opened or token is None:
            raise NotFound(
                "payment_not_found",
                "Name the payment the buyer approved for this order (its payment_url's).",
                field="data.attributes",
            )
        try:
            result = await self.orders.tokens.take(provider, session_id)
        except ProviderError as exc:
            raise _provider_refusal(exc) from exc
        if result is None:
            now = await self.orders.get(order.id)
            if now.status in PAID:
                return now  # the approval's event (or the buyer's return) took it first
            raise Conflict("payment_not_open", "This order's payment can no longer be taken.")
        if result.payment_status == "paid":
            return await self._applied(order.id)
        if result.status == "complete":  # taken, still settling: its event completes the order
            raise PaymentIncomplete(
                "payment_pending", "The payment was taken and is settling; the order waits."
            )
        raise PaymentDeclined(
            "payment_not_taken", "The buyer's payment could not be taken; ask them to pay again."
        )

    async def _charge_card(
        self, access: Access, order_id: str, source: str | None, provider: str
    ) -> Order:
        async with self.units() as (session, _):
            order = await load_order(session, order_id, lock=True)
            access.check(Resource.ORDER, Action.CHARGE, order)
            _check_payable(order)
            if not source:
                raise Invalid(
                    "token_missing",
                    "Send the card token as data.attributes.stripe (a tok_... from Stripe.js).",
                )
            payee = await self.links.payee(session, order.merchant_id, provider)
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
            charge = await self.providers.of(provider).charge(request)
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
                taken_on=(provider, payee.account),
            )
        metrics.paid(provider, charge.currency, charge.amount)
        if not payment.applied:
            raise _not_applied(order)
        return await self.orders.get(order_id)

    async def _applied(self, order_id: str) -> Order:
        """The order a payment was just applied to, or why it was not."""
        order = await self.orders.get(order_id)
        if order.status not in PAID:
            raise _not_applied(order)
        return order

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
            charged = await self.providers.default.charge(request)
        except ProviderError as exc:
            raise _provider_refusal(exc) from exc
        if charged.status == "succeeded":
            metrics.paid(self.providers.default.name, charged.currency, charged.amount)
        return charged

    # -- refunds -----------------------------------------------------------------------------

    async def refund(
        self, access: Access, order_id: str, amount: int | None, idempotency_key: str | None
    ) -> tuple[OrderRefund, Order]:
        """Refund ``amount`` of what the order's payment left (all of it: None), by whoever the
        permission table lets refund it."""
        async with self.db.sessions() as session:
            order = await load_order(session, order_id)
            access.check(Resource.ORDER, Action.REFUND, order)
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
            result = await self.providers.of(payment.provider).refund(
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
            log.info(
                "order %s: refund %s of %s (%s)",
                order.id,
                result.id,
                format_amount(result.amount, order.currency),
                result.status.value,
            )
            metrics.refunded(order.currency, "api", result.amount)
            await self.ledger.settle_refunds(session, outbox, order, payment)
        return refund, await self.orders.get(order_id)

    async def refund_unapplied(self) -> int:
        """Give back every payment that could not be applied; returns how many were refunded."""
        async with self.db.sessions() as session:
            pending = list(
                await session.scalars(
                    select(OrderPayment).where(
                        OrderPayment.status == OrderPaymentStatus.REFUND_PENDING.value,
                        OrderPayment.provider.in_(list(self.providers)),
                    )
                )
            )
        done = 0
        for payment in pending:
            if not self.retries.due(payment.id):
                continue
            left = payment.amount - payment.amount_refunded
            try:
                result = await self.providers.of(payment.provider).refund(
                    RefundRequest(
                        payment=payment.id,
                        idempotency_key=_unapplied_key(payment.id),
                        amount=left,
                        metadata={"order_id": payment.order_id, "reason": "not_applied"},
                        account=payment.account_id,
                    )
                )
            except ProviderError as exc:
                if exc.problem == ProviderProblem.ALREADY_REFUNDED:
                    result = None
                else:
                    wait = self.retries.failed(payment.id)
                    log.warning(
                        "refunding payment %s failed: %s; again in %.0f s",
                        payment.id,
                        exc.message,
                        wait,
                    )
                    continue
            async with self.units() as (session, outbox):
                order = await load_order(session, payment.order_id, lock=True)
                current = next(p for p in order.payments if p.id == payment.id)
                if result is not None:
                    metrics.refunded(order.currency, "automatic", result.amount)
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
            self.retries.succeeded(payment.id)
            done += 1
        return done

    async def refund_late_token_payments(self) -> int:
        """Give back money a token took that it could not take (it had ended, or the amount did
        not match) when no order holds the token (an order's payments are refunded above, with
        the same key); returns how many were refunded."""
        async with self.db.sessions() as session:
            late = list(
                await session.scalars(
                    select(Payment)
                    .outerjoin(Order, Order.token_id == Payment.token_id)
                    .where(
                        Payment.problem.is_not(None),
                        Payment.refund_id.is_(None),
                        Payment.payment_intent.is_not(None),
                        Payment.status.in_(_TAKEN),
                        Payment.provider.in_(list(self.providers)),
                        Order.id.is_(None),
                    )
                    .order_by(Payment.updated_at)
                    .limit(REFUND_BATCH)
                )
            )
        done = 0
        for payment in late:
            assert payment.payment_intent is not None  # selected so
            if not self.retries.due(payment.id):
                continue
            try:
                result = await self.providers.of(payment.provider).refund(
                    RefundRequest(
                        payment=payment.payment_intent,
                        idempotency_key=_unapplied_key(payment.payment_intent),
                        metadata={"token_id": payment.token_id, "reason": "not_applied"},
                        account=payment.account_id,
                    )
                )
                refund_id = result.id
                metrics.refunded(payment.currency, "automatic", result.amount)
            except ProviderError as exc:
                if exc.problem != ProviderProblem.ALREADY_REFUNDED:
                    wait = self.retries.failed(payment.id)
                    log.warning(
                        "refunding session %s failed: %s; again in %.0f s",
                        payment.id,
                        exc.message,
                        wait,
                    )
                    continue
                refund_id = REFUNDED_ELSEWHERE
            async with self.db.transaction() as session:
                current = await session.get(Payment, payment.id, with_for_update=True)
                if current is not None and current.refund_id is None:
                    current.refund_id = refund_id
                    log.info(
                        "session %s: %s given back (%s)", payment.id, current.problem, refund_id
                    )
            self.retries.succeeded(payment.id)
            done += 1
        return done


class Retries:
    """When each refund that failed may be tried again: 5 s after the first failure, twice as
    long after each one more, at most an hour. Kept by this process (a restart tries at once):
    a refund the provider keeps refusing costs a call an hour, not one a tick."""

    FIRST, LONGEST = 5.0, 3600.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._waits: dict[str, tuple[float, float]] = {}

    def due(self, key: str) -> bool:
        kept = self._waits.get(key)
        return kept is None or self.clock() >= kept[1]

    def failed(self, key: str) -> float:
        """Note a failure; how long until the next try."""
        previous = self._waits.get(key)
        wait = self.FIRST if previous is None else min(previous[0] * 2, self.LONGEST)
        self._waits[key] = (wait, self.clock() + wait)
        return wait

    def succeeded(self, key: str) -> None:
        self._waits.pop(key, None)


def _unapplied_key(payment_id: str) -> str:
    """One refund of a payment that could not be applied, whichever job makes it."""
    return f"qrcheckout-payment-{payment_id}-refund"


# A token's payment whose money the provider took, and how many the job refunds a tick.
_TAKEN = [TokenPaymentStatus.PAID.value, TokenPaymentStatus.REJECTED.value]
REFUND_BATCH = 100
# What a token payment's refund_id says when the money had been given back at the provider.
REFUNDED_ELSEWHERE = "refunded_at_provider"


_ENDED_CODES = frozenset({OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value})


def _not_applied(order: Order) -> Conflict:
    return Conflict(
        f"order_{order.status}" if order.status in _ENDED_CODES else "order_paid",
        f"The order was {order.status} when the payment landed; it will be refunded.",
    )


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
