"""Charging an order with a card token (JSON:API), the BaaS charge, and the Stripe event stream."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import sdk
from tests.support.auth import API_KEY, JWT_SECRET, RSAKeys, bearer, buyer, hs256, merchant
from tests.support.orders import (
    OTHER_SECRET,
    add_product,
    charge,
    charge_body,
    charged,
    create_order,
    entitlements,
    error,
    get_order,
    order_charges,
    refund,
    refunded,
    settle,
    start,
    wait_order_status,
)
from tests.support.server import RunningServer

DECLINES = {
    "tok_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "tok_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "tok_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
}


def _succeeded(server: RunningServer, identifier: str) -> list[Any]:
    return [c for c in order_charges(sdk.client(server), identifier) if c.status == "succeeded"]


# -- refusals ------------------------------------------------------------------------------------


def test_charge_refusals_before_the_card_is_tried(make_server: Any) -> None:
    server = start(make_server)
    add_product(server, "sticker", 0, "usd")
    order = create_order(server)
    identifier = order["id"]
    cancelled = create_order(server)
    assert (
        server.client.post(
            f"/v1/orders/{cancelled['id']}/cancel", headers=buyer("alice")
        ).status_code
        == 200
    )
    free = create_order(server, ("sticker", 1))
    assert free["status"] == "completed"

    body = charge_body("tok_visa")
    url = f"/v1/orders/{identifier}/charge"
    assert error(server.client.post(url, json=body)) == (401, "unauthorized")
    forged = bearer(hs256("alice", secret=OTHER_SECRET))
    assert error(charge(server, identifier, headers=forged)) == (401, "invalid_token")
    stale = bearer(hs256("alice", ttl=-120))
    assert error(charge(server, identifier, headers=stale)) == (401, "invalid_token")
    assert error(charge(server, identifier, sub="bob")) == (403, "forbidden")
    assert error(charge(server, "ord_doesnotexist")) == (404, "order_not_found")
    assert error(charge(server, cancelled["id"])) == (409, "order_cancelled")
    assert error(charge(server, free["id"])) == (409, "order_free")

    missing: list[Any] = [
        {},
        {"data": {}},
        {"data": {"type": "charge"}},
        {"data": {"type": "charge", "attributes": {}}},
        {"data": {"type": "charge", "attributes": {"stripe": ""}}},
        {"data": {"type": "charge", "attributes": {"stripe": None}}},
        {"data": {"type": "charge", "attributes": {"card": "tok_visa"}}},
    ]
    for shape in missing:
        response = charge(server, identifier, body=shape)
        assert error(response) == (422, "token_missing"), (shape, response.text)
        [item] = response.json()["errors"]
        assert item["status"] == "422" and item["code"] == "token_missing", shape
        assert item["detail"] == response.json()["error"]["message"]

    untouched = get_order(server, identifier)
    assert untouched["status"] == "pending" and untouched["attempts"] == 0
    assert order_charges(sdk.client(server), identifier) == []


def test_expired_order_cannot_be_charged(make_server: Any) -> None:
    server = start(make_server, order_ttl_seconds=1)
    order = create_order(server)
    wait_order_status(server, order["id"], "expired", timeout=10)
    assert error(charge(server, order["id"])) == (409, "order_expired")
    assert order_charges(sdk.client(server), order["id"]) == []
    assert get_order(server, order["id"])["attempts"] == 0


@pytest.mark.parametrize("token", sorted(DECLINES))
def test_declined_card_answers_with_stripes_reason(make_server: Any, token: str) -> None:
    server = start(make_server)
    order = create_order(server)
    response = charge(server, order["id"], token)
    code, decline_code, message = DECLINES[token]
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"] == message
    assert body["error"]["decline_code"] == decline_code
    [item] = body["errors"]
    assert item["status"] == "422" and item["code"] == code and item["title"]
    assert item["detail"] == message and item["meta"]["decline_code"] == decline_code
    seen = get_order(server, order["id"])
    assert seen["status"] == "pending" and seen["attempts"] == 1
    assert (seen["amount_paid"], seen["amount_due"]) == (0, 500)
    assert entitlements(server, "alice") == []


# -- success -------------------------------------------------------------------------------------


def test_charge_completes_the_order_and_grants_it(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), ("croissant", 1))
    response = charge(server, order["id"])
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["type"] == "order" and data["id"] == order["id"]
    attributes = data["attributes"]
    assert attributes["status"] == "completed" and attributes["completed_at"] is not None
    assert (attributes["amount"], attributes["amount_paid"], attributes["amount_due"]) == (
        790,
        790,
        0,
    )
    assert attributes["attempts"] == 1
    [payment] = attributes["payments"]
    assert (payment["amount"], payment["status"], payment["applied"]) == (790, "succeeded", True)
    seen = get_order(server, order["id"])
    assert (seen["status"], seen["amount_paid"], seen["attempts"]) == ("completed", 790, 1)
    granted = sorted((e["order_id"], e["product_id"], e["quantity"]) for e in entitlements(server))
    assert granted == [(order["id"], "croissant", 1), (order["id"], "espresso", 2)]
    [stripe_charge] = _succeeded(server, order["id"])
    assert (stripe_charge.amount, stripe_charge.currency) == (790, "usd")


def test_second_charge_is_refused_and_the_card_charged_once(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)
    charged(server, order)
    again = charge(server, order["id"])
    assert error(again) == (409, "order_paid")
    assert again.json()["errors"][0]["code"] == "order_paid"
    assert len(_succeeded(server, order["id"])) == 1
    settle(server)
    seen = get_order(server, order["id"])
    assert (seen["attempts"], seen["amount_paid"], len(seen["payments"])) == (1, 500, 1)


def test_concurrent_charges_take_the_money_once(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/v1/orders/{order['id']}/charge",
                        json=charge_body("tok_visa"),
                        headers=buyer("alice"),
                    )
                    for _ in range(2)
                )
            )

    answers = asyncio.run(race())
    # However the two requests interleave, each answer is the paid order or order_paid ...
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["data"]["attributes"]["status"] == "completed"
        else:
            assert error(answer) == (409, "order_paid"), answer.text
    assert 200 in [a.status_code for a in answers]
    # ... and the card was charged once.
    assert len(_succeeded(server, order["id"])) == 1
    settle(server)
    seen = get_order(server, order["id"])
    assert (seen["status"], seen["amount_paid"], len(seen["payments"])) == ("completed", 500, 1)
    assert seen["payments"][0]["applied"] is True and seen["refunds"] == []


def test_declined_then_good_card_completes_on_the_second_attempt(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)
    assert charge(server, order["id"], "tok_chargeDeclined").status_code == 422
    attributes = charged(server, order)
    assert attributes["attempts"] == 2 and attributes["amount_paid"] == 500
    attempts = order_charges(sdk.client(server), order["id"])
    assert sorted(c.status for c in attempts) == ["failed", "succeeded"]


def test_unknown_token_then_good_card_completes(make_server: Any) -> None:
    """A token the provider refuses outright takes nothing, so the next attempt is a new charge."""
    server = start(make_server)
    order = create_order(server)
    refused = charge(server, order["id"], "tok_never_issued")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "resource_missing"
    attributes = charged(server, order)
    assert (attributes["status"], attributes["attempts"]) == ("completed", 2)
    assert len(_succeeded(server, order["id"])) == 1


# -- who may sign in -----------------------------------------------------------------------------


def _hs256_with(secret: str, sub: str) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps({"sub": sub, "iat": now, "exp": now + 300}).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(mac)}"


def test_rs256_tokens_from_the_configured_key_and_nothing_else(
    make_server: Any, tmp_path: Path
) -> None:
    keys = RSAKeys()
    server = make_server(jwt_public_key=keys.public_pem, api_key=API_KEY)
    alice = bearer(keys.sign("alice"))
    order = create_order(server, headers=alice)
    assert order["owner"] == "alice"
    hs = bearer(hs256("alice", secret=JWT_SECRET))
    assert error(charge(server, order["id"], headers=hs)) == (401, "invalid_token")
    other = bearer(RSAKeys().sign("alice"))
    assert error(charge(server, order["id"], headers=other)) == (401, "invalid_token")
    # The public key used as an HMAC secret (the algorithm-confusion forgery) is refused.
    confused = bearer(_hs256_with(keys.public_pem, "alice"))
    assert error(charge(server, order["id"], headers=confused)) == (401, "invalid_token")
    assert get_order(server, order["id"])["attempts"] == 0
    response = charge(server, order["id"], headers=alice)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["status"] == "completed"

    # The key may also be given as the path of a PEM file.
    pem = tmp_path / "jwt-public.pem"
    pem.write_text(keys.public_pem)
    by_path = make_server(jwt_public_key=str(pem), api_key=API_KEY)
    listed = by_path.client.get("/v1/orders", headers=bearer(keys.sign("alice")))
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()["data"]] == [order["id"]]  # the same database
    refused = by_path.client.get("/v1/orders", headers=bearer(hs256("alice")))
    assert error(refused) == (401, "invalid_token")


def test_sign_in_not_configured_is_a_503_and_an_unknown_key_a_401(make_server: Any) -> None:
    no_jwt = make_server(api_key=API_KEY)
    listed = no_jwt.client.get("/v1/orders", headers=buyer("alice"))
    assert error(listed) == (503, "auth_not_configured")
    no_key = make_server(jwt_secret=JWT_SECRET)
    order = create_order(no_key)
    # No merchant key was configured, so no key is one.
    assert error(refund(no_key, order["id"], headers=merchant())) == (401, "invalid_api_key")


# -- the backend-as-a-service charge -------------------------------------------------------------


def _baas(
    server: RunningServer, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return server.client.post(
        "/services/Stripe/charge", json=body, headers=buyer("alice") if headers is None else headers
    )


def test_service_charge(make_server: Any) -> None:
    server = start(make_server)
    ok = _baas(server, {"token": "tok_visa", "amount": 1000, "currency": "usd"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "succeeded"
    charge_id = ok.json()["id"]
    assert charge_id.startswith(("ch_", "pi_"))
    client = sdk.client(server)
    made = (
        client.v1.charges.retrieve(charge_id)
        if charge_id.startswith("ch_")
        else client.v1.payment_intents.retrieve(charge_id)
    )
    assert (made.amount, made.currency, made.status) == (1000, "usd", "succeeded")

    declined = _baas(server, {"token": "tok_chargeDeclined", "amount": 1000, "currency": "usd"})
    assert error(declined) == (422, "card_declined")
    assert declined.json()["error"]["decline_code"] == "generic_decline"
    assert declined.json()["error"]["message"] == "Your card was declined."

    for body in (
        {"token": "tok_visa", "amount": 0, "currency": "usd"},
        {"token": "tok_visa", "amount": -5, "currency": "usd"},
        {"token": "tok_visa", "amount": "ten", "currency": "usd"},
        {"token": "tok_visa", "currency": "usd"},
    ):
        assert error(_baas(server, body)) == (422, "validation_error"), body
    no_token = _baas(server, {"amount": 1000, "currency": "usd"})
    assert no_token.status_code == 422
    signed_out = _baas(server, {"token": "tok_visa", "amount": 1000, "currency": "usd"}, {})
    assert error(signed_out) == (401, "unauthorized")
    succeeded = [c for c in client.v1.charges.list({"limit": 100}).data if c.status == "succeeded"]
    assert len(succeeded) == 1
    # A currency Stripe does not take is refused before Stripe is asked.
    bad_currency = _baas(server, {"token": "tok_visa", "amount": 1000, "currency": "xyz"})
    assert error(bad_currency) == (422, "validation_error")
    assert bad_currency.json()["error"]["details"][0]["field"] == "currency"


# -- the Stripe event stream ---------------------------------------------------------------------


def _ws_url(server: RunningServer, selector: str, credential: str = API_KEY) -> str:
    """The merchant's event stream (its API key), or whoever ``credential`` signs in."""
    query = urlencode({"selector": selector, "access_token": credential})
    return server.url.replace("http://", "ws://") + f"/v1/realtime/stripe?{query}"


async def _drain(ws: ClientConnection, quiet: float = 0.8) -> list[dict[str, Any]]:
    """Every message until the socket has been quiet for ``quiet`` seconds."""
    received: list[dict[str, Any]] = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet)
        except TimeoutError:
            return received
        received.append(json.loads(raw))


def _of_order(events: list[dict[str, Any]], identifier: str) -> set[str]:
    return {
        e["id"]
        for e in events
        if (e["data"]["object"].get("metadata") or {}).get("order_id") == identifier
    }


def _post_charge(server: RunningServer, identifier: str) -> int:
    return httpx.post(
        f"{server.url}/v1/orders/{identifier}/charge",
        json=charge_body("tok_visa"),
        headers=buyer("alice"),
        timeout=30,
    ).status_code


def test_stripe_events_reach_the_subscriber_whose_selector_matches(make_server: Any) -> None:
    server = start(make_server)
    first = create_order(server)
    second = create_order(server, ("croissant", 1))
    only_first = f"metadata.order_id = '{first['id']}'"
    second_paid = f"event.type = 'charge.succeeded' AND metadata.order_id = '{second['id']}'"

    async def scenario() -> dict[str, Any]:
        async with (
            connect(_ws_url(server, only_first)) as ws,
            connect(_ws_url(server, second_paid)) as ws_second,
        ):
            hello = json.loads(await ws.recv())
            hello_second = json.loads(await ws_second.recv())
            codes = await asyncio.gather(
                asyncio.to_thread(_post_charge, server, first["id"]),
                asyncio.to_thread(_post_charge, server, second["id"]),
            )
            after_charge = await asyncio.to_thread(settle, server)
            paid = await _drain(ws)
            paid_second = await _drain(ws_second)
            await asyncio.to_thread(refunded, server, first["id"])
            after_refund = await asyncio.to_thread(settle, server)
            refunds = await _drain(ws)
            refunds_second = await _drain(ws_second, 0.3)
        return locals()

    seen = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert seen["codes"] == [200, 200]
    assert seen["hello"] == {"type": "subscribed", "channel": "stripe", "selector": only_first}
    assert seen["hello_second"]["type"] == "subscribed"
    assert seen["hello_second"]["selector"] == second_paid

    for message in seen["paid"] + seen["refunds"] + seen["paid_second"]:
        assert message["type"] == "event" and message["channel"] == "stripe"
        payload = message["data"]["payload"]
        assert (payload["id"], payload["type"], payload["created"]) == (
            message["data"]["id"],
            message["data"]["type"],
            message["data"]["created"],
        )

    # Exactly the first order's events, each once: none of the second order's.
    paid_ids = [m["data"]["id"] for m in seen["paid"]]
    assert len(paid_ids) == len(set(paid_ids))
    assert set(paid_ids) == _of_order(seen["after_charge"], first["id"])
    assert "charge.succeeded" in {m["data"]["type"] for m in seen["paid"]}
    assert all(
        m["data"]["payload"]["data"]["object"]["metadata"]["order_id"] == first["id"]
        for m in seen["paid"] + seen["refunds"]
    )

    # The refund's charge event follows on the same socket.
    refund_ids = [m["data"]["id"] for m in seen["refunds"]]
    new_ids = _of_order(seen["after_refund"], first["id"]) - set(paid_ids)
    assert set(refund_ids) == new_ids and len(refund_ids) == len(new_ids)
    refunded_charges = [m for m in seen["refunds"] if m["data"]["type"] == "charge.refunded"]
    assert len(refunded_charges) == 1
    assert refunded_charges[0]["data"]["payload"]["data"]["object"]["amount_refunded"] == 500

    [only] = seen["paid_second"]
    assert only["data"]["type"] == "charge.succeeded"
    assert only["data"]["payload"]["data"]["object"]["amount"] == 290
    assert seen["refunds_second"] == []


def test_bad_selector_closes_the_socket_with_4400(make_server: Any) -> None:
    server = start(make_server)

    async def attempt(selector: str) -> int | str | None:
        try:
            async with connect(_ws_url(server, selector)) as ws:
                while True:
                    await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except InvalidStatus as refused:
            return f"handshake refused with HTTP {refused.response.status_code}"

    for selector in (
        "id = 'x' AND",
        "metadata.order_id",
        "= 'x'",
        "id = 'unterminated",
        "id = 'x' XOR id = 'y'",
    ):
        assert asyncio.run(asyncio.wait_for(attempt(selector), 10)) == 4400, selector
