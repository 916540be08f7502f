"""The catalog: products with a server-side price in minor units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

# The merchants table every catalog row points at.
from qrcheckout.access.models import Merchant  # noqa: F401
from qrcheckout.db import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("unit_amount >= 0", name="unit_amount_nonnegative"),
        CheckConstraint("held >= sold AND sold >= 0", name="counts_consistent"),
    )

    # A product's id is the merchant's own name for it: unique within one merchant's catalog.
    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Shown beside it in the shop (https only).
    image_url: Mapped[str | None] = mapped_column(Text)
    unit_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Tickets: at most this many held by pending orders and sold, together; None: no limit.
    capacity: Mapped[int | None] = mapped_column(Integer)
    max_per_order: Mapped[int | None] = mapped_column(Integer)
    # On sale from, and until (None: always); outside the window it cannot be bought.
    sale_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sale_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Quantities of it in pending and paid orders (held), and in paid ones (sold): kept by
    # ``catalog.seats`` at every order transition, whether or not there is a capacity.
    held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sold: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SoldLine:
    """The columns of one line of a priced cart as it was sold (a token's or an order's),
    kept whatever the catalog says later."""

    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit_amount: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
