"""The official ``stripe`` SDK pointed at a running server's sandbox, as a user would point it."""

from __future__ import annotations

from typing import Any

import stripe

from tests.support.server import RunningServer

_open: list[stripe.HTTPXClient] = []


def client(server: RunningServer, key: str | None = None) -> stripe.StripeClient:
    """A client of the sandbox mounted at ``/sandbox``: its API and its Connect OAuth, with the
    sandbox's own secret key unless another ``key`` is given."""
    return client_at(f"{server.url}/sandbox", key or server.sandbox_key)


def client_at(base: str, key: str) -> stripe.StripeClient:
    """A client of the sandbox whose API answers at ``base``/v1/..."""
    http = stripe.HTTPXClient(allow_sync_methods=True)
    _open.append(http)
    return stripe.StripeClient(
        key,
        base_addresses={"api": base, "connect": base},
        max_network_retries=0,
        http_client=http,
    )


def close_all() -> None:
    while _open:
        _open.pop().close()  # type: ignore[no-untyped-call]


def session_params(**extra: Any) -> Any:
    """A Checkout Session of two JPY 500 items, as the SDK's ``sessions.create`` takes it."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "jpy",
                    "unit_amount": 500,
                    "product_data": {"name": "Matcha"},
                },
            }
        ],
        "success_url": "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/back",
        "customer_email": "buyer@example.com",
        "metadata": {"order": "42"},
    }
    return params | extra
