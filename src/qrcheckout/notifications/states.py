"""Where one delivery of a merchant event stands."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (or being sent under a lease)
    DELIVERED = "delivered"  # the merchant answered 2xx
    FAILED = "failed"  # the last attempt failed too; nothing more is sent
