"""A second merchant beside the default one, made with the platform's key."""

from __future__ import annotations

from typing import Any

from tests.support.auth import bearer
from tests.support.server import RunningServer

ADMIN_KEY = "qrk_test_platform_admin_0123456789abcdef"


def add_acme(server: RunningServer, **settings: Any) -> tuple[str, dict[str, Any]]:
    """Merchant ``acme`` (its ``settings`` too) with its own ``espresso`` at 45.00 in its
    default currency, and a key; returns the key and the creation answer."""
    made = server.client.post(
        "/v1/merchants",
        json={"id": "acme", "name": "Acme Tickets", **settings},
        headers=bearer(ADMIN_KEY),
    )
    assert made.status_code == 201, made.text
    key = server.client.post(
        "/v1/merchants/acme/api-keys", json={"name": "backend"}, headers=bearer(ADMIN_KEY)
    )
    assert key.status_code == 201, key.text
    secret: str = key.json()["secret"]
    product = server.client.post(
        "/v1/products",
        json={"id": "espresso", "name": "Gig ticket", "unit_amount": 4500},
        headers=bearer(secret),
    )
    assert product.status_code == 201, product.text
    return secret, made.json()
