"""The token API: server-side prices, QR images, and a clear 4xx for every bad input."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.conftest import ServerFactory
from tests.support.auth import API_KEY, merchant
from tests.support.flows import create_token, token
from tests.support.orders import start
from tests.support.server import RunningServer, wait_until


def test_health_and_catalog(server: RunningServer) -> None:
    assert server.client.get("/healthz").json()["status"] == "ok"
    products = server.client.get("/v1/products").json()["data"]
    espresso = next(p for p in products if p["id"] == "espresso")
    assert espresso["unit_amount"] == 250 and espresso["currency"] == "usd"
    assert {"id", "name", "description", "unit_amount", "currency"} <= espresso.keys()


def test_token_is_priced_from_the_catalog(make_server: ServerFactory) -> None:
    server = make_server(api_key=API_KEY)
    created = create_token(
        server,
        items=[
            {"product_id": "espresso", "quantity": 2},
            {"product_id": "croissant", "quantity": 1},
            {"product_id": "espresso", "quantity": 1},
        ],
    )
    uuid.UUID(created["id"], version=4)
    assert created["kind"] == "dynamic" and created["status"] == "inprogress"
    assert created["amount_total"] == 3 * 250 + 290 and created["amount_display"] == "$10.40"
    assert [(i["product_id"], i["quantity"], i["amount"]) for i in created["items"]] == [
        ("espresso", 3, 750),
        ("croissant", 1, 290),
    ]
    assert created["qr_svg_url"].endswith(f"/v1/tokens/{created['id']}/qr.svg")
    # Whoever holds the link sees the token without the buyer's identity; its merchant all.
    fetched = server.client.get(f"/v1/tokens/{created['id']}").json()
    hidden = {"customer_email", "user_id", "cancel_secret"}
    assert fetched == {k: v for k, v in created.items() if k not in hidden}
    as_merchant = server.client.get(f"/v1/tokens/{created['id']}", headers=merchant())
    assert as_merchant.json() == {k: v for k, v in created.items() if k != "cancel_secret"}


def test_token_kinds_and_lifetimes(server: RunningServer) -> None:
    temporary = create_token(server, kind="temporary")
    start = datetime.fromisoformat(temporary["created_at"])
    end = datetime.fromisoformat(temporary["end_at"])
    assert (end - start).total_seconds() == 600
    short = create_token(server, kind="temporary", ttl_seconds=30)
    assert (
        datetime.fromisoformat(short["end_at"]) - datetime.fromisoformat(short["created_at"])
    ).total_seconds() == 30
    assert create_token(server, kind="static")["end_at"] is None


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"product_id": "espresso", "quantity": 1, "price": 1}]}, "price"),
        ({"items": [{"product_id": "espresso", "quantity": 1, "unit_amount": 1}]}, "unit_amount"),
        ({"items": [{"product_id": "espresso", "quantity": 1}], "amount_total": 1}, "amount_total"),
        ({"items": [{"product_id": "espresso", "quantity": 1}], "amount": 1}, "amount"),
    ],
)
def test_client_sent_prices_are_refused(server: RunningServer, body: dict, field: str) -> None:
    response = server.client.post("/v1/tokens", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"] and "prices come from the catalog" in error["message"]


def test_a_token_without_items_sells_the_merchants_default_item(server: RunningServer) -> None:
    response = server.client.post("/v1/tokens", json={"kind": "static"})
    assert response.status_code == 201, response.text
    token = response.json()
    assert [(i["product_id"], i["quantity"]) for i in token["items"]] == [("espresso", 1)]
    assert token["amount_total"] == 250


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"items": [{"product_id": "nope", "quantity": 1}]}, 422, "unknown_product"),
        ({"items": [{"product_id": "espresso", "quantity": 0}]}, 422, "validation_error"),
        ({"items": [{"product_id": "espresso", "quantity": 1_000_000}]}, 422, "validation_error"),
        ({"items": [{"product_id": "espresso", "quantity": -1}]}, 422, "validation_error"),
        ({"items": [{"product_id": "espresso", "quantity": "two"}]}, 422, "validation_error"),
        ({"items": []}, 422, "validation_error"),
        (
            {"items": [{"product_id": "espresso", "quantity": 1}], "kind": "forever"},
            422,
            "validation_error",
        ),
        (
            {"items": [{"product_id": "espresso", "quantity": 1}], "customer_email": "nope"},
            422,
            "validation_error",
        ),
        (
            {
                "items": [{"product_id": "espresso", "quantity": 1}],
                "kind": "static",
                "ttl_seconds": 60,
            },
            422,
            "validation_error",
        ),
        (
            {"items": [{"product_id": "espresso", "quantity": 1}], "ttl_seconds": 0},
            422,
            "validation_error",
        ),
        (
            {"items": [{"product_id": "espresso", "quantity": 1}], "surprise": 1},
            422,
            "validation_error",
        ),
    ],
)
def test_bad_token_requests_get_clear_errors(
    server: RunningServer, body: dict, status: int, code: str
) -> None:
    response = server.client.post("/v1/tokens", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.mark.one_database
def test_bad_json_and_huge_bodies(server: RunningServer) -> None:
    bad = server.client.post(
        "/v1/tokens", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    items = [{"product_id": "espresso", "quantity": 1}] * 20_000
    huge = server.client.post("/v1/tokens", json={"items": items})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    hook = server.client.post("/v1/webhooks/stripe", content=b"x" * (2 * 1024 * 1024))
    assert hook.status_code == 413
    assert server.client.get("/v1/products").status_code == 200


def test_unknown_tokens_are_404(server: RunningServer) -> None:
    for token_id in ("00000000-0000-4000-8000-000000000000", "../etc", "x" * 300):
        for path in ("", "/qr.svg", "/events"):
            response = server.client.get(f"/v1/tokens/{token_id}{path}")
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] in {"token_not_found", "not_found"}
        cancel = server.client.post(f"/v1/tokens/{token_id}/cancel")
        assert cancel.status_code == 404


def test_qr_images(server: RunningServer) -> None:
    created = create_token(server)
    svg = server.client.get(f"/v1/tokens/{created['id']}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.lstrip().startswith("<svg")
    png = server.client.get(f"/v1/tokens/{created['id']}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    as_json = server.client.get(f"/v1/tokens/{created['id']}/qr.svg?payload=json")
    assert as_json.status_code == 200 and as_json.content != svg.content
    assert server.client.get(f"/v1/tokens/{created['id']}/qr.gif").status_code in (404, 422)
    bad = server.client.get(f"/v1/tokens/{created['id']}/qr.svg?payload=xml")
    assert bad.status_code == 422


def test_shop_form_creates_a_token_and_shows_the_qr_page(server: RunningServer) -> None:
    page = server.client.get("/")
    assert page.status_code == 200 and "Espresso" in page.text and "$2.50" in page.text
    empty = server.client.post("/shop/checkout", data={"qty_espresso": "0"})
    assert empty.status_code == 422 and "Pick at least one item" in empty.text
    silly = server.client.post("/shop/checkout", data={"qty_espresso": "lots"})
    assert silly.status_code == 422
    ordered = server.client.post("/shop/checkout", data={"qty_espresso": "2", "email": ""})
    assert ordered.status_code == 303
    qr_page = server.client.get(ordered.headers["location"])
    assert qr_page.status_code == 200 and "$5.00" in qr_page.text and "<svg" in qr_page.text


def test_the_shop_form_pays_through_the_provider_the_buyer_picks(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    page = server.client.get("/")
    assert 'name="provider" value="stripe"' in page.text
    assert 'name="provider" value="paypal"' in page.text
    for provider in ("paypal", "stripe"):
        ordered = server.client.post(
            "/shop/checkout", data={"qty_espresso": "1", "provider": provider}
        )
        assert ordered.status_code == 303, ordered.text
        made = server.client.get(f"/v1/tokens/{ordered.headers['location'].rsplit('/', 1)[1]}")
        assert made.json()["provider"] == provider
    before = server.client.get("/v1/tokens", headers=merchant()).json()["data"]
    unknown = server.client.post("/shop/checkout", data={"qty_espresso": "1", "provider": "cash"})
    assert unknown.status_code == 422 and "not set up here" in unknown.text
    assert server.client.get("/v1/tokens", headers=merchant()).json()["data"] == before


def test_a_code_is_cached_by_clients_and_asked_again_cheaply(server: RunningServer) -> None:
    created = create_token(server)
    for fmt, media in (("png", "image/png"), ("svg", "image/svg+xml")):
        first = server.client.get(f"/v1/tokens/{created['id']}/qr.{fmt}")
        assert first.status_code == 200 and first.headers["content-type"] == media
        assert first.headers["cache-control"] == "public, max-age=86400"
        tag = first.headers["etag"]
        again = server.client.get(
            f"/v1/tokens/{created['id']}/qr.{fmt}", headers={"If-None-Match": tag}
        )
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        other = server.client.get(
            f"/v1/tokens/{created['id']}/qr.{fmt}", headers={"If-None-Match": '"stale"'}
        )
        assert other.status_code == 200 and other.content == first.content
    # Another token's code is its own, not a cached neighbour's.
    second = create_token(server)
    assert (
        server.client.get(f"/v1/tokens/{second['id']}/qr.png").content
        != server.client.get(f"/v1/tokens/{created['id']}/qr.png").content
    )


def test_tokens_ending_together_expire_a_few_at_a_time(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qrcheckout.checkout import service

    # Two a transaction and three a tick: seven tokens take several ticks and transactions.
    monkeypatch.setattr(service, "EXPIRE_AT_ONCE", 2)
    monkeypatch.setattr(service, "EXPIRE_BATCH", 3)
    ending = [create_token(server, kind="temporary", ttl_seconds=1)["id"] for _ in range(7)]
    lasting = create_token(server, kind="static")["id"]
    for token_id in ending:
        wait_until(lambda t=token_id: token(server, t)["status"] == "invalid", 15)
    assert token(server, lasting)["status"] == "inprogress"
