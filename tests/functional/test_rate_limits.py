"""Rate limits: token creation, scans that open provider sessions, /create-checkout-session and
refused credentials, each per client address; 429 with Retry-After, then recovered after the
window (of three seconds in these tests: long enough that filling one is done well within it,
even on a loaded machine, short enough to wait out). Counted in memory and in Redis (shared by
two instances)."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_URL, ServerFactory
from tests.support.auth import API_KEY, JWT_SECRET, bearer, buyer, hs256
from tests.support.flows import create_token
from tests.support.server import RunningServer

# The database cannot change how requests are counted.
pytestmark = pytest.mark.one_database

CART = {"items": [{"product_id": "espresso", "quantity": 1}]}
ORDER = CART | {"customer_email": "buyer@example.com"}
SESSION = {
    "line_items": [{"price": "espresso", "quantity": 1}],
    "customer_email": "buyer@example.com",
}


@pytest.fixture(params=["memory", "redis"])
def rate_limit_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("QRCHECKOUT_TEST_REDIS_URL is not set; Redis tests need a server")
        return REDIS_URL
    return "memory"


@pytest.fixture
def limited(make_server: ServerFactory, rate_limit_url: str) -> ServerFactory:
    def make(**overrides: Any) -> RunningServer:
        return make_server(rate_limit_url=rate_limit_url, **overrides)

    return make


def client() -> dict[str, str]:
    """A client address of its own (uvicorn takes X-Forwarded-For from the loopback proxy), so
    that tests sharing one Redis never share a count."""
    address = ".".join(str(random.randrange(1, 255)) for _ in range(3))
    return {"X-Forwarded-For": f"10.{address}"}


WINDOW = "per 3 seconds"


def assert_limited(response: httpx.Response, window: int = 3) -> int:
    """A 429 in the REST envelope; returns its Retry-After (seconds, at most the window)."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and error["retry_after"] == retry_after
    assert f"try again in {retry_after} second" in error["message"]
    return retry_after


def recovered(retry_after: str | int) -> None:
    """Waits out a refusal's Retry-After: the oldest counted hit has left the window."""
    time.sleep(int(retry_after) + 0.05)


def test_creating_tokens_and_orders_is_limited_per_client(limited: ServerFactory) -> None:
    server = limited(rate_limit_tokens="3/minute")
    me, other = client(), client()
    assert server.client.post("/v1/tokens", json=CART, headers=me).status_code == 201
    assert server.client.post("/v1/orders", json=ORDER, headers=me).status_code == 201
    shop = server.client.post("/shop/checkout", data={"qty_espresso": "1"}, headers=me)
    assert shop.status_code == 303
    # The fourth creation within the window is refused on every way in.
    assert_limited(server.client.post("/v1/tokens", json=CART, headers=me), window=60)
    assert_limited(server.client.post("/v1/orders", json=ORDER, headers=me), window=60)
    page = server.client.post("/shop/checkout", data={"qty_espresso": "1"}, headers=me)
    assert page.status_code == 429 and 1 <= int(page.headers["retry-after"]) <= 60
    assert page.headers["content-type"].startswith("text/html")
    assert "Too many checkouts were created from this address" in page.text
    # Another client is not held up.
    assert server.client.post("/v1/tokens", json=CART, headers=other).status_code == 201


def test_a_limited_client_recovers_once_the_window_has_moved(limited: ServerFactory) -> None:
    server = limited(rate_limit_tokens=f"1 {WINDOW}")
    me = client()
    assert server.client.post("/v1/tokens", json=CART, headers=me).status_code == 201
    recovered(assert_limited(server.client.post("/v1/tokens", json=CART, headers=me)))
    assert server.client.post("/v1/tokens", json=CART, headers=me).status_code == 201


def test_scans_count_only_when_they_open_a_provider_session(limited: ServerFactory) -> None:
    server = limited(rate_limit_scans_per_token=f"1 {WINDOW}", rate_limit_scans_per_ip="50/minute")
    me = client()
    dynamic = create_token(server)
    # A dynamic token's scans reuse its one open session: no new session, nothing counted.
    first = server.client.get(f"/t/{dynamic['id']}", headers=me)
    assert first.status_code == 303
    for _ in range(5):
        again = server.client.get(f"/t/{dynamic['id']}", headers=me)
        assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    # Each scan of a static token opens a session of its own (a billable call): limited.
    static = create_token(server, kind="static")
    assert server.client.get(f"/t/{static['id']}", headers=client()).status_code == 303
    page = server.client.get(f"/t/{static['id']}", headers=client())
    assert page.status_code == 429, page.text
    assert 1 <= int(page.headers["retry-after"]) <= 3
    assert page.headers["content-type"].startswith("text/html")
    assert "Too many attempts" in page.text and "This checkout was opened too many" in page.text
    recovered(page.headers["retry-after"])
    assert server.client.get(f"/t/{static['id']}", headers=me).status_code == 303


def test_scans_opening_sessions_are_limited_per_client(limited: ServerFactory) -> None:
    server = limited(rate_limit_scans_per_token="50/minute", rate_limit_scans_per_ip="2/minute")
    me, other = client(), client()
    tokens = [create_token(server, kind="static")["id"] for _ in range(2)]
    for token_id in tokens:
        assert server.client.get(f"/t/{token_id}", headers=me).status_code == 303
    refused = server.client.get(f"/t/{tokens[0]}", headers=me)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert server.client.get(f"/t/{tokens[0]}", headers=other).status_code == 303


def test_create_checkout_session_is_limited_in_its_own_envelope(limited: ServerFactory) -> None:
    server = limited(rate_limit_sessions=f"1 {WINDOW}")
    me = client()
    opened = server.client.post("/create-checkout-session", json=SESSION, headers=me)
    assert opened.status_code == 200, opened.text
    refused = server.client.post("/create-checkout-session", json=SESSION, headers=me)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 3
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert isinstance(body["error"], str) and "try again in" in body["error"]
    recovered(refused.headers["retry-after"])
    opened = server.client.post("/create-checkout-session", json=SESSION, headers=me)
    assert opened.status_code == 200


def test_refused_credentials_are_limited_before_checking(limited: ServerFactory) -> None:
    server = limited(jwt_secret=JWT_SECRET, api_key=API_KEY, rate_limit_auth_failures=f"3 {WINDOW}")
    me, other = client(), client()
    good = buyer("alice") | me
    forged = bearer(hs256("alice", secret="not-the-secret-0123456789abcdef0123")) | me
    wrong_key = bearer("sk_not_a_key_of_this_service_0123456789") | me
    assert server.client.get("/v1/me/entitlements", headers=good).status_code == 200
    # No credential at all is nobody guessing: not counted.
    for _ in range(5):
        assert server.client.get("/v1/me/entitlements", headers=me).status_code == 401
    assert server.client.get("/v1/me/entitlements", headers=forged).status_code == 401
    assert server.client.get("/v1/me/entitlements", headers=forged).status_code == 401
    assert server.client.get("/v1/webhook-deliveries", headers=wrong_key).status_code == 401
    # Past the limit even the right credential is refused, before it is looked at.
    retry_after = assert_limited(server.client.get("/v1/me/entitlements", headers=good))
    assert_limited(server.client.get("/v1/webhook-deliveries", headers=wrong_key))
    refused = server.client.post("/create-checkout-session", json=SESSION, headers=wrong_key)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    # Another client's credentials are still checked.
    assert server.client.get("/v1/me/entitlements", headers=buyer("bob") | other).status_code == 200
    recovered(retry_after)
    assert server.client.get("/v1/me/entitlements", headers=good).status_code == 200


def test_many_wrong_keys_cannot_be_tried_quickly(limited: ServerFactory) -> None:
    server = limited(api_key=API_KEY)  # the default limit
    me = client()
    answers = [
        server.client.get(
            "/v1/webhook-deliveries", headers=bearer(f"sk_guess_{n:06d}_0123456789") | me
        ).status_code
        for n in range(60)
    ]
    assert answers.count(401) == 20 and answers[20:] == [429] * 40


def test_limits_can_be_switched_off(make_server: ServerFactory) -> None:
    server = make_server(rate_limit_enabled=False, rate_limit_tokens="1/minute")
    for _ in range(3):
        assert server.client.post("/v1/tokens", json=CART).status_code == 201


def test_two_instances_on_one_redis_share_a_limit(make_server: ServerFactory) -> None:
    if not REDIS_URL:
        pytest.skip("QRCHECKOUT_TEST_REDIS_URL is not set; Redis tests need a server")
    # Through the bus URL: instances sharing live status share their limits too.
    limit = f"2 {WINDOW}"
    first = make_server(bus_url=REDIS_URL, rate_limit_tokens=limit)
    second = make_server(bus_url=REDIS_URL, rate_limit_tokens=limit, seed_demo_catalog=False)
    me = client()
    assert first.client.post("/v1/tokens", json=CART, headers=me).status_code == 201
    assert second.client.post("/v1/tokens", json=CART, headers=me).status_code == 201
    assert_limited(second.client.post("/v1/tokens", json=CART, headers=me))
    recovered(assert_limited(first.client.post("/v1/tokens", json=CART, headers=me)))
    assert second.client.post("/v1/tokens", json=CART, headers=me).status_code == 201
