"""Orders: priced by the server, listed per buyer, and moved only forward through their states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.support import sdk
from tests.support.auth import buyer, hs256, merchant
from tests.support.flows import submit_card
from tests.support.orders import (
    OTHER_SECRET,
    add_product,
    charge,
    charged,
    create_order,
    entitlements,
    error,
    get_order,
    items,
    land_payment,
    pay_order,
    post_order,
    refund,
    refunded,
    session_id,
    settle,
    start,
    wait_order,
    wait_order_status,
)
from tests.support.server import wait_until

ORDER_FIELDS = {
    "id",
    "identifier",
    "object",
    "status",
    "payment_mode",
    "amount",
    "amount_paid",
    "amount_refunded",
    "amount_due",
    "currency",
    "attempts",
    "owner",
    "customer_email",
    "items",
    "created_at",
    "expires_at",
    "completed_at",
    "payment_url",
    "qr_url",
    "token_id",
    "payments",
    "refunds",
    "failure_code",
    "failure_message",
}


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _lines(order: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (i["product_id"], i["name"], i["unit_amount"], i["quantity"], i["amount"])
        for i in order["items"]
    ]


def _list(server: Any, sub: str, **params: Any) -> dict[str, Any]:
    response = server.client.get("/v1/orders", params=params, headers=buyer(sub))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert page["object"] == "list"
    return page


# -- creating ------------------------------------------------------------------------------------


def test_order_is_priced_by_the_server_from_either_item_form(make_server: Any) -> None:
    server = start(make_server)
    long_form = create_order(server, ("espresso", 2), ("croissant", 1))
    assert long_form.keys() >= ORDER_FIELDS
    assert long_form["id"] == long_form["identifier"]
    assert long_form["id"].startswith("ord_")
    assert long_form["object"] == "order"
    assert long_form["status"] == "pending" and long_form["payment_mode"] == "stripe"
    assert long_form["currency"] == "usd"
    assert long_form["amount"] == 2 * 250 + 290 == long_form["amount_due"]
    assert long_form["amount_paid"] == long_form["amount_refunded"] == long_form["attempts"] == 0
    assert long_form["owner"] == "alice" and long_form["customer_email"] is None
    assert _lines(long_form) == [
        ("espresso", "Espresso", 250, 2, 500),
        ("croissant", "Butter croissant", 290, 1, 290),
    ]
    assert _seconds(long_form["created_at"], long_form["expires_at"]) == 900
    assert long_form["completed_at"] is None
    assert long_form["payments"] == [] and long_form["refunds"] == []
    assert long_form["failure_code"] is None and long_form["failure_message"] is None
    assert long_form["token_id"]

    # The hosted page charges what the server priced, and the QR is an SVG.
    assert long_form["payment_url"].startswith(f"{server.url}/sandbox/pay/cs_test_")
    page = httpx.get(long_form["payment_url"])
    assert page.status_code == 200 and "$7.90" in page.text
    session = server.sandbox.object(session_id(long_form))
    assert (session["amount_total"], session["currency"]) == (790, "usd")
    qr = httpx.get(long_form["qr_url"])
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.lstrip().startswith("<svg")

    short_form = post_order(
        server,
        {
            "items": [
                {"productId": "espresso", "quantity": 2},
                {"productId": "croissant", "quantity": 1},
            ]
        },
        buyer("alice"),
    )
    assert short_form.status_code == 201, short_form.text
    assert _lines(short_form.json()) == _lines(long_form)
    assert short_form.json()["amount"] == 790
    assert short_form.json()["id"] != long_form["id"]

    assert get_order(server, long_form["id"]) == {
        k: v for k, v in long_form.items() if k != "cancel_secret"
    }


def test_order_by_email_without_signing_in(make_server: Any) -> None:
    server = start(make_server)
    created = create_order(server, ("flat-white", 1), sub=None, customer_email="carol@example.com")
    assert created["customer_email"] == "carol@example.com"
    assert created["status"] == "pending" and created["amount"] == 380


def test_bad_orders_get_clear_errors_and_create_nothing(make_server: Any) -> None:
    server = start(make_server)
    add_product(server, "matcha", 1500, "jpy")
    alice = buyer("alice")
    cases: list[tuple[str, Any, dict[str, str], tuple[int, str] | int]] = [
        ("unknown product", {"items": items(("nope", 1))}, alice, (422, "unknown_product")),
        (
            "mixed currencies",
            {"items": items(("espresso", 1), ("matcha", 1))},
            alice,
            (422, "mixed_currencies"),
        ),
        (
            "a unit price",
            {"items": [{"product_id": "espresso", "quantity": 1, "unit_amount": 1}]},
            alice,
            422,
        ),
        ("a price", {"items": [{"product_id": "espresso", "quantity": 1, "price": 1}]}, alice, 422),
        ("an amount", {"items": items(("espresso", 1)), "amount": 1}, alice, 422),
        ("no owner", {"items": items(("espresso", 1))}, {}, (422, "owner_required")),
        (
            "free mode for a priced cart",
            {"items": items(("espresso", 1)), "payment_mode": "free"},
            alice,
            (422, "order_not_free"),
        ),
        ("quantity 0", {"items": items(("espresso", 0))}, alice, 422),
        ("no items", {"items": []}, alice, 422),
        ("unknown mode", {"items": items(("espresso", 1)), "payment_mode": "cash"}, alice, 422),
        (
            "a bad signature",
            {"items": items(("espresso", 1))},
            {"Authorization": f"Bearer {hs256('alice', secret=OTHER_SECRET)}"},
            (401, "invalid_token"),
        ),
    ]
    for name, body, headers, expected in cases:
        response = post_order(server, body, headers)
        if isinstance(expected, int):
            assert response.status_code == expected, (name, response.text)
            assert response.json()["error"]["message"], name
        else:
            assert error(response) == expected, (name, response.text)
    bad_json = server.client.post(
        "/v1/orders",
        content=b"{not json",
        headers={"Content-Type": "application/json", **alice},
    )
    assert error(bad_json) == (400, "invalid_json")
    assert _list(server, "alice")["data"] == []


def test_unknown_order_is_404(make_server: Any) -> None:
    server = start(make_server)
    for identifier in ("ord_doesnotexist", "nope"):
        assert error(server.client.get(f"/v1/orders/{identifier}")) == (404, "order_not_found")


# -- listing -------------------------------------------------------------------------------------


def test_list_shows_only_the_callers_orders_newest_first_in_pages(make_server: Any) -> None:
    server = start(make_server)
    mine = [create_order(server, ("espresso", n))["id"] for n in range(1, 6)]
    theirs = create_order(server, sub="bob")["id"]
    create_order(server, sub=None, customer_email="carol@example.com")
    newest_first = mine[::-1]

    first = _list(server, "alice", limit=2)
    assert [o["id"] for o in first["data"]] == newest_first[:2] and first["has_more"] is True
    assert all(o["owner"] == "alice" for o in first["data"])
    second = _list(server, "alice", limit=2, starting_after=first["data"][-1]["id"])
    assert [o["id"] for o in second["data"]] == newest_first[2:4] and second["has_more"] is True
    last = _list(server, "alice", limit=2, starting_after=second["data"][-1]["id"])
    assert [o["id"] for o in last["data"]] == newest_first[4:] and last["has_more"] is False
    everything = _list(server, "alice", limit=10)
    assert [o["id"] for o in everything["data"]] == newest_first
    assert everything["has_more"] is False
    assert everything["data"][0] == get_order(server, newest_first[0])

    assert [o["id"] for o in _list(server, "bob")["data"]] == [theirs]
    assert _list(server, "dave")["data"] == []
    assert error(server.client.get("/v1/orders")) == (401, "unauthorized")
    bad = {"Authorization": f"Bearer {hs256('alice', secret=OTHER_SECRET)}"}
    assert error(server.client.get("/v1/orders", headers=bad)) == (401, "invalid_token")
    expired = {"Authorization": f"Bearer {hs256('alice', ttl=-120)}"}
    assert error(server.client.get("/v1/orders", headers=expired)) == (401, "invalid_token")


# -- the states ----------------------------------------------------------------------------------


def test_pending_order_completes_when_its_hosted_page_is_paid(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), ("croissant", 1))
    done = pay_order(server, order)
    assert done["amount_paid"] == 790 and done["amount_due"] == 0
    assert done["amount_refunded"] == 0
    assert done["completed_at"] is not None
    assert datetime.fromisoformat(done["completed_at"]) >= datetime.fromisoformat(
        done["created_at"]
    )
    [payment] = done["payments"]
    assert (payment["amount"], payment["currency"], payment["status"], payment["applied"]) == (
        790,
        "usd",
        "succeeded",
        True,
    )
    assert payment["amount_refunded"] == 0
    granted = sorted(
        (e["order_id"], e["product_id"], e["quantity"], e["owner"], e["revoked_at"])
        for e in entitlements(server, "alice")
    )
    assert granted == [
        (order["id"], "croissant", 1, "alice", None),
        (order["id"], "espresso", 2, "alice", None),
    ]
    assert entitlements(server, "bob") == []
    # Every Stripe event of the payment is in; the order was paid once.
    settle(server)
    again = get_order(server, order["id"])
    assert again["status"] == "completed" and again["amount_paid"] == 790
    assert len(again["payments"]) == 1 and len(entitlements(server, "alice")) == 2


def test_pending_order_is_cancelled_by_its_owner_only_once(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server)
    url = f"/v1/orders/{order['id']}/cancel"
    assert error(server.client.post(url, headers=buyer("bob"))) == (403, "forbidden")
    assert get_order(server, order["id"])["status"] == "pending"
    cancelled = server.client.post(url, headers=buyer("alice"))
    assert cancelled.status_code == 200, cancelled.text
    seen = get_order(server, order["id"])
    assert seen["status"] == "cancelled" and seen["amount_due"] == 0 and seen["amount_paid"] == 0
    again = server.client.post(url, headers=buyer("alice"))
    assert error(again) == (409, "order_not_cancellable")
    assert get_order(server, order["id"])["status"] == "cancelled"

    # Signed out, nobody may cancel an order that has an owner.
    other = create_order(server)
    signed_out = server.client.post(f"/v1/orders/{other['id']}/cancel")
    assert error(signed_out) == (401, "unauthorized")
    assert get_order(server, other["id"])["status"] == "pending"


def test_unpaid_order_expires_and_stays_expired(make_server: Any) -> None:
    server = start(make_server, order_ttl_seconds=1)
    order = create_order(server)
    assert _seconds(order["created_at"], order["expires_at"]) == 1
    expired = wait_order_status(server, order["id"], "expired", timeout=10)
    assert expired["failure_code"] == "expired"
    assert expired["amount_due"] == 0 and expired["amount_paid"] == 0
    cancel = server.client.post(f"/v1/orders/{order['id']}/cancel", headers=buyer("alice"))
    assert error(cancel) == (409, "order_not_cancellable")
    assert error(refund(server, order["id"])) == (409, "order_not_refundable")
    assert get_order(server, order["id"])["status"] == "expired"


def test_completed_order_is_refunded_in_steps_and_never_goes_back(make_server: Any) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), ("croissant", 1))
    charged(server, order)
    cancel_url = f"/v1/orders/{order['id']}/cancel"
    assert error(server.client.post(cancel_url, headers=buyer("alice"))) == (
        409,
        "order_not_cancellable",
    )
    assert get_order(server, order["id"])["status"] == "completed"

    part = refunded(server, order["id"], 290)["order"]
    assert part["status"] == "partially_refunded"
    assert (part["amount_paid"], part["amount_refunded"], part["amount_due"]) == (790, 290, 0)
    assert error(server.client.post(cancel_url, headers=buyer("alice"))) == (
        409,
        "order_not_cancellable",
    )
    assert error(charge(server, order["id"])) == (409, "order_paid")

    rest = refunded(server, order["id"])
    assert rest["refund"]["amount"] == 500
    assert rest["order"]["status"] == "refunded" and rest["order"]["amount_refunded"] == 790
    assert error(server.client.post(cancel_url, headers=buyer("alice"))) == (
        409,
        "order_not_cancellable",
    )
    assert error(refund(server, order["id"], 1)) == (409, "order_not_refundable")
    settle(server)
    final = get_order(server, order["id"])
    assert final["status"] == "refunded" and final["amount_refunded"] == 790


# -- free orders and other currencies ------------------------------------------------------------


def test_products_are_added_by_the_merchant_only(make_server: Any) -> None:
    server = start(make_server)
    body = {"id": "sticker", "name": "Sticker", "unit_amount": 0, "currency": "usd"}
    assert error(server.client.post("/v1/products", json=body)) == (401, "unauthorized")
    assert error(server.client.post("/v1/products", json=body, headers=merchant("sk_wrong"))) == (
        401,
        "invalid_api_key",
    )
    made = server.client.post("/v1/products", json=body, headers=merchant())
    assert made.status_code == 201, made.text
    assert {k: made.json()[k] for k in body} == body
    again = server.client.post("/v1/products", json=body, headers=merchant())
    assert error(again) == (409, "product_exists")
    listed = {p["id"]: p for p in server.client.get("/v1/products").json()["data"]}
    assert listed["sticker"]["unit_amount"] == 0


def test_free_order_completes_at_once_with_an_entitlement(make_server: Any) -> None:
    server = start(make_server)
    add_product(server, "sticker", 0, "usd", "Sticker")
    sessions_before = len(server.sandbox.store.all_of("checkout.session"))
    for mode in ("free", None):
        extra = {"payment_mode": mode} if mode else {}
        order = create_order(server, ("sticker", 2), **extra)
        assert order["status"] == "completed", mode
        if mode:
            assert order["payment_mode"] == mode
        assert (order["amount"], order["amount_paid"], order["amount_due"]) == (0, 0, 0)
        assert order["completed_at"] is not None
        assert order["payment_url"] is None and order["qr_url"] is None
        assert order["token_id"] is None and order["payments"] == []
        assert error(charge(server, order["id"])) == (409, "order_free")
        cancel = server.client.post(f"/v1/orders/{order['id']}/cancel", headers=buyer("alice"))
        assert error(cancel) == (409, "order_not_cancellable")
        assert get_order(server, order["id"])["status"] == "completed"
    granted = entitlements(server, "alice")
    assert sorted((e["product_id"], e["quantity"], e["revoked_at"]) for e in granted) == [
        ("sticker", 2, None),
        ("sticker", 2, None),
    ]
    assert len({e["order_id"] for e in granted}) == 2
    # Nothing was asked of the payment provider.
    assert len(server.sandbox.store.all_of("checkout.session")) == sessions_before
    assert server.sandbox.store.all_of("charge") == []

    # An order by e-mail is the buyer's who signs in with that e-mail, once it is verified.
    by_mail = create_order(server, ("sticker", 1), sub=None, customer_email="Carol@Example.com")
    assert by_mail["status"] == "completed"
    carols = entitlements(server, "carol-123", email="carol@example.com", email_verified=True)
    assert [(e["order_id"], e["product_id"]) for e in carols] == [(by_mail["id"], "sticker")]
    assert entitlements(server, "carol-123") == []
    assert entitlements(server, "mallory", email="carol@example.com") == []


def test_jpy_amounts_are_whole_yen_end_to_end(make_server: Any) -> None:
    server = start(make_server)
    add_product(server, "matcha", 1500, "jpy", "Matcha")
    order = create_order(server, ("matcha", 3))
    assert order["currency"] == "jpy"
    assert type(order["amount"]) is int and order["amount"] == 4500 == order["amount_due"]
    assert _lines(order) == [("matcha", "Matcha", 1500, 3, 4500)]
    session = server.sandbox.object(session_id(order))
    assert (session["amount_total"], session["currency"]) == (4500, "jpy")
    assert "¥4,500" in httpx.get(order["payment_url"]).text

    done = pay_order(server, order)
    assert type(done["amount_paid"]) is int and done["amount_paid"] == 4500
    answer = refunded(server, order["id"], 1000)
    assert answer["refund"]["amount"] == 1000 and type(answer["refund"]["amount"]) is int
    part = answer["order"]
    assert part["status"] == "partially_refunded"
    assert (part["amount"], part["amount_paid"], part["amount_refunded"]) == (4500, 4500, 1000)
    assert all(type(part[k]) is int for k in ("amount", "amount_paid", "amount_refunded"))
    intent_id = server.sandbox.object(session["id"])["payment_intent"]
    [stripe_charge] = sdk.client(server).v1.charges.list({"payment_intent": intent_id}).data
    assert (stripe_charge.amount, stripe_charge.amount_refunded, stripe_charge.currency) == (
        4500,
        1000,
        "jpy",
    )
    settle(server)
    assert get_order(server, order["id"])["amount_refunded"] == 1000


# -- money that arrives too late -----------------------------------------------------------------


def test_money_arriving_after_expiry_is_refunded_automatically(make_server: Any) -> None:
    # Long enough for the page to be opened before it expires on a busy machine.
    server = start(make_server, order_ttl_seconds=4)
    order = create_order(server, ("espresso", 2))
    assert httpx.get(order["payment_url"]).status_code == 200  # the customer has the page open
    expired = wait_order_status(server, order["id"], "expired", timeout=10)
    assert expired["payments"] == [] and expired["amount_paid"] == 0

    # The page the customer still holds was closed with the order (right after its commit).
    session_id = order["payment_url"].rsplit("/", 1)[1]
    wait_until(lambda: server.sandbox.object(session_id)["status"] == "expired", 10)
    late = submit_card(order["payment_url"])
    assert late.status_code == 409, late.text
    # A payment that was already under way lands anyway: Stripe reports it after the expiry.
    intent_id = land_payment(server, order, 500, "usd")
    client = sdk.client(server)

    settled = wait_order(
        server,
        order["id"],
        lambda o: [p["status"] for p in o["payments"]] == ["refunded"],
        timeout=15,
    )
    assert settled["status"] == "expired"
    assert (settled["amount_paid"], settled["amount_due"]) == (0, 0)
    [payment] = settled["payments"]
    assert (payment["amount"], payment["currency"], payment["applied"]) == (500, "usd", False)
    assert payment["amount_refunded"] == 500
    [automatic] = settled["refunds"]
    assert (automatic["source"], automatic["amount"]) == ("automatic", 500)
    [stripe_charge] = client.v1.charges.list({"payment_intent": intent_id}).data
    assert stripe_charge.refunded is True and stripe_charge.amount_refunded == 500
    assert entitlements(server, "alice") == []
    settle(server)
    final = get_order(server, order["id"])
    assert final["status"] == "expired" and len(final["refunds"]) == 1
    assert [p["status"] for p in final["payments"]] == ["refunded"]
