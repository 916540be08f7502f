"""Webhook signatures in Stripe's scheme, for the events this service sends and checks."""

from __future__ import annotations

import hashlib
import hmac


def sign(payload: str, secret: str, timestamp: int) -> str:
    """``t={timestamp},v1={HMAC-SHA256 of "{timestamp}.{payload}" keyed by the secret}``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
