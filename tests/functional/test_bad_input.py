"""Bad input of every kind gets a clear 4xx in the route's JSON envelope and changes nothing:
control characters (PostgreSQL cannot even compare text holding NUL), JSON nested too deep to
read, credentials beyond ASCII, quantities that are not integers, currencies Stripe does not
take, and carts no provider would charge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import WEBHOOK_SECRET, ServerFactory
from tests.support.auth import API_KEY, JWT_SECRET, buyer, merchant
from tests.support.flows import create_token
from tests.support.server import RunningServer
from tests.support.stripe_events import signature

ITEM = {"product_id": "espresso", "quantity": 1}
SESSION = {"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "a@b.co"}
# Thirty thousand levels: json.loads gives up with a RecursionError. Arrays fit in the 64 KiB
# body limit; objects only in the webhook's 1 MiB.
DEEP_ARRAY = b"[" * 30_000 + b"]" * 30_000
DEEP_OBJECT = b'{"a":' * 30_000 + b"1" + b"}" * 30_000


@pytest.fixture
def shop(make_server: ServerFactory) -> RunningServer:
    return make_server(api_key=API_KEY, jwt_secret=JWT_SECRET)


def _error(response: httpx.Response) -> tuple[int, str]:
    """Status and code, in either envelope: ``{"error": {"code"}}`` or the shop front-ends'
    ``{"error": "<why>", "code"}``."""
    assert response.headers["content-type"].startswith("application/"), response.text
    body = response.json()
    error = body["error"]
    if isinstance(error, dict):
        assert error["message"], body
        return response.status_code, error["code"]
    assert error, body
    return response.status_code, body["code"]


def _products(server: RunningServer) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = server.client.get("/v1/products").json()["data"]
    return data


# -- control characters ------------------------------------------------------------------------


def test_a_control_character_in_a_path_names_nothing(shop: RunningServer) -> None:
    created = create_token(shop)
    for method, path in (
        ("GET", "/v1/orders/ord_%00x"),
        ("POST", "/v1/orders/ord_%00x/cancel"),
        ("GET", "/v1/tokens/%00"),
        ("GET", f"/v1/tokens/{created['id']}%00"),
        ("GET", "/v1/tokens/%00/qr.svg"),
        ("GET", "/v1/tokens/%00/events"),
        ("POST", "/v1/tokens/%00/cancel"),
        ("GET", "/v1/tokens/a%01b"),
        ("GET", "/v1/tokens/a%0Ab"),
        ("GET", "/v1/orders/ord_%09x"),
        ("GET", "/t/%00"),
        ("GET", "/t/x%0D"),
        ("GET", "/checkout/%00"),
    ):
        response = shop.client.request(method, path)
        assert _error(response) == (404, "not_found"), (method, path)
    assert shop.client.get(f"/v1/tokens/{created['id']}").json()["status"] == "inprogress"


def test_a_control_character_in_a_query_is_a_400(shop: RunningServer) -> None:
    for path, headers in (
        ("/v1/webhook-deliveries?event=%00", merchant()),
        ("/v1/orders?starting_after=ord_%00", merchant()),
        ("/v1/orders?starting_after=ord_%00", buyer("alice")),
        ("/v1/products?x%00=1", {}),
        ("/v1/orders?email=a%0Ab@example.com", merchant()),
        ("/v1/orders?status=paid%09", merchant()),
        ("/v1/tokens?starting_after=%0D", merchant()),
    ):
        response = shop.client.get(path, headers=headers)
        assert _error(response) == (400, "invalid_parameter"), path


def test_a_control_character_in_a_body_string_is_refused_and_changes_nothing(
    shop: RunningServer,
) -> None:
    before = _products(shop)
    for path, body, headers in (
        ("/v1/tokens", {"items": [{"product_id": "espresso\u0000", "quantity": 1}]}, {}),
        ("/v1/tokens", {"items": [{"product_id": "\u0000", "quantity": 1}]}, {}),
        ("/v1/orders", {"items": [{"productId": "espresso\u0000", "quantity": 1}]}, {}),
        (
            "/v1/orders",
            {"items": [ITEM], "customer_email": "a\u0000@example.com"},
            {},
        ),
        (
            "/v1/products",
            {"id": "tea", "name": "Tea\u0000", "unit_amount": 300, "currency": "usd"},
            merchant(),
        ),
        (
            "/v1/products",
            {"id": "t", "name": "T", "description": "\u0007", "unit_amount": 1, "currency": "usd"},
            merchant(),
        ),
        (
            "/services/Stripe/charge",
            {"token": "tok_visa\u0000", "amount": 100, "currency": "usd"},
            buyer("alice"),
        ),
    ):
        response = shop.client.post(path, json=body, headers=headers)
        assert _error(response) == (422, "validation_error"), (path, body)
        message = response.json()["error"]["message"]
        assert "control characters" in message or "U+0000" in message, message
    assert _products(shop) == before


@pytest.mark.parametrize(
    "line",
    [
        {"price": "espresso\u0000", "quantity": 1},
        {"price": "\u0000", "quantity": 1},
        {
            "quantity": 1,
            "price_data": {
                "currency": "usd",
                "unit_amount": 100,
                "product_data": {"name": "Tea\u0000"},
            },
        },
    ],
)
def test_a_control_character_in_a_checkout_session_is_refused(
    shop: RunningServer, line: dict[str, Any]
) -> None:
    body = {"line_items": [line], "customer_email": "a@b.co"}
    response = shop.client.post("/create-checkout-session", json=body, headers=merchant())
    assert _error(response) == (422, "validation_error")
    assert "control characters" in response.json()["error"]
    assert shop.sandbox.store.all_of("checkout.session") == []


def test_a_control_character_in_a_card_token_is_refused(shop: RunningServer) -> None:
    body = {"data": {"type": "charge", "attributes": {"stripe": "tok_visa\u0000"}}}
    response = shop.client.post("/v1/orders/ord_unknown/charge", json=body, headers=buyer("alice"))
    assert _error(response) == (422, "token_missing")


# -- JSON nested too deep ----------------------------------------------------------------------


@pytest.mark.one_database
def test_json_nested_too_deep_is_invalid_json_on_every_route(shop: RunningServer) -> None:
    created = create_token(shop)
    json_headers = {"Content-Type": "application/json"}
    for path, headers in (
        ("/v1/tokens", {}),
        ("/v1/orders", {}),
        ("/v1/products", merchant()),
        (f"/v1/tokens/{created['id']}/cancel", {}),
        ("/services/Stripe/charge", buyer("alice")),
        ("/v1/orders/ord_unknown/charge", buyer("alice")),
        ("/create-checkout-session", {}),
        ("/v1/webhooks/echo", {}),
    ):
        response = shop.client.post(path, content=DEEP_ARRAY, headers=json_headers | headers)
        assert _error(response) == (400, "invalid_json"), path
    # Not UTF-8 is the same refusal.
    for path in ("/v1/tokens", "/create-checkout-session"):
        response = shop.client.post(path, content=b'{"x": "\xff"}', headers=json_headers)
        assert _error(response) == (400, "invalid_json"), path
    assert shop.client.get(f"/v1/tokens/{created['id']}").json()["status"] == "inprogress"


@pytest.mark.one_database
def test_a_signed_webhook_nested_too_deep_is_invalid_json(shop: RunningServer) -> None:
    for body in (DEEP_ARRAY, DEEP_OBJECT):
        response = shop.client.post(
            "/v1/webhooks/stripe",
            content=body,
            headers={"Stripe-Signature": signature(body.decode(), WEBHOOK_SECRET)},
        )
        assert _error(response) == (400, "invalid_json")


# -- credentials beyond ASCII ------------------------------------------------------------------


@pytest.mark.one_database
@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_bearer_beyond_ascii_is_a_401_wherever_one_is_read(
    shop: RunningServer, encoding: str
) -> None:
    created = create_token(shop)
    headers = {"Authorization": "Bearer café".encode(encoding)}
    for method, path, body in (
        ("POST", "/create-checkout-session", SESSION),
        ("POST", "/v1/products", {"id": "tea", "name": "Tea", "unit_amount": 1, "currency": "usd"}),
        ("GET", "/v1/webhook-deliveries", None),
        ("POST", "/v1/tokens", {"items": [ITEM]}),
        ("GET", f"/v1/tokens/{created['id']}", None),
        ("POST", "/v1/orders", {"items": [ITEM], "customer_email": "a@b.co"}),
        ("GET", "/v1/orders", None),
        ("GET", "/v1/me/entitlements", None),
        ("POST", "/services/Stripe/charge", {"token": "tok_visa", "amount": 1, "currency": "usd"}),
        ("POST", "/v1/orders/ord_unknown/charge", {"data": {"attributes": {"stripe": "tok"}}}),
    ):
        response = shop.client.request(method, path, json=body, headers=headers)
        assert _error(response)[0] == 401, (path, response.text)
    assert shop.sandbox.store.all_of("checkout.session") == []


# -- quantities --------------------------------------------------------------------------------


@pytest.mark.one_database
@pytest.mark.parametrize("quantity", ["2", True, 2.0, "two", None])
def test_a_quantity_must_be_a_json_integer(shop: RunningServer, quantity: Any) -> None:
    item = {"product_id": "espresso", "quantity": quantity}
    for path, body in (
        ("/v1/tokens", {"items": [item]}),
        ("/v1/orders", {"items": [item], "customer_email": "a@b.co"}),
    ):
        response = shop.client.post(path, json=body)
        assert _error(response) == (422, "validation_error"), (path, quantity)
        assert "items.0.quantity" in response.json()["error"]["message"]
    line = {"price": "espresso", "quantity": quantity}
    response = shop.client.post(
        "/create-checkout-session", json={"line_items": [line], "customer_email": "a@b.co"}
    )
    assert _error(response) == (422, "validation_error")
    assert "line_items.0.quantity" in response.json()["error"]
    assert shop.sandbox.store.all_of("checkout.session") == []


# -- currencies --------------------------------------------------------------------------------


@pytest.mark.one_database
@pytest.mark.parametrize("currency", ["xyz", "USD", "us", "usdx", "", "aaa"])
def test_a_product_is_priced_only_in_a_currency_stripe_takes(
    shop: RunningServer, currency: str
) -> None:
    product = {"id": "tea", "name": "Tea", "unit_amount": 300, "currency": currency}
    response = shop.client.post("/v1/products", json=product, headers=merchant())
    assert _error(response) == (422, "validation_error")
    assert response.json()["error"]["details"][0]["field"] == "currency"
    assert "tea" not in {p["id"] for p in _products(shop)}


@pytest.mark.one_database
def test_every_currency_a_client_sends_is_checked_alike(shop: RunningServer) -> None:
    line = {
        "quantity": 1,
        "price_data": {"currency": "xyz", "unit_amount": 100, "product_data": {"name": "Tea"}},
    }
    session = shop.client.post(
        "/create-checkout-session",
        json={"line_items": [line], "customer_email": "a@b.co"},
        headers=merchant(),
    )
    assert _error(session) == (422, "validation_error")
    assert "currency" in session.json()["error"] and "'xyz'" in session.json()["error"]
    charge = shop.client.post(
        "/services/Stripe/charge",
        json={"token": "tok_visa", "amount": 100, "currency": "xyz"},
        headers=buyer("alice"),
    )
    assert _error(charge) == (422, "validation_error")
    assert charge.json()["error"]["details"][0]["field"] == "currency"
    assert shop.sandbox.store.all_of("checkout.session") == []


def test_a_three_decimal_currency_is_shown_with_three_decimals(shop: RunningServer) -> None:
    product = {"id": "dates", "name": "Dates", "unit_amount": 1250, "currency": "kwd"}
    assert shop.client.post("/v1/products", json=product, headers=merchant()).status_code == 201
    token = create_token(shop, items=[{"product_id": "dates", "quantity": 2}])
    assert token["amount_total"] == 2500 and token["amount_display"] == "2.500 KWD"


# -- totals ------------------------------------------------------------------------------------


def test_a_cart_over_the_largest_amount_is_refused_not_a_crash(shop: RunningServer) -> None:
    product = {"id": "gold", "name": "Gold", "unit_amount": 99_999_999, "currency": "usd"}
    assert shop.client.post("/v1/products", json=product, headers=merchant()).status_code == 201
    # 22 bars are more than a 32-bit column holds; 2 are more than Stripe charges at once.
    for quantity in (2, 22):
        items = [{"product_id": "gold", "quantity": quantity}]
        for path, body in (
            ("/v1/tokens", {"items": items}),
            ("/v1/orders", {"items": items, "customer_email": "a@b.co"}),
        ):
            response = shop.client.post(path, json=body)
            assert _error(response) == (422, "amount_too_large"), (path, quantity)
        line = {"price": "gold", "quantity": quantity}
        session = shop.client.post(
            "/create-checkout-session", json={"line_items": [line], "customer_email": "a@b.co"}
        )
        assert _error(session) == (400, "amount_too_large")
    assert create_token(shop, items=[{"product_id": "gold", "quantity": 1}])["amount_total"] == (
        99_999_999
    )
