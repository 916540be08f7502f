"""Webhook throughput: Stripe events processed per second end to end, against a bare endpoint.

For each database (a temporary SQLite file, then a fresh PostgreSQL database), one run:

1. starts ``qrcheckout serve`` as a separate process on a free loopback port, with a fixed test
   webhook secret and JWT secret and the built-in sandbox;
2. creates ``--warmup`` + ``--events`` orders (``POST /v1/orders``, one espresso, each with its
   own buyer's HS256 JWT), not timed;
3. forges and signs one ``checkout.session.completed`` event per order (``metadata.token_id`` =
   the order's ``token_id``, its amount and currency) before the clock starts;
4. posts the warm-up events, then the measured ones, to ``POST /v1/webhooks/stripe`` with
   ``--concurrency`` requests in flight (asyncio + ``httpx.AsyncClient``). Each is verified,
   stored, claimed, applied to the token and its order (completed), fulfilled (entitlements,
   the order.completed outbox) and published, in the server, before its 200;
5. checks that every order is ``completed`` (``GET /v1/orders/{id}``) and that each buyer has
   exactly one entitlement, for that order (``GET /v1/me/entitlements``);
6. posts the same number of the same payloads to ``POST /v1/webhooks/echo``, which only parses
   the JSON body and answers ``{"received": true}``: the cost of HTTP, the framework and the
   client, with no signature check and no database.

It prints events/s and p50/p99 latency per database and endpoint. This is a benchmark that
prints figures, not a test.

    .venv/bin/python bench/webhook_throughput.py
    .venv/bin/python bench/webhook_throughput.py --events 200 --concurrency 4
    .venv/bin/python bench/webhook_throughput.py --skip-postgres
    .venv/bin/python bench/webhook_throughput.py \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [{"product_id": "espresso", "quantity": 1}]
STRIPE_PATH = "/v1/webhooks/stripe"
ECHO_PATH = "/v1/webhooks/echo"

# The webhook is forged exactly as the tests forge it.
sys.path.insert(0, str(ROOT))
from tests.support.stripe_events import encode, session_event, signature  # noqa: E402

from bench_support import (  # noqa: E402
    WEBHOOK_SECRET,
    Load,
    Server,
    add_postgres_url,
    buyer_token,
    client_loop,
    exit_status,
    latency_columns,
    measure,
    on_each_database,
    pooled,
)


@dataclass
class Order:
    id: str
    token_id: str
    amount: int
    currency: str
    jwt: str
    payload: bytes = b""
    signature: str = ""


async def create_orders(client: httpx.AsyncClient, count: int, concurrency: int) -> list[Order]:
    orders: list[Order] = []

    async def create(i: int) -> None:
        token = buyer_token(f"bench-buyer-{i}-{secrets.token_hex(4)}")
        response = await client.post(
            "/v1/orders", json={"items": ITEMS}, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/orders: {response.status_code} {response.text[:300]}")
        body = response.json()
        if not body.get("token_id"):
            raise RuntimeError(f"POST /v1/orders gave no token_id: {body}")
        orders.append(Order(body["id"], body["token_id"], body["amount"], body["currency"], token))

    await pooled(list(range(count)), concurrency, create)
    return orders


def sign_events(orders: list[Order]) -> None:
    for order in orders:
        event = session_event(
            "checkout.session.completed",
            session_id="cs_bench_" + secrets.token_hex(12),
            token_id=order.token_id,
            amount_total=order.amount,
            currency=order.currency,
        )
        payload = encode(event)
        order.payload = payload.encode()
        order.signature = signature(payload, WEBHOOK_SECRET)


def stripe_ok(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    body = response.json()
    if body.get("status") != "processed" or body.get("duplicate") is not False:
        return f"not processed: {body}"
    return None


def echo_ok(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    body = response.json()
    if not isinstance(body, dict) or body.get("received") is not True:
        return f"unexpected answer: {response.text[:200]}"
    return None


async def post_all(
    client: httpx.AsyncClient,
    server: Server,
    path: str,
    orders: list[Order],
    concurrency: int,
    check: Callable[[httpx.Response], str | None],
) -> Load:
    def send(order: Order) -> Awaitable[httpx.Response]:
        headers = {"Stripe-Signature": order.signature, "Content-Type": "application/json"}
        return client.post(path, content=order.payload, headers=headers)

    load, _ = await measure(server, orders, concurrency, send, check, lambda o: o.id)
    return load


async def verify(client: httpx.AsyncClient, orders: list[Order], concurrency: int) -> list[str]:
    """Every order completed, its buyer holding exactly one entitlement, for that order."""
    problems: list[str] = []

    async def check(order: Order) -> None:
        response = await client.get(f"/v1/orders/{order.id}")
        if response.status_code != 200 or response.json().get("status") != "completed":
            problems.append(f"order {order.id}: {response.status_code} {response.text[:200]}")
        response = await client.get(
            "/v1/me/entitlements", headers={"Authorization": f"Bearer {order.jwt}"}
        )
        if response.status_code != 200:
            problems.append(f"entitlements of {order.id}: {response.status_code}")
            return
        granted = [e.get("order_id") for e in response.json().get("data", [])]
        if granted != [order.id]:
            problems.append(f"entitlements of {order.id}: {granted}")

    await pooled(orders, concurrency, check)
    return problems


@dataclass
class Row:
    database: str
    endpoint: str
    load: Load | None
    note: str = ""


async def bench_database(name: str, server: Server, args: argparse.Namespace) -> list[Row]:
    c = args.concurrency
    limits = httpx.Limits(max_connections=c + 4, max_keepalive_connections=c + 4)
    timeout = httpx.Timeout(args.timeout)
    rows: list[Row] = []
    async with httpx.AsyncClient(
        base_url=server.url, timeout=timeout, limits=limits, trust_env=False
    ) as client:
        started = time.monotonic()
        orders = await create_orders(client, args.warmup + args.events, c)
        print(f"  {len(orders)} orders created in {time.monotonic() - started:.1f} s", flush=True)
        sign_events(orders)
        warm, measured = orders[: args.warmup], orders[args.warmup :]

        warm_load = await post_all(client, server, STRIPE_PATH, warm, c, stripe_ok)
        load = await post_all(client, server, STRIPE_PATH, measured, c, stripe_ok)
        load.errors[:0] = [f"warm-up {e}" for e in warm_load.errors]
        problems = await verify(client, orders, c)
        note = (
            f"verified: {len(orders)} orders completed, one entitlement each"
            if not problems
            else f"VERIFICATION FAILED for {len(problems)} orders: {problems[:3]}"
        )
        print(f"  {note}", flush=True)
        rows.append(Row(name, STRIPE_PATH, load, "" if not problems else note))

        probe = await client.post(
            ECHO_PATH, content=b"{}", headers={"Content-Type": "application/json"}
        )
        if probe.status_code in (404, 405):
            rows.append(Row(name, ECHO_PATH, None, f"missing: {probe.status_code}"))
            return rows
        await post_all(client, server, ECHO_PATH, warm, c, echo_ok)
        rows.append(
            Row(name, ECHO_PATH, await post_all(client, server, ECHO_PATH, measured, c, echo_ok))
        )
    return rows


# -- reporting ---------------------------------------------------------------------------------


def report(rows: list[Row], args: argparse.Namespace) -> int:
    print()
    print(
        f"{args.events} measured requests per row (+{args.warmup} warm-up), "
        f"concurrency {args.concurrency}; latency in ms"
    )
    print()
    header = (
        f"{'database':<9} {'endpoint':<20} {'events/s':>9} {'p50':>8} {'p99':>8} "
        f"{'errors':>6} {'srv CPU ms/req':>15}"
    )
    print(header)
    print("-" * len(header))
    problems: list[str] = []
    for row in rows:
        load = row.load
        if load is None:
            print(f"{row.database:<9} {row.endpoint:<20} {'n/a':>9}   ({row.note})")
            problems.append(f"{row.database} {row.endpoint}: {row.note}")
            continue
        p50, p99 = latency_columns(load.latencies)
        cpu = f"{load.cpu * 1000 / args.events:15.2f}" if load.cpu is not None else f"{'-':>15}"
        print(
            f"{row.database:<9} {row.endpoint:<20} {load.rate:9.1f} {p50} {p99} "
            f"{len(load.errors):>6} {cpu}"
        )
        if load.errors:
            problems.append(f"{row.database} {row.endpoint}: {load.errors[:3]}")
        if row.note:
            problems.append(f"{row.database} {row.endpoint}: {row.note}")
    return exit_status(problems)


# -- driver ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Stripe webhook events processed per second, against a bare JSON endpoint."
    )
    parser.add_argument(
        "--events", type=int, default=1000, help="measured events per row (default 1000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="unmeasured requests before each row (default 20)"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="run SQLite only")
    add_postgres_url(parser)
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--events and --concurrency must be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _, loop = client_loop()
    print(
        f"qrcheckout webhook throughput: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, client loop {loop}",
        flush=True,
    )
    kinds = ["sqlite"] if args.skip_postgres else ["sqlite", "postgres"]
    runs = on_each_database(
        kinds, args.postgres_url, lambda kind, server: bench_database(kind, server, args)
    )
    return report([row for rows in runs for row in rows], args)


if __name__ == "__main__":
    raise SystemExit(main())
