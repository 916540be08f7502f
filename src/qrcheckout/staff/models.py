"""Staff accounts of a merchant's back office, and their signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qrcheckout.db import Base, UTCDateTime, utcnow


class StaffMember(Base):
    """One person's account at one merchant: an owner, or staff."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("merchant_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    # Kept lower-cased: it is what they sign in with.
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    # An argon2 hash; None until the invitation is accepted.
    password_hash: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the invitation's code, which sets the password once; None once used.
    invite_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Removed from the back office: signs in no more, its sessions are ended.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A signed-in browser, known by the SHA-256 of the secret its cookie holds."""

    __tablename__ = "staff_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
