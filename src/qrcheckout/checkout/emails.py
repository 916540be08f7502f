"""Receipts by email: each payment confirmed for a buyer who gave an email is sent its receipt
once (a job, so a slow or absent mail server never holds up a payment).

Claimed before sending (``receipt_sent_at`` set in a transaction that skips rows another
instance holds), so several instances send each receipt once; a failed send is let go and
tried again on a later tick, up to ``MAX_TRIES``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, update

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
# A payment older than this gets no receipt: turning email on does not mail the past.
NOT_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class _Due:
    payment: Payment
    token: Token
    email: str
    merchant: Merchant


class ReceiptMail:
    def __init__(self, db: Database, mailer: Mailer, public_url: str) -> None:
        self.db = db
        self.mailer = mailer
        self.public_url = public_url

    async def send_due(self) -> int:
        """Send the receipts due; returns how many were tried."""
        due = await self._claim()
        for item in due:
            try:
                await self.mailer.send(self.message(item))
            except Exception as exc:  # the server, the network, a refused address
                log.warning("receipt for %s not sent (%s); tried again later", item.payment.id, exc)
                async with self.db.transaction() as session:
                    await session.execute(
                        update(Payment)
                        .where(Payment.id == item.payment.id)
                        .values(receipt_sent_at=None)
                    )
            else:
                log.info("receipt for %s sent", item.payment.id)
        return len(due)

    async def _claim(self) -> list[_Due]:
        email = func.coalesce(Order.customer_email, Token.customer_email)
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
                        Payment.updated_at >= utcnow() - NOT_AFTER,
                        email.is_not(None),
                    )
                    .order_by(Payment.updated_at)
                    .limit(BATCH)
                    .with_for_update(of=Payment, skip_locked=True)
                )
            ).all()
            now = utcnow()
            for payment, *_ in rows:
                payment.receipt_sent_at = now
                payment.receipt_tries += 1
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
