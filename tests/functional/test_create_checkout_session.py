"""``POST /create-checkout-session``: catalog prices for all, inline prices for the key holder."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer

API_KEY = "qrk_test_secret_key_for_tests"
SNIPPET_BODY = {
    "line_items": [
        {
            "quantity": 1,
            "price_data": {
                "currency": "aud",
                "unit_amount": 100,
                "product_data": {
                    "name": "canva test 1",
                    "description": "A printed design",
                    "images": ["https://shop.example/canva-1.png"],
                },
            },
        }
    ],
    "customer_email": "buyer@example.com",
}


def _post(server: RunningServer, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.url}/create-checkout-session", json=body, headers=headers)


def _sessions(server: RunningServer) -> list[dict[str, Any]]:
    return [r.obj for r in server.sandbox.store.all_of("checkout.session")]


def test_catalog_items_are_priced_by_the_service(server: RunningServer) -> None:
    body = {
        "line_items": [{"price": "espresso", "quantity": 2}, {"price": "croissant", "quantity": 1}],
        "customer_email": "buyer@example.com",
    }
    answer = _post(server, body)
    assert answer.status_code == 200, answer.text
    session_id = answer.json()["sessionId"]
    assert session_id.startswith("cs_test_")
    assert answer.json()["url"].endswith(f"/sandbox/pay/{session_id}")
    session = server.sandbox.object(session_id)
    assert session["amount_total"] == 2 * 250 + 290 and session["currency"] == "usd"
    assert session["customer_email"] == "buyer@example.com"
    names = [(i["description"], i["quantity"]) for i in server.sandbox.line_items(session_id)]
    assert names == [("Espresso", 2), ("Butter croissant", 1)]


@pytest.mark.one_database
def test_missing_items_or_email_is_the_documented_400(server: RunningServer) -> None:
    for body in (
        {"customer_email": "buyer@example.com"},
        {"line_items": [{"price": "espresso", "quantity": 1}]},
        {"line_items": [], "customer_email": "buyer@example.com"},
        {},
        [],
    ):
        answer = _post(server, body)
        assert answer.status_code == 400, body
        assert answer.json()["error"] == "missing required session parameters"
    assert _sessions(server) == []


@pytest.mark.one_database
def test_a_browser_cannot_set_its_own_price(server: RunningServer) -> None:
    answer = _post(server, SNIPPET_BODY)
    assert answer.status_code == 403
    assert answer.json()["code"] == "price_data_not_allowed"
    assert "catalog" in answer.json()["error"]
    wrong = _post(server, SNIPPET_BODY, key="not-the-key")
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_api_key"
    assert _sessions(server) == []


def test_the_key_holder_sends_the_documented_body_with_shipping(make_server: Any) -> None:
    server = make_server(api_key=API_KEY)
    assert _post(server, SNIPPET_BODY).status_code == 403  # still refused without the key
    answer = _post(server, SNIPPET_BODY | {"shipping_countries": ["GB", "US"]}, key=API_KEY)
    assert answer.status_code == 200, answer.text
    session = server.sandbox.object(answer.json()["sessionId"])
    assert (session["amount_total"], session["currency"]) == (100, "aud")
    assert session["shipping_address_collection"] == {"allowed_countries": ["GB", "US"]}
    [item] = server.sandbox.line_items(session["id"])
    assert item["description"] == "canva test 1"


@pytest.mark.one_database
def test_bad_items_are_refused_with_a_reason(make_server: Any) -> None:
    server = make_server(api_key=API_KEY)
    cases = [
        ({"price": "caviar", "quantity": 1}, 400, "unknown_price"),
        ({"price": "espresso", "quantity": 0}, 422, "validation_error"),
        ({"price": "espresso", "quantity": "lots"}, 422, "validation_error"),
        ({"price": "espresso", "quantity": 1, "unit_amount": 1}, 422, "validation_error"),
        ({"quantity": 1}, 422, "validation_error"),
    ]
    for item, status, code in cases:
        answer = _post(server, {"line_items": [item], "customer_email": "a@example.com"})
        assert (answer.status_code, answer.json()["code"]) == (status, code), item
        assert answer.json()["error"]
    mixed = {
        "line_items": [
            {"price": "espresso", "quantity": 1},
            SNIPPET_BODY["line_items"][0],
        ],
        "customer_email": "a@example.com",
    }
    answer = _post(server, mixed, key=API_KEY)
    assert (answer.status_code, answer.json()["code"]) == (400, "mixed_currencies")
    bad_email = _post(
        server, {"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "nope"}
    )
    assert bad_email.status_code == 422
    not_json = httpx.post(
        f"{server.url}/create-checkout-session",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_json")
    assert _sessions(server) == []


@pytest.mark.one_database
def test_provider_refusals_come_back_as_a_clear_4xx(make_server: Any) -> None:
    server = make_server(api_key=API_KEY)
    huge = {
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 99_999_999,
                    "product_data": {"name": "Too much"},
                },
            }
        ],
        "customer_email": "a@example.com",
    }
    answer = _post(server, huge, key=API_KEY)
    assert answer.status_code == 400
    assert answer.json()["code"] == "amount_too_large"
    assert "total amount" in answer.json()["error"]


@pytest.mark.one_database
def test_an_unreachable_provider_is_a_502_with_its_reason(make_server: Any) -> None:
    server = make_server(stripe_api_base="http://127.0.0.1:9")
    answer = _post(
        server,
        {"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "a@example.com"},
    )
    assert answer.status_code == 502
    assert answer.json()["code"] == "provider_unavailable"


@pytest.mark.one_database
def test_a_key_with_characters_beyond_ascii_is_refused_not_a_crash(make_server: Any) -> None:
    server = make_server(api_key=API_KEY)
    body = {"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "a@b.co"}
    for path, payload in (("/create-checkout-session", body), ("/v1/products", {})):
        answer = httpx.post(
            f"{server.url}{path}", json=payload, headers={"Authorization": "Bearer clé".encode()}
        )
        assert answer.status_code == 401, (path, answer.text)
        assert "invalid_api_key" in answer.text
