"""The Hasura-compatible GraphQL API, through the Python ``gql`` client: the first design's
three documents verbatim, live subscriptions in both WebSocket protocols, permissions as
Hasura applies them, and errors in Hasura's shape."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from gql.transport.exceptions import TransportQueryError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ServerFactory
from tests.support import sdk
from tests.support.auth import API_KEY, JWT_SECRET, bearer, buyer, hs256
from tests.support.flows import GOOD_CARD, pay_page, submit_card, wait_status
from tests.support.graphql import (
    ADD_TOKEN,
    LEGACY_WS,
    PROTOCOLS,
    TOKEN_CREATED,
    TRANSPORT_WS,
    UPDATE_TOKEN,
    endpoint,
    errors_of,
    execute,
    next_result,
    subscription,
)
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.server import RunningServer

CHEAPEST = "query { product(order_by: [{unitAmount: asc}], limit: 1) { id } }"
TOKEN_FIELDS = "id status userId customerEmail amountTotal currency kind merchantId"


def _add(server: RunningServer, headers: dict[str, str] | None = None) -> str:
    token_id = str(uuid.uuid4())
    data = execute(server, ADD_TOKEN, headers, id=token_id, status="inprogress")
    assert data == {"insert_token": {"returning": [{"id": token_id, "status": "inprogress"}]}}
    return token_id


@pytest.fixture
def signed_in(make_server: ServerFactory) -> RunningServer:
    return make_server(jwt_secret=JWT_SECRET, api_key=API_KEY, admin_key=ADMIN_KEY)


# -- the first design's documents ------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_desktop_subscribes_phone_pays_subscription_says_success(
    server: RunningServer, protocol: str
) -> None:
    async def flow() -> list[Any]:
        token_id = str(uuid.uuid4())
        seen = []
        async with subscription(server, TOKEN_CREATED, protocol, id=token_id) as results:
            # Subscribed before the token exists: null, then the token once it is added.
            seen.append(await next_result(results))
            await asyncio.to_thread(execute, server, ADD_TOKEN, id=token_id, status="inprogress")
            seen.append(await next_result(results))
            url = await asyncio.to_thread(pay_page, server, token_id)
            await asyncio.to_thread(submit_card, url, GOOD_CARD)
            while seen[-1]["token_by_pk"]["status"] != "success":
                seen.append(await next_result(results))
        return seen

    seen = asyncio.run(flow())
    token_id = seen[1]["token_by_pk"]["id"]
    assert seen[0] == {"token_by_pk": None}
    assert seen[1] == {"token_by_pk": {"id": token_id, "status": "inprogress"}}
    assert seen[-1] == {"token_by_pk": {"id": token_id, "status": "success"}}


def test_add_token_then_scan_pays_it_for_the_default_item(server: RunningServer) -> None:
    token_id = _add(server)
    submit_card(pay_page(server, token_id))
    paid = wait_status(server, token_id, "success")
    # The demo merchant's default item: one espresso, priced by the catalog.
    assert [(i["product_id"], i["quantity"]) for i in paid["items"]] == [("espresso", 1)]
    assert paid["amount_total"] == 250


def test_update_token_to_cancelled_expires_the_provider_session(
    signed_in: RunningServer,
) -> None:
    alice = buyer("alice")
    token_id = _add(signed_in, alice)
    pay_page(signed_in, token_id)  # opens the provider session
    session_id = execute(signed_in, f'{{ token_by_pk(id: "{token_id}") {{ stripeSessionId }} }}')[
        "token_by_pk"
    ]["stripeSessionId"]
    data = execute(signed_in, UPDATE_TOKEN, alice, id=token_id, status="cancelled")
    assert data == {"update_token_by_pk": {"status": "cancelled"}}
    assert sdk.client(signed_in).v1.checkout.sessions.retrieve(session_id).status == "expired"
    assert signed_in.client.get(f"/t/{token_id}").status_code == 409


def test_only_the_provider_and_expiry_set_the_other_statuses(signed_in: RunningServer) -> None:
    alice = buyer("alice")
    token_id = _add(signed_in, alice)
    for status in ("success", "failed", "invalid", "inprogress"):
        (error,) = errors_of(signed_in, UPDATE_TOKEN, alice, id=token_id, status=status)
        assert error["extensions"]["code"] == "permission-error", error
    (error,) = errors_of(signed_in, UPDATE_TOKEN, alice, id=token_id, status="paid")
    assert error["extensions"]["code"] == "validation-failed"
    (error,) = errors_of(signed_in, ADD_TOKEN, id=str(uuid.uuid4()), status="success")
    assert error["extensions"]["code"] == "permission-error"
    assert execute(signed_in, f'{{ token_by_pk(id: "{token_id}") {{ status }} }}') == {
        "token_by_pk": {"status": "inprogress"}
    }


def test_add_token_with_a_taken_id_is_a_constraint_violation(server: RunningServer) -> None:
    token_id = _add(server)
    (error,) = errors_of(server, ADD_TOKEN, id=token_id, status="inprogress")
    assert error["extensions"]["code"] == "constraint-violation"
    assert error["extensions"]["path"] == "$.selectionSet.insert_token"
    assert "exists" in error["message"]


def test_a_merchant_without_a_default_item_needs_items(signed_in: RunningServer) -> None:
    acme, _ = add_acme(signed_in)
    (error,) = errors_of(
        signed_in, ADD_TOKEN, bearer(acme), id=str(uuid.uuid4()), status="inprogress"
    )
    assert error["extensions"]["code"] == "validation-failed"
    assert error["extensions"]["reason"] == "items_required"
    changed = signed_in.client.patch(
        "/v1/merchants/acme", json={"default_product_id": "espresso"}, headers=bearer(acme)
    )
    assert changed.status_code == 200, changed.text
    token_id = _add(signed_in, bearer(acme))
    assert signed_in.client.get(f"/v1/tokens/{token_id}").json()["amount_total"] == 4500
    unknown = signed_in.client.patch(
        "/v1/merchants/acme", json={"default_product_id": "nope"}, headers=bearer(acme)
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_product"


def test_insert_with_items_prices_them_from_the_catalog(server: RunningServer) -> None:
    data = execute(
        server,
        """mutation { insert_token_one(object: {kind: "static", items: {data: [
            {productId: "espresso", quantity: 2}, {productId: "croissant", quantity: 1}]}}) {
            id kind amountTotal currency endAt
            items { productId unitAmount quantity amount } } }""",
    )
    token = data["insert_token_one"]
    assert token["kind"] == "static" and token["endAt"] is None
    assert token["amountTotal"] == 2 * 250 + 290 and token["currency"] == "usd"
    assert token["items"][0] == {
        "productId": "espresso",
        "unitAmount": 250,
        "quantity": 2,
        "amount": 500,
    }
    # A price is no column of the insert: the schema refuses it.
    (error,) = errors_of(server, "mutation { insert_token_one(object: {amountTotal: 1}) { id } }")
    assert error["extensions"]["code"] == "validation-failed"


def test_insert_of_several_is_all_or_nothing(server: RunningServer) -> None:
    taken = _add(server)
    fresh = str(uuid.uuid4())
    (error,) = errors_of(
        server,
        "mutation ($a: uuid!, $b: uuid!) { insert_token(objects: [{id: $a}, {id: $b}]) "
        "{ affected_rows } }",
        a=fresh,
        b=taken,
    )
    assert error["extensions"]["code"] == "constraint-violation"
    assert execute(server, f'{{ token_by_pk(id: "{fresh}") {{ id }} }}') == {"token_by_pk": None}


# -- permissions ------------------------------------------------------------------------------


def test_users_see_and_change_only_their_own_tokens(signed_in: RunningServer) -> None:
    alice, bob = buyer("alice"), buyer("bob")
    token_id = _add(signed_in, alice)
    mine = execute(signed_in, f'{{ token_by_pk(id: "{token_id}") {{ {TOKEN_FIELDS} }} }}', alice)
    assert mine["token_by_pk"]["userId"] == "alice"  # set from the claims, never the client
    assert [t["id"] for t in execute(signed_in, "{ token { id } }", alice)["token"]] == [token_id]
    # Bob holds the id, as anyone holding the QR does: the public columns, nothing of Alice.
    theirs = execute(signed_in, f'{{ token_by_pk(id: "{token_id}") {{ {TOKEN_FIELDS} }} }}', bob)
    assert theirs["token_by_pk"]["userId"] is None
    assert theirs["token_by_pk"]["status"] == "inprogress"
    assert execute(signed_in, "{ token { id } }", bob) == {"token": []}
    (error,) = errors_of(signed_in, UPDATE_TOKEN, bob, id=token_id, status="cancelled")
    assert error["extensions"]["code"] == "permission-error"
    assert execute(
        signed_in,
        'mutation { update_token(where: {}, _set: {status: "cancelled"}) { affected_rows } }',
        bob,
    ) == {"update_token": {"affected_rows": 0}}
    assert signed_in.client.get(f"/v1/tokens/{token_id}").json()["status"] == "inprogress"


def test_anonymous_reads_public_columns_by_id_and_lists_nothing(signed_in: RunningServer) -> None:
    made = signed_in.client.post(
        "/v1/tokens",
        json={"items": [{"product_id": "espresso", "quantity": 1}], "customer_email": "a@b.co"},
        headers=buyer("alice"),
    ).json()
    seen = execute(signed_in, f'{{ token_by_pk(id: "{made["id"]}") {{ {TOKEN_FIELDS} }} }}')
    assert seen["token_by_pk"]["customerEmail"] is None and seen["token_by_pk"]["userId"] is None
    assert seen["token_by_pk"]["amountTotal"] == 250
    (error,) = errors_of(signed_in, "{ token { id } }")
    assert error["extensions"]["code"] == "access-denied"
    (error,) = errors_of(signed_in, UPDATE_TOKEN, id=made["id"], status="cancelled")
    assert error["extensions"]["code"] == "access-denied"


def test_a_merchant_sees_only_its_own(signed_in: RunningServer) -> None:
    acme, _ = add_acme(signed_in, default_product_id="espresso")
    ours = _add(signed_in, {"x-hasura-admin-secret": API_KEY})
    theirs = _add(signed_in, {"x-hasura-admin-secret": acme})
    for key, mine, other in ((API_KEY, ours, theirs), (acme, theirs, ours)):
        admin = {"x-hasura-admin-secret": key}
        listed = execute(signed_in, "{ token { id merchantId } }", admin)["token"]
        assert [t["id"] for t in listed] == [mine]
        assert execute(signed_in, f'{{ token_by_pk(id: "{other}") {{ customerEmail }} }}', admin)
        (error,) = errors_of(signed_in, UPDATE_TOKEN, admin, id=other, status="cancelled")
        assert error["extensions"]["code"] == "permission-error"
    products = execute(signed_in, "{ product { id unitAmount } }", {"x-hasura-admin-secret": acme})
    assert products == {"product": [{"id": "espresso", "unitAmount": 4500}]}


def test_bad_credentials_are_hasura_errors(signed_in: RunningServer) -> None:
    query = "{ product { id } }"
    expired = bearer(hs256("alice", ttl=-120))
    forged = bearer(hs256("alice", secret="another-secret-0123456789abcdef0123"))
    for headers in (expired, forged):
        (error,) = errors_of(signed_in, query, headers)
        assert error["extensions"] == {
            "path": "$",
            "code": "invalid-jwt",
            "reason": "invalid_token",
        }
    (error,) = errors_of(signed_in, query, {"x-hasura-admin-secret": "wrong"})
    assert error["extensions"]["code"] == "access-denied"
    (error,) = errors_of(signed_in, query, buyer("alice") | {"X-Hasura-Role": "admin"})
    assert error["extensions"]["code"] == "access-denied"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_user_b_cannot_subscribe_to_user_a_tokens(signed_in: RunningServer, protocol: str) -> None:
    alice = bearer(hs256("alice"))
    bob = {"headers": bearer(hs256("bob"))}
    token_id = _add(signed_in, alice)

    async def watch() -> tuple[Any, Any, Any]:
        document = "subscription ($id: uuid!) { token_by_pk(id: $id) { id userId status } }"
        async with subscription(signed_in, document, protocol, bob, id=token_id) as one:
            by_pk = await next_result(one)
        async with subscription(signed_in, "subscription { token { id } }", protocol, bob) as rows:
            listed = await next_result(rows)
            await asyncio.to_thread(_add, signed_in, alice)
            with pytest.raises(TimeoutError):
                await next_result(rows, within=1)
        async with subscription(
            signed_in, "subscription { token { id userId } }", protocol, {"headers": alice}
        ) as own:
            alice_rows = await next_result(own)
        return by_pk, listed, alice_rows

    by_pk, listed, alice_rows = asyncio.run(watch())
    assert by_pk == {"token_by_pk": {"id": token_id, "userId": None, "status": "inprogress"}}
    assert listed == {"token": []}
    assert len(alice_rows["token"]) == 2
    assert {t["userId"] for t in alice_rows["token"]} == {"alice"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_list_subscription_follows_changes(signed_in: RunningServer, protocol: str) -> None:
    alice = {"headers": bearer(hs256("alice"))}
    document = """subscription { token(where: {status: {_eq: "inprogress"}},
        order_by: [{createdAt: asc}]) { id status } }"""

    async def watch() -> list[Any]:
        seen = []
        async with subscription(signed_in, document, protocol, alice) as results:
            seen.append(await next_result(results))
            first = await asyncio.to_thread(_add, signed_in, alice["headers"])
            seen.append(await next_result(results))
            await asyncio.to_thread(
                execute, signed_in, UPDATE_TOKEN, alice["headers"], id=first, status="cancelled"
            )
            seen.append(await next_result(results))
        return seen

    empty, added, cancelled = asyncio.run(watch())
    assert empty == {"token": []}
    assert [t["status"] for t in added["token"]] == ["inprogress"]
    assert cancelled == {"token": []}


# -- the sockets ------------------------------------------------------------------------------


def test_a_bad_jwt_at_connection_init_is_refused(signed_in: RunningServer) -> None:
    url = endpoint(signed_in, "ws")
    forged = {"headers": bearer(hs256("x", secret="another-secret-0123456789abcdef0123"))}

    async def attempt() -> tuple[Any, Any]:
        async with connect(url, subprotocols=[TRANSPORT_WS]) as ws:  # type: ignore[list-item]
            await ws.send(_json({"type": "connection_init", "payload": forged}))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            transport = closed.value.rcvd
        async with connect(url, subprotocols=[LEGACY_WS]) as ws:  # type: ignore[list-item]
            await ws.send(_json({"type": "connection_init", "payload": forged}))
            legacy = await ws.recv()
        return transport, legacy

    transport, legacy = asyncio.run(attempt())
    assert transport is not None and transport.code == 4403
    assert _load(legacy)["type"] == "connection_error"
    assert _load(legacy)["payload"]["extensions"]["code"] == "invalid-jwt"


def test_a_socket_without_a_graphql_subprotocol_or_with_junk_is_closed(
    server: RunningServer,
) -> None:
    url = endpoint(server, "ws")

    async def attempt() -> tuple[Any, Any, Any]:
        codes = []
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            codes.append(closed.value.rcvd)
        async with connect(url, subprotocols=[TRANSPORT_WS]) as ws:  # type: ignore[list-item]
            await ws.send("not json")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            codes.append(closed.value.rcvd)
        async with connect(url, subprotocols=[TRANSPORT_WS]) as ws:  # type: ignore[list-item]
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": "{ product { id } }"}}
            await ws.send(_json(subscribe))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            codes.append(closed.value.rcvd)
        return tuple(codes)

    none, junk, early = asyncio.run(attempt())
    assert none is not None and none.code == 4406
    assert junk is not None and junk.code == 4400
    assert early is not None and early.code == 4401  # subscribe before connection_init
    assert server.client.get("/healthz").status_code == 200


def test_queries_and_mutations_also_run_over_the_socket(server: RunningServer) -> None:
    async def run() -> tuple[Any, Any]:
        async with subscription(
            server,
            "query { product(order_by: [{unitAmount: asc}], limit: 1) { id } }",
            TRANSPORT_WS,
        ) as q:
            transport = await next_result(q)
        async with subscription(
            server, "query { product(order_by: [{unitAmount: asc}], limit: 1) { id } }", LEGACY_WS
        ) as q:
            legacy = await next_result(q)
        return transport, legacy

    assert asyncio.run(run()) == ({"product": [{"id": "espresso"}]},) * 2


# -- queries and errors -----------------------------------------------------------------------


def test_where_order_by_limit_and_offset(server: RunningServer) -> None:
    query = """{ product(where: {_or: [{unitAmount: {_gte: 360}}, {id: {_in: ["espresso"]}}],
        _not: {id: {_eq: "cappuccino"}}}, order_by: [{unitAmount: desc}], limit: 2, offset: 0)
        { id unitAmount } }"""
    assert execute(server, query) == {
        "product": [{"id": "flat-white", "unitAmount": 380}, {"id": "espresso", "unitAmount": 250}]
    }
    by_id = "{ product(order_by: [{id: desc}], offset: 3) { id } }"
    assert execute(server, by_id) == {"product": [{"id": "cappuccino"}, {"id": "banana-bread"}]}
    assert execute(server, '{ product_by_pk(id: "croissant") { name } }') == {
        "product_by_pk": {"name": "Butter croissant"}
    }
    assert execute(server, '{ product_by_pk(id: "nope") { name } }') == {"product_by_pk": None}


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("{ product { id nope } }", "validation-failed"),
        ("{ product { ", "validation-failed"),
        ('{ token_by_pk(id: "not-a-uuid") { id } }', "validation-failed"),
        ("{ product(where: {id: {_eq: null}}) { id } }", "validation-failed"),
        ("{ product(limit: 100000) { id } }", "validation-failed"),
        ("{ product(offset: -1) { id } }", "validation-failed"),
        ('{ product(where: {id: {_eq: "a\\u0000b"}}) { id } }', "validation-failed"),
        (
            'mutation { insert_product_one(object: {id: "x", name: "X", unitAmount: 1}) { id } }',
            "access-denied",
        ),
        ("{ " + "a: __typename " * 3000 + "}", "validation-failed"),
        # Each fragment spread twice: the depth check must not walk it 2^26 times.
        (
            "{ product(limit: 0) { ...F0 } }\n"
            + "".join(
                f"fragment F{i} on product {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(26)
            )
            + "fragment F26 on product { id }",
            None,
        ),
        (
            '{ product(where: {createdAt: {_gt: "0001-01-01T00:00:00+01:00"}}) { id } }',
            "validation-failed",
        ),
        (
            "{ __schema { types { fields { type { " + "ofType { " * 12 + "name" + " }" * 17,
            "validation-failed",
        ),
    ],
)
@pytest.mark.one_database
def test_bad_documents_get_hasura_errors(
    server: RunningServer, document: str, code: str | None
) -> None:
    response = httpx.post(endpoint(server), json={"query": document}, timeout=10)
    assert response.status_code == 200
    if code is None:  # a valid document, answered at once
        assert response.json() == {"data": {"product": []}}
        return
    errors = response.json()["errors"]
    assert errors and all(e["extensions"]["code"] == code for e in errors), errors
    assert all(set(e) == {"message", "extensions"} and "path" in e["extensions"] for e in errors)


@pytest.mark.one_database
def test_bodies_that_are_no_graphql_request(server: RunningServer) -> None:
    url = endpoint(server)
    not_json = httpx.post(url, content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["extensions"]["code"] == "invalid-json"
    no_query = httpx.post(url, json={"variables": {}})
    assert no_query.status_code == 400
    assert no_query.json()["errors"][0]["extensions"]["code"] == "bad-request"


def test_a_lone_surrogate_in_a_product_is_refused(signed_in: RunningServer) -> None:
    admin = {"x-hasura-admin-secret": API_KEY}
    document = (
        'mutation ($v: String!) { update_product_by_pk(pk_columns: {id: "espresso"}, '
        "_set: {currency: $v}) { id } }"
    )
    # Sent escaped, as JSON allows; no client would encode the bare surrogate.
    body = json.dumps({"query": document, "variables": {"v": "\ud800"}})
    response = httpx.post(
        endpoint(signed_in), content=body, headers=admin | {"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "validation-failed"


def test_a_merchant_manages_its_catalog_and_orders(signed_in: RunningServer) -> None:
    admin = {"x-hasura-admin-secret": API_KEY}
    added = execute(
        signed_in,
        'mutation { insert_product_one(object: {id: "tea", name: "Tea", unitAmount: 300}) '
        "{ id currency active } }",
        admin,
    )
    assert added == {"insert_product_one": {"id": "tea", "currency": "usd", "active": True}}
    changed = execute(
        signed_in,
        'mutation { update_product_by_pk(pk_columns: {id: "tea"}, _set: {unitAmount: 320}) '
        "{ unitAmount } }",
        admin,
    )
    assert changed == {"update_product_by_pk": {"unitAmount": 320}}
    alice = buyer("alice")
    order = execute(
        signed_in,
        'mutation { insert_order_one(object: {items: {data: [{productId: "tea", quantity: 2}]}}) '
        "{ id status amount currency userId paymentUrl } }",
        alice,
    )["insert_order_one"]
    assert order["amount"] == 640 and order["userId"] == "alice" and order["status"] == "pending"
    listed = execute(signed_in, "{ order { id amount } }", admin)
    assert listed == {"order": [{"id": order["id"], "amount": 640}]}
    cancelled = execute(
        signed_in,
        "mutation ($id: String!) { update_order_by_pk(pk_columns: {id: $id}, "
        '_set: {status: "cancelled"}) { status } }',
        alice,
        id=order["id"],
    )
    assert cancelled == {"update_order_by_pk": {"status": "cancelled"}}
    with pytest.raises(TransportQueryError):
        execute(signed_in, "{ order { id } }")


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message)


def _load(raw: str | bytes) -> Any:
    return json.loads(raw)
