"""Merchants, buyers and roles: every row has an owner, every read passes the permission table.

Two merchants side by side on one running service (each with its own key, catalog, tokens,
orders, events and deliveries), two buyers, and the credentials that name them.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import connect

from tests.conftest import ServerFactory
from tests.support.auth import API_KEY, RSAKeys, bearer, buyer, hs256, merchant
from tests.support.flows import create_token
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import (
    charged,
    create_order,
    error,
    get_order,
    refund,
    settle,
    start,
)
from tests.support.server import RunningServer, serving


def _two_shops(make_server: ServerFactory) -> tuple[RunningServer, str]:
    server = start(make_server, admin_key=ADMIN_KEY)
    return server, add_acme(
        server,
        accent_color="#aa3300",
        support_email="help@acme.example",
        default_currency="eur",
    )[0]


def test_each_merchant_has_its_own_catalog_and_prices(make_server: ServerFactory) -> None:
    server, _ = _two_shops(make_server)
    default = server.client.get("/v1/products").json()["data"]
    theirs = server.client.get("/v1/products", headers={"Qrcheckout-Merchant": "acme"}).json()
    assert {p["id"]: p["unit_amount"] for p in default}["espresso"] == 250
    assert [(p["id"], p["unit_amount"], p["currency"]) for p in theirs["data"]] == [
        ("espresso", 4500, "eur")
    ]
    # The same product id, priced by the shop the request addresses.
    here = create_token(server, items=[{"product_id": "espresso", "quantity": 1}])
    there = server.client.post(
        "/v1/tokens",
        json={"items": [{"product_id": "espresso", "quantity": 1}]},
        headers={"Qrcheckout-Merchant": "acme"},
    ).json()
    assert (here["amount_total"], here["currency"], here["merchant"]) == (250, "usd", "default")
    assert (there["amount_total"], there["currency"], there["merchant"]) == (4500, "eur", "acme")
    # Each shop's pages wear its name and accent colour.
    page = server.client.get("/?merchant=acme").text
    assert "Acme Tickets" in page and "--accent: #aa3300" in page and "Gig ticket" in page
    assert "help@acme.example" in page
    assert "Acme Tickets" not in server.client.get("/").text
    qr_page = server.client.get(f"/checkout/{there['id']}").text
    assert "Acme Tickets" in qr_page and "€45.00" in qr_page
    unknown = server.client.get("/v1/products", headers={"Qrcheckout-Merchant": "nobody"})
    assert error(unknown) == (404, "merchant_not_found")
    assert server.client.get("/?merchant=nobody").status_code == 404
    bad = server.client.get("/v1/products", headers={"Qrcheckout-Merchant": "NO PE"})
    assert error(bad) == (404, "merchant_not_found")


def test_merchants_never_see_list_cancel_or_refund_each_others_rows(
    make_server: ServerFactory,
) -> None:
    server, acme = _two_shops(make_server)
    mine = create_token(server, customer_email="ann@example.com")
    theirs = server.client.post(
        "/v1/tokens",
        json={"items": [{"product_id": "espresso", "quantity": 1}], "customer_email": "b@x.io"},
        headers=bearer(acme),
    ).json()
    assert theirs["merchant"] == "acme"

    listed = server.client.get("/v1/tokens", headers=merchant()).json()["data"]
    assert [t["id"] for t in listed] == [mine["id"]]
    assert listed[0]["customer_email"] == "ann@example.com"
    listed_acme = server.client.get("/v1/tokens", headers=bearer(acme)).json()["data"]
    assert [t["id"] for t in listed_acme] == [theirs["id"]]

    # Another merchant holding the id sees what anyone holding it sees: no buyer's identity.
    peek = server.client.get(f"/v1/tokens/{mine['id']}", headers=bearer(acme)).json()
    assert "customer_email" not in peek and "user_id" not in peek
    cancel = server.client.post(f"/v1/tokens/{mine['id']}/cancel", headers=bearer(acme))
    assert error(cancel) == (403, "forbidden")
    assert server.client.get(f"/v1/tokens/{mine['id']}").json()["status"] == "inprogress"

    order = create_order(server)
    charged(server, order)
    assert error(refund(server, order["id"], headers=bearer(acme))) == (403, "forbidden")
    assert get_order(server, order["id"])["amount_refunded"] == 0
    acme_orders = server.client.get("/v1/orders", headers=bearer(acme)).json()["data"]
    assert acme_orders == []
    assert [o["id"] for o in server.client.get("/v1/orders", headers=merchant()).json()["data"]]

    # Products and keys are each merchant's own too.
    archive = server.client.delete("/v1/products/croissant", headers=bearer(acme))
    assert error(archive) == (404, "product_not_found")
    keys = server.client.get("/v1/merchants/default/api-keys", headers=bearer(acme))
    assert error(keys) == (404, "api_key_not_found")
    other = server.client.get("/v1/merchants/default", headers=bearer(acme))
    assert error(other) == (404, "merchant_not_found")
    # A merchant's key lists itself only, and cannot make merchants.
    mine = server.client.get("/v1/merchants", headers=merchant()).json()["data"]
    assert [m["id"] for m in mine] == ["default"]
    made = server.client.post("/v1/merchants", json={"id": "x", "name": "X"}, headers=merchant())
    assert error(made) == (403, "forbidden")


def test_each_merchant_receives_only_its_own_stripe_events(make_server: ServerFactory) -> None:
    server, acme = _two_shops(make_server)
    ours = create_order(server)
    theirs = create_order(server, headers={**buyer("bob"), "Qrcheckout-Merchant": "acme"})
    assert theirs["merchant"] == "acme"

    def url(credential: str | None) -> str:
        query = urlencode({"access_token": credential} if credential else {})
        return server.url.replace("http://", "ws://") + f"/v1/realtime/stripe?{query}"

    async def drain(ws: Any, quiet: float = 1.0) -> list[dict[str, Any]]:
        received = []
        while True:
            try:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
            except TimeoutError:
                return received

    async def scenario() -> dict[str, Any]:
        async with (
            connect(url(API_KEY)) as default_ws,
            connect(url(acme)) as acme_ws,
            connect(url(hs256("alice"))) as alice_ws,
            connect(url(hs256("carol"))) as carol_ws,
        ):
            for ws in (default_ws, acme_ws, alice_ws, carol_ws):
                assert json.loads(await ws.recv())["type"] == "subscribed"
            await asyncio.to_thread(charged, server, ours)
            await asyncio.to_thread(charged, server, theirs, "bob")
            await asyncio.to_thread(settle, server)
            return {
                "default": await drain(default_ws),
                "acme": await drain(acme_ws),
                "alice": await drain(alice_ws),
                "carol": await drain(carol_ws, 0.3),
            }

    seen = asyncio.run(asyncio.wait_for(scenario(), 60))

    def orders_in(messages: list[dict[str, Any]]) -> set[str]:
        return {
            (m["data"]["payload"]["data"]["object"].get("metadata") or {}).get("order_id")
            for m in messages
        }

    assert orders_in(seen["default"]) == {ours["id"]}
    assert orders_in(seen["acme"]) == {theirs["id"]}
    assert "charge.succeeded" in {m["data"]["type"] for m in seen["acme"]}
    # A buyer sees the events of its own checkouts; another buyer none of them.
    assert orders_in(seen["alice"]) == {ours["id"]}
    assert seen["carol"] == []
    assert all("merchant_id" not in m["data"] for m in seen["default"])


def test_the_stripe_channel_refuses_anonymous_and_bad_credentials(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    base = server.url.replace("http://", "ws://") + "/v1/realtime/stripe"

    async def close_code(url: str) -> int | None:
        async with connect(url) as ws:
            await ws.wait_closed()
            return ws.close_code

    assert asyncio.run(close_code(base)) == 4401
    assert asyncio.run(close_code(base + "?access_token=qrk_wrong")) == 4401
    assert asyncio.run(close_code(base + "?access_token=" + hs256("a", secret="x" * 40))) == 4401


def test_buyer_a_never_sees_or_cancels_buyer_bs_rows(make_server: ServerFactory) -> None:
    server = start(make_server)
    alices = server.client.post(
        "/v1/tokens",
        json={"items": [{"product_id": "espresso", "quantity": 1}]},
        headers=buyer("alice", email="alice@example.com"),
    ).json()
    assert alices["user_id"] == "alice"
    as_alice = server.client.get(f"/v1/tokens/{alices['id']}", headers=buyer("alice")).json()
    assert as_alice["user_id"] == "alice"
    as_bob = server.client.get(f"/v1/tokens/{alices['id']}", headers=buyer("bob")).json()
    assert "user_id" not in as_bob and "customer_email" not in as_bob
    assert error(server.client.post(f"/v1/tokens/{alices['id']}/cancel", headers=buyer("bob"))) == (
        403,
        "forbidden",
    )
    assert server.client.get("/v1/tokens", headers=buyer("bob")).json()["data"] == []
    listed = server.client.get("/v1/tokens", headers=buyer("alice")).json()["data"]
    assert [t["id"] for t in listed] == [alices["id"]]
    assert error(server.client.get("/v1/tokens")) == (401, "unauthorized")

    order = create_order(server, sub="bob")
    assert [o["id"] for o in server.client.get("/v1/orders", headers=buyer("bob")).json()["data"]]
    assert server.client.get("/v1/orders", headers=buyer("alice")).json()["data"] == []
    public = server.client.get(f"/v1/orders/{order['id']}").json()
    assert "owner" not in public and "customer_email" not in public
    assert public["status"] == "pending" and public["payment_url"]
    own = server.client.post(f"/v1/tokens/{alices['id']}/cancel", headers=buyer("alice"))
    assert own.status_code == 200 and own.json()["status"] == "cancelled"


def test_whoever_created_a_token_cancels_it_with_its_capability(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    created = create_token(server, kind="static")
    cancel_url = f"/v1/tokens/{created['id']}/cancel"
    assert error(server.client.post(cancel_url)) == (401, "unauthorized")
    wrong = server.client.post(cancel_url, json={"cancel_secret": "tcs_guess"})
    assert error(wrong) == (401, "unauthorized")
    assert server.client.get(f"/v1/tokens/{created['id']}").json()["status"] == "inprogress"
    done = server.client.post(cancel_url, json={"cancel_secret": created["cancel_secret"]})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    # The secret is never shown again, and the public view carries no buyer's identity.
    again = server.client.get(f"/v1/tokens/{created['id']}").json()
    assert "cancel_secret" not in again and "customer_email" not in again

    # The shop page's browser holds it in a cookie scoped to that token's cancel route.
    with httpx.Client(base_url=server.url, follow_redirects=False) as shop:
        made = shop.post("/shop/checkout", data={"qty_espresso": "1"})
        assert made.status_code == 303
        token_id = made.headers["location"].rsplit("/", 1)[-1]
        cookie = made.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert f"Path=/v1/tokens/{token_id}/cancel" in cookie
        assert shop.post(f"/v1/tokens/{token_id}/cancel").json()["status"] == "cancelled"
    stranger = server.client.post(f"/v1/tokens/{create_token(server)['id']}/cancel")
    assert stranger.status_code == 401


def test_hasura_claims_name_the_buyer_and_its_role(make_server: ServerFactory) -> None:
    server = start(make_server)
    ns = "https://hasura.io/jwt/claims"
    claims = {
        "x-hasura-user-id": "hasura-user-7",
        "x-hasura-default-role": "user",
        "x-hasura-allowed-roles": ["user", "anonymous"],
    }

    def as_hasura(role: str | None = None, *, with_sub: bool = False, **more: Any) -> Any:
        token = hs256("plain-sub" if with_sub else "", **{ns: {**claims, **more}})
        headers = bearer(token)
        if role is not None:
            headers["X-Hasura-Role"] = role
        return headers

    body = {"items": [{"product_id": "espresso", "quantity": 1}]}
    without_sub = server.client.post("/v1/tokens", json=body, headers=as_hasura())
    assert without_sub.status_code == 201 and without_sub.json()["user_id"] == "hasura-user-7"
    # x-hasura-user-id wins over sub; the claims may also come as a JSON string.
    with_sub = server.client.post("/v1/tokens", json=body, headers=as_hasura(with_sub=True))
    assert with_sub.json()["user_id"] == "hasura-user-7"
    stringified = bearer(hs256("", **{ns: json.dumps(claims)}))
    from_string = server.client.post("/v1/tokens", json=body, headers=stringified)
    assert from_string.status_code == 201 and from_string.json()["user_id"] == "hasura-user-7"
    # A role among the allowed is taken; acting anonymously, the token is nobody's.
    anonymous = server.client.post("/v1/tokens", json=body, headers=as_hasura("anonymous"))
    assert anonymous.status_code == 201 and anonymous.json()["user_id"] is None
    refused = server.client.post("/v1/tokens", json=body, headers=as_hasura("admin"))
    assert error(refused) == (403, "role_not_allowed")
    listed = server.client.get("/v1/tokens", headers=as_hasura("user")).json()["data"]
    assert {t["id"] for t in listed} == {
        r.json()["id"] for r in (without_sub, with_sub, from_string)
    }
    nobody = bearer(hs256("", **{ns: {"x-hasura-default-role": "user"}}))
    assert error(server.client.get("/v1/tokens", headers=nobody)) == (401, "invalid_token")


def test_api_keys_are_shown_once_stored_hashed_and_revoked(make_server: ServerFactory) -> None:
    server = start(make_server, admin_key=ADMIN_KEY)
    made = server.client.post(
        "/v1/merchants/default/api-keys", json={"name": "till"}, headers=merchant()
    ).json()
    secret = made["secret"]
    assert secret.startswith("qrk_") and made["last4"] == secret[-4:]
    assert server.client.get("/v1/tokens", headers=bearer(secret)).status_code == 200
    listed = server.client.get("/v1/merchants/default/api-keys", headers=merchant()).json()
    till = next(k for k in listed["data"] if k["id"] == made["id"])
    assert "secret" not in till and till["last_used_at"] is not None
    assert secret not in json.dumps(listed)
    revoked = server.client.delete(
        f"/v1/merchants/default/api-keys/{made['id']}", headers=merchant()
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert error(server.client.get("/v1/tokens", headers=bearer(secret))) == (
        401,
        "invalid_api_key",
    )
    assert error(server.client.post("/v1/merchants", json={"id": "x", "name": "X"})) == (
        401,
        "unauthorized",
    )


@pytest.mark.parametrize(
    "url", ["https://evil.example/paid", "javascript:alert(1)", "http://127.0.0.1:1/x"]
)
def test_redirects_only_to_the_merchants_allowed_origins(
    make_server: ServerFactory, url: str
) -> None:
    server = start(make_server)
    body = {
        "line_items": [{"price": "espresso", "quantity": 1}],
        "customer_email": "a@example.com",
        "success_url": url,
    }
    refused = server.client.post("/create-checkout-session", json=body)
    assert refused.status_code in (400, 422)
    assert refused.json()["code"] in ("redirect_not_allowed", "validation_error")
    allowed = server.client.patch(
        "/v1/merchants/default",
        json={"allowed_origins": ["https://shop.example"]},
        headers=merchant(),
    )
    assert allowed.status_code == 200, allowed.text
    body["success_url"] = "https://shop.example/thanks?id={CHECKOUT_SESSION_ID}"
    opened = server.client.post("/create-checkout-session", json=body)
    assert opened.status_code == 200, opened.text


def test_merchant_lists_filter_and_page(make_server: ServerFactory) -> None:
    server = start(make_server)
    made = [create_token(server, customer_email=f"p{i}@example.com") for i in range(5)]
    cancelled = made[1]
    server.client.post(
        f"/v1/tokens/{cancelled['id']}/cancel", json={"cancel_secret": cancelled["cancel_secret"]}
    )

    def ids(**query: Any) -> tuple[list[str], bool]:
        answer = server.client.get("/v1/tokens", params=query, headers=merchant())
        assert answer.status_code == 200, answer.text
        return [t["id"] for t in answer.json()["data"]], answer.json()["has_more"]

    newest_first = [t["id"] for t in reversed(made)]
    first, more = ids(limit=2)
    assert first == newest_first[:2] and more
    second, more = ids(limit=2, starting_after=first[-1])
    assert second == newest_first[2:4] and more
    assert ids(status="cancelled") == ([cancelled["id"]], False)
    assert ids(email="P3@example.com") == ([made[3]["id"]], False)
    assert ids(created_gte=made[4]["created_at"]) == ([made[4]["id"]], False)
    bad = server.client.get("/v1/tokens", params={"starting_after": "nope"}, headers=merchant())
    assert error(bad) == (400, "invalid_cursor")
    assert error(server.client.get("/v1/tokens", params={"limit": 0}, headers=merchant()))[0] == 422


def test_products_are_updated_and_archived_not_deleted(make_server: ServerFactory) -> None:
    server = start(make_server)
    token_before = create_token(server, items=[{"product_id": "croissant", "quantity": 1}])
    updated = server.client.patch(
        "/v1/products/croissant", json={"unit_amount": 310, "name": "Croissant"}, headers=merchant()
    )
    assert updated.status_code == 200 and updated.json()["unit_amount"] == 310
    assert (
        create_token(server, items=[{"product_id": "croissant", "quantity": 1}])["amount_total"]
        == 310
    )
    # What was sold keeps its price.
    kept = server.client.get(f"/v1/tokens/{token_before['id']}").json()
    assert kept["amount_total"] == 290
    archived = server.client.delete("/v1/products/croissant", headers=merchant())
    assert archived.status_code == 200 and archived.json()["active"] is False
    listed = server.client.get("/v1/products").json()["data"]
    assert "croissant" not in {p["id"] for p in listed}
    refused = server.client.post(
        "/v1/tokens", json={"items": [{"product_id": "croissant", "quantity": 1}]}
    )
    assert error(refused) == (422, "unknown_product")
    everything = server.client.get("/v1/products?include_archived=true", headers=merchant())
    assert "croissant" in {p["id"] for p in everything.json()["data"]}
    for bad in ({"unit_amount": -1}, {"name": None}, {"price": 1}, {"active": "no"}):
        answer = server.client.patch("/v1/products/espresso", json=bad, headers=merchant())
        assert answer.status_code == 422, bad
    assert error(server.client.patch("/v1/products/espresso", json={"unit_amount": 1})) == (
        401,
        "unauthorized",
    )


def test_jwks_keys_are_cached_and_fetched_again_for_a_rotated_key(
    make_server: ServerFactory,
) -> None:
    first, second = RSAKeys(), RSAKeys()
    published = {"keys": [first.jwk("k1")]}
    fetches: list[float] = []

    async def jwks(request: Any) -> JSONResponse:
        fetches.append(time.monotonic())
        return JSONResponse(published)

    with serving(Starlette(routes=[Route("/.well-known/jwks.json", jwks)])) as issuer:
        server = make_server(
            jwt_jwks_url=f"{issuer}/.well-known/jwks.json", jwt_jwks_refresh_seconds=0.5
        )

        def tokens(credential: str) -> httpx.Response:
            return server.client.get("/v1/tokens", headers=bearer(credential))

        assert tokens(first.sign("alice", kid="k1")).status_code == 200
        assert tokens(first.sign("alice", kid="k1")).status_code == 200
        assert len(fetches) == 1  # cached
        # The issuer rotates: a token with the new kid makes the server fetch the set again.
        published["keys"] = [second.jwk("k2")]
        time.sleep(0.6)  # past the refresh cooldown
        assert tokens(second.sign("bob", kid="k2")).status_code == 200
        assert len(fetches) == 2
        unknown = tokens(RSAKeys().sign("eve", kid="k3"))
        assert error(unknown) == (401, "invalid_token")
        forged = tokens(RSAKeys().sign("eve", kid="k2"))
        assert error(forged) == (401, "invalid_token")
        hs = tokens(hs256("eve"))
        assert error(hs) == (401, "invalid_token")


def test_a_merchants_allowed_origins_may_call_the_api_from_a_browser(
    make_server: ServerFactory,
) -> None:
    server = start(make_server)
    preflight = {
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,qrcheckout-merchant",
    }
    assert server.client.options("/v1/tokens", headers=preflight).status_code == 400
    changed = server.client.patch(
        "/v1/merchants/default",
        json={"allowed_origins": ["http://localhost:3000"]},
        headers=merchant(),
    )
    assert changed.json()["allowed_origins"] == ["http://localhost:3000"]
    answered = server.client.options("/v1/tokens", headers=preflight)
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == "http://localhost:3000"
    bad = server.client.patch(
        "/v1/merchants/default", json={"allowed_origins": ["http://x.io/path"]}, headers=merchant()
    )
    assert bad.status_code == 422


def test_a_revoked_key_ends_its_open_event_stream(make_server: ServerFactory) -> None:
    server = start(make_server)
    made = server.client.post(
        "/v1/merchants/default/api-keys", json={"name": "screen"}, headers=merchant()
    ).json()
    url = (
        server.url.replace("http://", "ws://")
        + "/v1/realtime/stripe?"
        + urlencode({"access_token": made["secret"]})
    )

    async def scenario() -> int | None:
        async with connect(url) as ws:
            assert json.loads(await ws.recv())["type"] == "subscribed"
            revoked = await asyncio.to_thread(
                server.client.delete,
                f"/v1/merchants/default/api-keys/{made['id']}",
                headers=merchant(),
            )
            assert revoked.status_code == 200
            await asyncio.wait_for(ws.wait_closed(), 12)
            return ws.close_code

    assert asyncio.run(scenario()) == 4401


def test_credentials_are_told_apart_and_claims_checked(make_server: ServerFactory) -> None:
    # A configured key may hold dots; it is never taken for a JWT.
    server = start(make_server, api_key="my.api.key")
    assert server.client.get("/v1/tokens", headers=bearer("my.api.key")).status_code == 200
    assert error(server.client.get("/v1/tokens", headers=bearer("a.b.c"))) == (
        401,
        "invalid_api_key",
    )
    ns = "https://hasura.io/jwt/claims"
    for claims in (
        {ns: {"x-hasura-user-id": "u", "x-hasura-default-role": {}}},
        {ns: {"x-hasura-user-id": "u", "x-hasura-default-role": ["user"]}},
        {ns: {"x-hasura-user-id": 7}},
        {ns: {"x-hasura-user-id": "a\u0000b"}},
    ):
        refused = server.client.get("/v1/tokens", headers=bearer(hs256("", **claims)))
        assert error(refused) == (401, "invalid_token"), claims
    lone = server.client.get("/v1/tokens", headers=bearer(hs256("\ud800")))
    assert error(lone) == (401, "invalid_token")
    # An email owns nothing unless its issuer verified it.
    order = create_order(server, sub=None, customer_email="carol@example.com")
    charged_by = create_order(server, sub="alice")
    assert order and charged_by
    mallory = buyer("mallory", email="carol@example.com")
    assert server.client.get("/v1/orders", headers=mallory).json()["data"] == []
    # A date without a zone reads as UTC, never a 500.
    dated = server.client.get(
        "/v1/orders", params={"created_gte": "2020-01-01"}, headers=bearer("my.api.key")
    )
    assert dated.status_code == 200 and len(dated.json()["data"]) == 2
