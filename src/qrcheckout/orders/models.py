"""Orders, their priced items, the payments and refunds seen for them, and what they granted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qrcheckout.catalog.models import SoldLine
from qrcheckout.checkout.models import Token
from qrcheckout.db import Base, UTCDateTime, utcnow

# Pending orders that can expire: the expiry sweep's condition, written out (see LIVE_ENDING).
PENDING_ENDING = "status = 'pending' AND expires_at IS NOT NULL"
PENDING_INDEX = "ix_orders_pending_expires_at"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # The expiry sweep's: pending orders by their end only.
        Index(
            PENDING_INDEX,
            "expires_at",
            postgresql_where=text(PENDING_ENDING),
            sqlite_where=text(PENDING_ENDING),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    payment_mode: Mapped[str] = mapped_column(String(16))
    # The JWT subject that created it; None for an order placed with an email only.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    amount_paid: Mapped[int] = mapped_column(Integer, default=0)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Charge attempts the provider refused (no money taken); keys the next attempt's idempotency.
    refused_attempts: Mapped[int] = mapped_column(Integer, default=0)
    token_id: Mapped[str | None] = mapped_column(ForeignKey("tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)

    # The QR checkout token that sells it; None for a free order.
    token: Mapped[Token | None] = relationship(lazy="selectin")
    items: Mapped[list[OrderItem]] = relationship(
        lazy="selectin", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    payments: Mapped[list[OrderPayment]] = relationship(
        lazy="selectin", order_by="OrderPayment.created_at", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[OrderRefund]] = relationship(
        lazy="selectin", order_by="OrderRefund.created_at", cascade="all, delete-orphan"
    )


class OrderItem(SoldLine, Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)


class OrderPayment(Base):
    """Money taken for an order, keyed by the provider's payment id (a Stripe PaymentIntent or
    Charge, a PayPal capture)."""

    __tablename__ = "order_payments"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # The charge behind it when known: refund events name the charge.
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # The provider that took it (refunds go there), and the merchant's linked account it was
    # taken on there; None: the platform's.
    provider: Mapped[str] = mapped_column(String(16), server_default="stripe")
    account_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(24), index=True)
    applied: Mapped[bool] = mapped_column(default=False)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    # What the provider last reported as refunded on the charge (a charge.refunded event).
    provider_amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    problem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OrderRefund(Base):
    __tablename__ = "order_refunds"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("order_payments.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Entitlement(Base):
    """What a buyer was granted by a completed order: one row per order and product, ever."""

    __tablename__ = "entitlements"
    __table_args__ = (UniqueConstraint("order_id", "product_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(320), index=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
