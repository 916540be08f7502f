"""Orders as a shop's client holds them: create, read, pay, charge, refund, wait for a status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import stripe

from tests.conftest import WEBHOOK_SECRET
from tests.support import sdk
from tests.support.auth import API_KEY, JWT_SECRET, buyer, merchant
from tests.support.flows import GOOD_CARD, submit_card
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import deliver, session_event

MERCHANT_SECRET = "whsec_merchant_test_0123456789abcdef0123"
# A well-formed HS256 secret that is not the server's.
OTHER_SECRET = "another-jwt-secret-0123456789abcdef0123456"


def start(make_server: Callable[..., RunningServer], **overrides: Any) -> RunningServer:
    """A server: buyers sign in with HS256 ``JWT_SECRET``, the merchant holds ``API_KEY``."""
    values: dict[str, Any] = {"jwt_secret": JWT_SECRET, "api_key": API_KEY}
    values.update(overrides)
    return make_server(**values)


def items(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"product_id": pid, "quantity": quantity} for pid, quantity in pairs]


def post_order(
    server: RunningServer, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return server.client.post("/v1/orders", json=body, headers=headers or {})


def create_order(
    server: RunningServer,
    *pairs: tuple[str, int],
    sub: str | None = "alice",
    headers: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    """A new order (201) of ``pairs`` (default: 2 espresso), signed in as ``sub`` when given."""
    body.setdefault("items", items(*(pairs or (("espresso", 2),))))
    if headers is None:
        headers = buyer(sub) if sub is not None else {}
    response = post_order(server, body, headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def get_order(
    server: RunningServer, identifier: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The order as its merchant sees it (all fields), or as ``headers`` may."""
    response = server.client.get(f"/v1/orders/{identifier}", headers=headers or merchant())
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def wait_order(
    server: RunningServer,
    identifier: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (o := get_order(server, identifier)) and predicate(o) and o, timeout, 0.05
    )
    return found


def wait_order_status(
    server: RunningServer, identifier: str, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    return wait_order(server, identifier, lambda o: o["status"] == status, timeout)


def session_id(order: dict[str, Any]) -> str:
    """The sandbox Checkout Session behind an order's hosted payment page."""
    url = str(order["payment_url"])
    assert "/sandbox/pay/cs_test_" in url, url
    return url.rsplit("/", 1)[1]


def pay_order(
    server: RunningServer, order: dict[str, Any], card: str = GOOD_CARD
) -> dict[str, Any]:
    """Pay the hosted page as the customer would, then wait for the order to complete."""
    paid = submit_card(order["payment_url"], card)
    assert paid.status_code == 303, paid.text
    return wait_order_status(server, order["id"], "completed")


def land_payment(server: RunningServer, order: dict[str, Any], amount: int, currency: str) -> str:
    """A payment for the order's hosted page that was under way and lands now, whatever the
    order's state: a real PaymentIntent in the sandbox, reported by a signed
    ``checkout.session.completed``. Returns the intent's id."""
    intent = sdk.client(server).v1.payment_intents.create(
        {"amount": amount, "currency": currency, "payment_method": "pm_card_visa", "confirm": True}
    )
    event = session_event(
        "checkout.session.completed",
        session_id=session_id(order),
        token_id=order["token_id"],
        amount_total=amount,
        currency=currency,
    )
    event["data"]["object"]["payment_intent"] = intent.id
    delivered = deliver(server.client, event, WEBHOOK_SECRET)
    assert delivered.status_code == 200, delivered.text
    return intent.id


def charge_body(token: Any) -> dict[str, Any]:
    return {"data": {"type": "charge", "attributes": {"stripe": token}}}


def charge(
    server: RunningServer,
    identifier: str,
    token: Any = "tok_visa",
    headers: dict[str, str] | None = None,
    *,
    sub: str = "alice",
    body: Any = None,
) -> httpx.Response:
    return server.client.post(
        f"/v1/orders/{identifier}/charge",
        json=charge_body(token) if body is None else body,
        headers=buyer(sub) if headers is None else headers,
    )


def charged(server: RunningServer, order: dict[str, Any], sub: str = "alice") -> dict[str, Any]:
    """Charge ``tok_visa`` for an order (200) and return the completed order."""
    response = charge(server, order["id"], sub=sub)
    assert response.status_code == 200, response.text
    attributes: dict[str, Any] = response.json()["data"]["attributes"]
    assert attributes["status"] == "completed"
    return attributes


def refund(
    server: RunningServer,
    identifier: str,
    amount: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {} if amount is None else {"amount": amount}
    return server.client.post(
        f"/v1/orders/{identifier}/refunds",
        json=body,
        headers=merchant() if headers is None else headers,
    )


def refunded(server: RunningServer, identifier: str, amount: int | None = None) -> dict[str, Any]:
    response = refund(server, identifier, amount)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def add_product(
    server: RunningServer, product_id: str, unit_amount: int, currency: str, name: str = ""
) -> dict[str, Any]:
    response = server.client.post(
        "/v1/products",
        json={
            "id": product_id,
            "name": name or product_id.title(),
            "unit_amount": unit_amount,
            "currency": currency,
        },
        headers=merchant(),
    )
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


def entitlements(server: RunningServer, sub: str = "alice", **claims: Any) -> list[dict[str, Any]]:
    response = server.client.get("/v1/me/entitlements", headers=buyer(sub, **claims))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    data: list[dict[str, Any]] = body["data"]
    return data


def error(response: httpx.Response) -> tuple[int, str]:
    """The status and the ``error.code`` of an error answer."""
    return response.status_code, response.json()["error"]["code"]


# -- the sandbox, as Stripe shows it ----------------------------------------------------------


def sandbox_events(server: RunningServer) -> list[dict[str, Any]]:
    """Every event the sandbox has emitted, newest first (through its HTTP API)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = httpx.get(
            f"{server.url}/sandbox/v1/events",
            params=params,
            headers={"Authorization": f"Bearer {server.sandbox_key}"},
            timeout=30,
        ).json()
        found += page["data"]
        if not page["has_more"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


def settle(server: RunningServer, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the service has accepted every event the sandbox emitted; returns them."""
    events: list[dict[str, Any]] = wait_until(
        lambda: (
            (found := sandbox_events(server))
            and all(e["pending_webhooks"] == 0 for e in found)
            and found
        ),
        timeout,
        0.1,
    )
    return events


def order_charges(client: stripe.StripeClient, identifier: str) -> list[stripe.Charge]:
    """The sandbox's charges carrying ``metadata.order_id == identifier``."""
    return [
        c
        for c in client.v1.charges.list({"limit": 100}).data
        if c.metadata and c.metadata.to_dict().get("order_id") == identifier
    ]


def verify_merchant_post(
    headers: dict[str, str], body: bytes, secret: str = MERCHANT_SECRET
) -> dict[str, Any]:
    """Check a merchant webhook post's signature with the stripe SDK; returns the event."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stripe.WebhookSignature.verify_header(
        body.decode(), lowered["qrcheckout-signature"], secret, tolerance=300
    )
    event: dict[str, Any] = json.loads(body)
    assert lowered["qrcheckout-event-id"] == event["id"]
    return event
