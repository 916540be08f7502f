"""Receipts by email: each payment confirmed for a buyer who gave an email is sent its receipt
once (a job, so a slow or absent mail server never holds up a payment).

A receipt is claimed before it is sent, in a transaction that skips rows another instance
holds, for ``LEASE`` (a process that stops while sending leaves it to be sent after that);
``receipt_sent_at`` marks it sent. A refusal is tried again later, each wait four times the
one before (a greylisting server asks for minutes), ``MAX_TRIES`` times in all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import raiseload

from qrcheckout.access.models import Merchant
from qrcheckout.checkout.models import Payment, Token
from qrcheckout.checkout.states import TokenPaymentStatus
from qrcheckout.db import Database, utcnow
from qrcheckout.mail import Mailer
from qrcheckout.money import format_amount
from qrcheckout.orders.models import Order

log = logging.getLogger(__name__)

BATCH = 20
MAX_TRIES = 5
LEASE = timedelta(minutes=10)
# A payment older than this gets no receipt: turning email on does not mail the past.
NOT_AFTER = timedelta(days=2)


@dataclass(frozen=True)
class _Due:
    payment: Payment
    token: Token
    email: str
    merchant: Merchant


class ReceiptMail:
    def __init__(
        self, db: Database, mailer: Mailer, public_url: str, retry_base_seconds: float = 60.0
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.public_url = public_url
        self.retry_base = timedelta(seconds=retry_base_seconds)

    async def send_due(self) -> int:
        """Send the receipts due; returns how many were tried."""
        due = await self._claim()
        for item in due:
            payment = item.payment
            try:
                await self.mailer.send(self.message(item))
            except Exception as exc:  # the server, the network, a refused address
                tries = payment.receipt_tries + 1
                wait = self.retry_base * 4 ** (tries - 1)
                if tries < MAX_TRIES:
                    log.warning("receipt for %s not sent (%s); again in %s", payment.id, exc, wait)
                else:
                    log.error("receipt for %s not sent (%s); given up", payment.id, exc)
                await self._mark(payment.id, receipt_next_at=utcnow() + wait)
            else:
                log.info("receipt for %s sent", payment.id)
                await self._mark(payment.id, receipt_sent_at=utcnow())
        return len(due)

    async def _mark(self, payment_id: str, **values: object) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Payment)
                .where(Payment.id == payment_id)
                # When it was paid stays as it was: the receipt says it.
                .values(updated_at=Payment.updated_at, **values)
            )

    async def _claim(self) -> list[_Due]:
        email = func.coalesce(Order.customer_email, Token.customer_email)
        now = utcnow()
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(Payment, Token, email, Merchant)
                    .join(Token, Token.id == Payment.token_id)
                    .join(Merchant, Merchant.id == Token.merchant_id)
                    .outerjoin(Order, Order.token_id == Token.id)
                    .where(
                        Payment.status == TokenPaymentStatus.PAID,
                        Payment.problem.is_(None),
                        Payment.receipt_sent_at.is_(None),
                        Payment.receipt_tries < MAX_TRIES,
                        or_(Payment.receipt_next_at.is_(None), Payment.receipt_next_at <= now),
                        Payment.created_at >= now - NOT_AFTER,
                        email.is_not(None),
                    )
                    # The receipt lists the items; a static code's thousands of sessions, no.
                    .options(raiseload(Token.payments))
                    .order_by(Payment.created_at)
                    .limit(BATCH)
                    .with_for_update(of=Payment, skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(Payment)
                    .where(Payment.id.in_([payment.id for payment, *_ in rows]))
                    .values(
                        receipt_tries=Payment.receipt_tries + 1,
                        receipt_next_at=now + LEASE,
                        updated_at=Payment.updated_at,
                    )
                    # The rows read above keep the tries made before this one.
                    .execution_options(synchronize_session=False)
                )
            return [_Due(payment, token, to, merchant) for payment, token, to, merchant in rows]

    def message(self, due: _Due) -> EmailMessage:
        payment, token, merchant = due.payment, due.token, due.merchant
        total = format_amount(payment.amount_total, payment.currency)
        lines = [
            f"  {item.quantity} × {item.name}  {format_amount(item.amount, token.currency)}"
            for item in token.items
        ]
        paid_at = (payment.updated_at or utcnow()).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(
            [
                f"Thank you for your payment to {merchant.name}.",
                "",
                *lines,
                f"  Total  {total}",
                "",
                f"Paid: {paid_at}",
                f"Reference: {payment.id}",
                f"Your receipt online: {self.public_url}/t/{token.id}/done?session_id={payment.id}",
                *([f"Questions? {merchant.support_email}"] if merchant.support_email else []),
            ]
        )
        message = EmailMessage()
        message["To"] = due.email
        message["Subject"] = f"Your receipt from {merchant.name}: {total}"
        if merchant.support_email:
            message["Reply-To"] = merchant.support_email
        message.set_content(body + "\n")
        return message
