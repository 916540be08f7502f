"""A merchant's links to its own Stripe account (Connect), and the single-use states that
bind an OAuth round trip to the merchant that started it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from qrcheckout.access.models import Merchant  # noqa: F401  (the table it points at)
from qrcheckout.db import Base, UTCDateTime, utcnow


class StripeAccount(Base):
    """One link, ever: a merchant's newest is the one it is paid on while not unlinked."""

    __tablename__ = "stripe_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(255), index=True)
    # Public by design: a buyer's app creates card tokens for the account with it.
    publishable_key: Mapped[str | None] = mapped_column(String(255))
    scope: Mapped[str | None] = mapped_column(String(32))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "merchant" (through this service), "stripe" (the account's owner, Stripe told us) or
    # "relinked" (another link replaced it).
    unlinked_by: Mapped[str | None] = mapped_column(String(16))


class LinkState(Base):
    """The ``state`` of an OAuth round trip, kept only as its SHA-256, used once."""

    __tablename__ = "stripe_link_states"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
