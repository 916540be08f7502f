"""CORS: a shop front-end on an allowed origin may call the API from a browser (preflight
answered, its origin echoed, never ``*``); any other origin gets no CORS header and its preflight
is refused. The allowed origins are the public URL's, ``QRCHECKOUT_CORS_ORIGINS``, and whatever
is given to ``app.state.allowed_origins.replace`` while the app runs (the merchants' origins)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.server import RunningServer

pytestmark = pytest.mark.one_database

SHOP = "http://localhost:3000"
EVIL = "http://evil.example"
ASKED_HEADERS = "authorization, content-type, idempotency-key, x-hasura-role, qrcheckout-merchant"


@pytest.fixture
def server(make_server: ServerFactory) -> RunningServer:
    return make_server(cors_origins=f" {SHOP}/ , https://shop.example:443")


def preflight(server: RunningServer, origin: str, path: str = "/v1/tokens") -> httpx.Response:
    return server.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ASKED_HEADERS,
        },
    )


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in ",".join(response.headers.get_list("vary")).split(",")}


def cors_headers(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.lower().startswith("access-control-")}


def test_preflight_from_an_allowed_origin_is_answered(server: RunningServer) -> None:
    answer = preflight(server, SHOP)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == SHOP
    allowed_headers = {
        h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")
    }
    assert set(ASKED_HEADERS.split(", ")) <= allowed_headers
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "origin" in vary(answer)
    # Credentials travel in Authorization, never in cookies: no credentials mode.
    assert "access-control-allow-credentials" not in answer.headers
    # The configured origin is normalised as a browser sends it (no default port).
    assert preflight(server, "https://shop.example").status_code == 200


def test_preflight_from_another_origin_is_refused(server: RunningServer) -> None:
    answer = preflight(server, EVIL)
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    # A preflight asking for a header the API does not take is refused too.
    odd = server.client.options(
        "/v1/tokens",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-something-else",
        },
    )
    assert odd.status_code == 400


def test_requests_get_their_origin_echoed_only_when_allowed(server: RunningServer) -> None:
    body = {"items": [{"product_id": "espresso", "quantity": 1}]}
    created = server.client.post("/v1/tokens", json=body, headers={"Origin": SHOP})
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == SHOP
    assert created.headers["access-control-expose-headers"] == "Retry-After"
    assert "origin" in vary(created)
    refused = server.client.get("/v1/products", headers={"Origin": EVIL})
    assert refused.status_code == 200  # the browser, not the server, withholds it from the page
    assert cors_headers(refused) == set()
    assert "origin" in vary(refused)
    plain = server.client.get("/v1/products")
    assert cors_headers(plain) == set()


def test_the_public_urls_origin_is_allowed(server: RunningServer) -> None:
    own = server.client.get("/v1/products", headers={"Origin": server.url})
    assert own.headers["access-control-allow-origin"] == server.url


def test_allowed_origins_can_be_replaced_while_running(server: RunningServer) -> None:
    merchant_site, former = "https://merchant.example", "https://former.example"
    assert preflight(server, merchant_site).status_code == 400
    server.app.state.allowed_origins.replace([former])
    server.app.state.allowed_origins.replace([merchant_site])
    answer = preflight(server, merchant_site)
    assert answer.headers["access-control-allow-origin"] == merchant_site
    assert preflight(server, former).status_code == 400
    # The configured origins stay allowed whatever the merchants list.
    assert preflight(server, SHOP).status_code == 200
    assert preflight(server, server.url).status_code == 200
