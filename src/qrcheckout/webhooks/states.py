"""Where a stored provider event stands."""

from __future__ import annotations

from enum import StrEnum


class EventStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet settled (or cut off by a crash: replayed)
    PROCESSED = "processed"  # a handler acted on it
    IGNORED = "ignored"  # settled; nothing here follows it
    FAILED = "failed"  # processing raised; the provider's retry processes it again
