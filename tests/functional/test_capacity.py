"""Tickets that never oversell: a product's capacity, most per order and sale window, with seats
held by pending orders, sold when paid and given back when an order ends unpaid or is refunded."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.auth import buyer, merchant
from tests.support.orders import (
    create_order,
    error,
    get_order,
    items,
    land_payment,
    pay_order,
    post_order,
    refunded,
    start,
    wait_order,
    wait_order_status,
)
from tests.support.server import RunningServer


def add_ticket(server: RunningServer, product_id: str = "gig", **limits: Any) -> dict[str, Any]:
    body = {"id": product_id, "name": "Gig ticket", "unit_amount": 1500, "currency": "usd"}
    response = server.client.post("/v1/products", json=body | limits, headers=merchant())
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product


def product(server: RunningServer, product_id: str = "gig") -> dict[str, Any]:
    listed = server.client.get("/v1/products", headers=merchant()).json()["data"]
    found: dict[str, Any] = next(p for p in listed if p["id"] == product_id)
    return found


def counts(server: RunningServer, product_id: str = "gig") -> tuple[int, int, int | None]:
    """(sold, reserved, available) as the merchant's catalog shows them."""
    shown = product(server, product_id)
    return shown["sold"], shown["reserved"], shown["available"]


def order_of(server: RunningServer, quantity: int = 1, sub: str = "alice") -> httpx.Response:
    return post_order(server, {"items": items(("gig", quantity))}, buyer(sub))


def test_limits_are_kept_shown_and_checked(make_server: Any) -> None:
    server = start(make_server)
    made = add_ticket(server, capacity=10, max_per_order=4)
    assert (made["capacity"], made["max_per_order"]) == (10, 4)
    assert (made["sold"], made["reserved"], made["available"]) == (0, 0, 10)
    # A product without limits says so.
    espresso = product(server, "espresso")
    assert (espresso["capacity"], espresso["available"], espresso["max_per_order"]) == (
        None,
        None,
        None,
    )
    base = {"id": "bad", "name": "Bad", "unit_amount": 100}
    for limits in (
        {"capacity": -1},
        {"capacity": "10"},
        {"capacity": 1.5},
        {"max_per_order": 0},
        {"sale_starts_at": "2030-01-01T00:00:00"},  # no time zone
        {"sale_starts_at": "2030-01-02T00:00:00Z", "sale_ends_at": "2030-01-01T00:00:00Z"},
    ):
        refused = server.client.post("/v1/products", json=base | limits, headers=merchant())
        assert refused.status_code == 422, (limits, refused.text)
    assert "bad" not in [p["id"] for p in server.client.get("/v1/products").json()["data"]]
    # A limit set to null is lifted; other fields still cannot be null.
    lifted = server.client.patch("/v1/products/gig", json={"capacity": None}, headers=merchant())
    assert lifted.status_code == 200 and lifted.json()["available"] is None
    nulled = server.client.patch("/v1/products/gig", json={"name": None}, headers=merchant())
    assert nulled.status_code == 422


def test_200_concurrent_buyers_for_the_last_10_tickets(make_server: Any) -> None:
    server = start(make_server, rate_limit_enabled=False)
    add_ticket(server, capacity=12)
    early = [create_order(server, ("gig", 1), sub=f"early-{n}") for n in range(2)]
    assert counts(server) == (0, 2, 10)

    gate = threading.Barrier(200)

    def buy(n: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            gate.wait()
            return client.post(
                "/v1/orders", json={"items": items(("gig", 1))}, headers=buyer(f"buyer-{n}")
            )

    with ThreadPoolExecutor(200) as pool:
        answers = list(pool.map(buy, range(200)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 190, statuses
    refusals = [a.json()["error"] for a in answers if a.status_code == 409]
    assert {(r["code"], r["left"], r["product_id"]) for r in refusals} == {("sold_out", 0, "gig")}
    assert counts(server) == (0, 12, 0)
    # Every seat is one order's: the 12 held are the 12 pending orders made.
    listed = server.client.get("/v1/orders", params={"limit": 100}, headers=merchant()).json()
    pending = [o for o in listed["data"] if o["status"] == "pending"]
    assert len(pending) == 12 and {o["id"] for o in early} <= {o["id"] for o in pending}


def test_expiring_reservations_free_their_seats(make_server: Any) -> None:
    # Long enough for the refusal below to come first on a busy machine.
    server = start(make_server, order_ttl_seconds=4)
    add_ticket(server, capacity=2)
    held = create_order(server, ("gig", 2))
    refused = order_of(server, sub="bob")
    assert error(refused) == (409, "sold_out")
    assert refused.json()["error"]["left"] == 0
    assert counts(server) == (0, 2, 0)
    wait_order_status(server, held["id"], "expired", timeout=10)
    assert counts(server) == (0, 0, 2)
    assert order_of(server, sub="bob").status_code == 201
    assert counts(server) == (0, 1, 1)


def test_paying_sells_cancelling_and_refunding_give_seats_back(make_server: Any) -> None:
    server = start(make_server)
    add_ticket(server, capacity=5)
    paid = create_order(server, ("gig", 2))
    cancelled = create_order(server, ("gig", 2), sub="bob")
    assert counts(server) == (0, 4, 1)
    too_many = order_of(server, 2, sub="carol")
    assert error(too_many) == (409, "sold_out") and too_many.json()["error"]["left"] == 1
    pay_order(server, paid)
    assert counts(server) == (2, 2, 1)
    gone = server.client.post(f"/v1/orders/{cancelled['id']}/cancel", headers=buyer("bob"))
    assert gone.status_code == 200, gone.text
    assert counts(server) == (2, 0, 3)
    # A part refund keeps the seats sold; the whole of it gives them back.
    refunded(server, paid["id"], 1000)
    assert counts(server) == (2, 0, 3)
    refunded(server, paid["id"])
    wait_order_status(server, paid["id"], "refunded")
    assert counts(server) == (0, 0, 5)


def test_free_tickets_complete_at_once_and_count_too(make_server: Any) -> None:
    server = start(make_server)
    add_ticket(server, "rsvp", capacity=3, unit_amount=0)
    for sub in ("alice", "bob", "carol"):
        made = post_order(server, {"items": items(("rsvp", 1))}, buyer(sub))
        assert made.status_code == 201 and made.json()["status"] == "completed", made.text
    late = post_order(server, {"items": items(("rsvp", 1))}, buyer("dave"))
    assert error(late) == (409, "sold_out")
    assert counts(server, "rsvp") == (3, 0, 0)


def test_a_capacity_set_later_counts_the_orders_already_made(make_server: Any) -> None:
    server = start(make_server)
    add_ticket(server)
    paid = create_order(server, ("gig", 2))
    create_order(server, ("gig", 1), sub="bob")
    pay_order(server, paid)
    assert counts(server) == (2, 1, None)
    set_capacity = server.client.patch("/v1/products/gig", json={"capacity": 4}, headers=merchant())
    assert set_capacity.json()["available"] == 1
    assert error(order_of(server, 2, sub="carol")) == (409, "sold_out")
    assert order_of(server, 1, sub="carol").status_code == 201


def test_most_per_order_and_the_sale_window(make_server: Any) -> None:
    server = start(make_server)
    now = datetime.now(UTC)
    add_ticket(server, max_per_order=2)
    add_ticket(server, "soon", sale_starts_at=(now + timedelta(days=1)).isoformat())
    add_ticket(server, "over", sale_ends_at=(now - timedelta(seconds=1)).isoformat())
    add_ticket(
        server,
        "now",
        sale_starts_at=(now - timedelta(days=1)).isoformat(),
        sale_ends_at=(now + timedelta(days=1)).isoformat(),
    )
    # Two lines of one product are one quantity.
    three = post_order(server, {"items": items(("gig", 2), ("gig", 1))}, buyer("alice"))
    assert error(three) == (422, "max_per_order_exceeded")
    assert three.json()["error"]["max_per_order"] == 2
    assert order_of(server, 2).status_code == 201
    soon = post_order(server, {"items": items(("soon", 1))}, buyer("alice"))
    assert error(soon) == (409, "sale_not_started") and "starts_at" in soon.json()["error"]
    over = post_order(server, {"items": items(("over", 1))}, buyer("alice"))
    assert error(over) == (409, "sale_ended")
    assert post_order(server, {"items": items(("now", 1))}, buyer("alice")).status_code == 201
    # Nothing refused was made or held.
    assert counts(server, "soon") == (0, 0, None) and counts(server, "over") == (0, 0, None)


def test_only_an_order_sells_a_product_with_a_capacity(make_server: Any) -> None:
    server = start(make_server)
    add_ticket(server, capacity=10)
    token = server.client.post("/v1/tokens", json={"items": items(("gig", 1))})
    assert error(token) == (422, "order_required")
    session = server.client.post(
        "/create-checkout-session",
        json={"line_items": [{"price": "gig", "quantity": 1}], "customer_email": "a@example.com"},
    )
    assert session.status_code == 400 and session.json()["code"] == "order_required"
    assert counts(server) == (0, 0, 10)


def test_money_for_a_freed_seat_is_refunded(make_server: Any) -> None:
    server = start(make_server, order_ttl_seconds=2)
    add_ticket(server, capacity=1)
    first = create_order(server, ("gig", 1))
    wait_order_status(server, first["id"], "expired", timeout=10)
    second = create_order(server, ("gig", 1), sub="bob")
    assert counts(server) == (0, 1, 0)
    # The first buyer's payment was under way and lands now, for a seat bob holds.
    land_payment(server, first, 1500, "usd")
    # The refund's own event may be recorded a moment before the job that made it says so.
    settled = wait_order(
        server,
        first["id"],
        lambda o: (
            [p["status"] for p in o["payments"]] == ["refunded"]
            and [r["source"] for r in o["refunds"]] == ["automatic"]
        ),
        timeout=15,
    )
    assert settled["status"] == "expired"
    assert get_order(server, second["id"])["status"] == "pending"
    assert counts(server) == (0, 1, 0)
