"""Forge Stripe webhook deliveries the way Stripe signs them, for tests that hold the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def session_event(
    event_type: str,
    *,
    session_id: str,
    token_id: str,
    amount_total: int,
    currency: str,
    payment_status: str = "paid",
    status: str = "complete",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id or "evt_test_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": amount_total,
                "currency": currency,
                "metadata": {"token_id": token_id},
                "payment_status": payment_status,
                "status": status,
                "payment_intent": "pi_test_" + secrets.token_hex(8),
            }
        },
    }


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event)


def token_paid(token: dict[str, Any], session_id: str) -> dict[str, Any]:
    """Stripe's ``checkout.session.completed`` for a token's whole amount."""
    return session_event(
        "checkout.session.completed",
        session_id=session_id,
        token_id=token["id"],
        amount_total=token["amount_total"],
        currency=token["currency"],
    )


def deliver(client: httpx.Client, event: dict[str, Any], secret: str) -> httpx.Response:
    """POST ``event`` to the service's Stripe webhook, signed with ``secret``."""
    payload = encode(event)
    return client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature(payload, secret),
        },
    )
