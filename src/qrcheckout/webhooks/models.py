"""Every provider event, stored raw under its provider and unique id before it is processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qrcheckout.db import Base, UTCDateTime, utcnow


class StoredEvent(Base):
    __tablename__ = "provider_events"

    # An event id is unique at its provider only.
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(128), index=True)
    # Whose it is, once processing found its token or order: who may see it on the channel.
    merchant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    # The event's own ``created``, in Unix seconds as the provider sent it.
    created: Mapped[int | None] = mapped_column(Integer)
    # received -> processed | ignored | failed (failed is retried on redelivery)
    status: Mapped[str] = mapped_column(String(16), index=True)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
