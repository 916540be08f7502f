"""Merchants (the owners of catalogs, tokens, orders and events) and their API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qrcheckout.db import Base, UTCDateTime, utcnow

DEFAULT_MERCHANT = "default"


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(Text)
    accent_color: Mapped[str | None] = mapped_column(String(7))
    support_email: Mapped[str | None] = mapped_column(String(320))
    default_currency: Mapped[str] = mapped_column(String(3), default="usd")
    # What a token made without items sells (one of it): a donation, a fixed bill.
    default_product_id: Mapped[str | None] = mapped_column(String(64))
    # Origins it may send buyers back to and accept browser calls from, besides the service's.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where its ``order.*`` events are delivered.
    webhook_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Signs those deliveries (``whsec_...``); None: the configured one signs (the default
    # merchant's, ``QRCHECKOUT_MERCHANT_WEBHOOK_SECRET``). Kept as written, not hashed: a signing
    # secret must be used to sign, like Stripe's endpoint secrets. Never shown after it is made.
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # The platform's fee on payments into its linked Stripe account: basis points of the amount
    # plus a fixed amount in minor units; None: the platform's settings.
    fee_bps: Mapped[int | None] = mapped_column(Integer)
    fee_fixed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """A secret key, stored only as its SHA-256: a merchant's, or the platform's (no merchant)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's last four characters, to tell keys apart in a list.
    last4: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
