"""Checkout tokens (the QR handoff), their priced items, and the provider payments they start."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qrcheckout.catalog.models import SoldLine
from qrcheckout.db import Base, UTCDateTime, utcnow

# Live tokens that can expire: the expiry sweep's condition, written out (not bound) so that
# SQLite and PostgreSQL's generic plans use the partial index made for it.
LIVE_ENDING = "status = 'inprogress' AND end_at IS NOT NULL"
LIVE_INDEX = "ix_tokens_live_end_at"


class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = (
        # What the expiry sweep reads every tick: live tokens by their end, and nothing else
        # (paid, ended and static ones would grow the walk with every sale).
        Index(
            LIVE_INDEX,
            "end_at",
            postgresql_where=text(LIVE_ENDING),
            sqlite_where=text(LIVE_ENDING),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    # The signed-in buyer who created it; None for a shop page's or a merchant's token.
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # SHA-256 of the capability to cancel it, returned once to whoever created it.
    cancel_digest: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # None for static tokens, which never expire.
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    amount_total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    # The payment provider it is paid through (``Providers``): its sessions are opened there.
    provider: Mapped[str] = mapped_column(String(16), server_default="stripe")
    # The provider session opened last (the column keeps the name it had before PayPal).
    session_id: Mapped[str | None] = mapped_column("stripe_session_id", String(255))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[TokenItem]] = relationship(
        back_populates="token", lazy="selectin", order_by="TokenItem.position"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="token", lazy="selectin", order_by="Payment.created_at"
    )


class TokenItem(SoldLine, Base):
    __tablename__ = "token_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")

    token: Mapped[Token] = relationship(back_populates="items")


class Payment(Base):
    """One provider checkout session; a static token has one per scan, a dynamic one at most one."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    amount_total: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    payment_intent: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(16), server_default="stripe")
    # The merchant's linked account the session was opened on; None: the platform's.
    account_id: Mapped[str | None] = mapped_column(String(255))
    # Failed attempts to complete it (``needs_completion`` providers), counted to give up.
    completion_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when money arrived that could not be applied (mismatch, after expiry or cancel).
    problem: Mapped[str | None] = mapped_column(Text)
    # The refund that gave that money back (a token's; an order's payments refund their own).
    refund_id: Mapped[str | None] = mapped_column(String(255))
    # The buyer's email receipt: when it was sent, how many tries, and when it may be tried
    # next (a claim's lease, or the wait after a refusal).
    receipt_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    receipt_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    token: Mapped[Token] = relationship(back_populates="payments")
