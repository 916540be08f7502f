"""The customer's steps, as a phone would take them, against a running server."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.server import RunningServer, wait_until

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
NO_FUNDS_CARD = "4000 0000 0000 9995"


def create_token(server: RunningServer, **body: Any) -> dict[str, Any]:
    body.setdefault("items", [{"product_id": "espresso", "quantity": 2}])
    response = server.client.post("/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    token: dict[str, Any] = response.json()
    return token


def token(server: RunningServer, token_id: str) -> dict[str, Any]:
    response = server.client.get(f"/v1/tokens/{token_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def scan(server: RunningServer, token_id: str) -> httpx.Response:
    return server.client.get(f"/t/{token_id}", follow_redirects=False)


def pay_page(server: RunningServer, token_id: str) -> str:
    response = scan(server, token_id)
    assert response.status_code == 303, response.text
    url: str = response.headers["location"]
    return url


def submit_card(
    pay_url: str,
    card: str = GOOD_CARD,
    email: str = "buyer@example.com",
    expiry: str = "12 / 34",
    cvc: str = "123",
    **extra: str,
) -> httpx.Response:
    return httpx.post(
        pay_url,
        data={"number": card, "expiry": expiry, "cvc": cvc, "email": email, **extra},
        follow_redirects=False,
        timeout=30,
    )


def wait_status(
    server: RunningServer, token_id: str, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    return wait_until(
        lambda: (t := token(server, token_id)) and t["status"] == status and t, timeout
    )
