"""Orders per second for a product with a capacity, against the same product without one.

A pending order holds its seats by one conditional ``UPDATE`` of the product's row (``held + q
<= capacity``), so every buyer of one ticketed product goes through that row's lock. This
measures what that costs: one run on a fresh PostgreSQL database (``--sqlite`` runs a temporary
SQLite file too) that

1. starts ``qrcheckout serve`` as a separate process on a free loopback port, with a fixed test
   API key and JWT secret and the built-in sandbox;
2. creates, with the merchant's key (``POST /v1/products``), pairs of products alike but for one
   thing: ``open`` has no limits, ``seats`` has a capacity of every order the run makes of it
   plus ``--spare``, so no order is refused and the figure is the cost of holding, not of
   refusing. One pair costs 25.00: each order is pending, holds its seat and opens its hosted
   checkout session at the provider (the built-in sandbox, in the same process) once its
   transaction has committed. The other pair is free: each order completes, and sells its seat,
   in its one transaction, with no provider call, so the database's part is all there is;
3. makes every buyer's HS256 JWT before the clock starts;
4. in each of ``--rounds`` rounds, and for each pair in turn, posts ``--orders`` orders of one
   unit of each product of the pair (``POST /v1/orders``, ``--concurrency`` in flight, 50 by
   default, each from its own buyer), after ``--warmup`` unmeasured ones. Which product of a
   pair goes first alternates from round to round, so drift of the machine's load falls on both;
5. checks that every order was ``201`` and ``pending`` (free: ``completed``), and that the
   products say so: ``reserved`` (free: ``sold``) equal to the orders made, and ``available``
   the rest;
6. then, not timed against the others, a last round for the last seats: ``--last`` seats
   left and ``--orders`` buyers at once; exactly ``--last`` orders are made and the rest are
   refused with ``409 sold_out`` and ``left: 0``.

It prints orders/s (the median over rounds), p50 and p99 latency over every measured order, the
server's CPU time per order, and the ratio of each ``seats`` to its ``open``. This is a
benchmark that prints figures, not a test.

    .venv/bin/python bench/ticket_orders.py
    .venv/bin/python bench/ticket_orders.py --orders 1000 --rounds 5 --concurrency 50
    .venv/bin/python bench/ticket_orders.py --sqlite
    .venv/bin/python bench/ticket_orders.py \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench_support import (
    API_KEY,
    Load,
    Server,
    add_postgres_url,
    buyer_token,
    client_loop,
    exit_status,
    latency_columns,
    measure,
    on_each_database,
)

LAST = "last-seats"
PRICE = 2500
MERCHANT = {"Authorization": f"Bearer {API_KEY}"}


@dataclass(frozen=True)
class Product:
    id: str
    unit_amount: int
    limited: bool

    @property
    def status(self) -> str:
        """What a new order of it is."""
        return "pending" if self.unit_amount else "completed"

    @property
    def label(self) -> str:
        price = "25.00" if self.unit_amount else "free"
        return f"{price}, {'capacity, never full' if self.limited else 'no capacity'}"


PAIRS = (
    (Product("open", PRICE, False), Product("seats", PRICE, True)),
    (Product("free-open", 0, False), Product("free-seats", 0, True)),
)


@dataclass
class Row:
    """One product's measured rounds."""

    product: Product
    loads: list[Load] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return [ms for load in self.loads for ms in load.latencies]

    @property
    def errors(self) -> list[str]:
        return [error for load in self.loads for error in load.errors]

    @property
    def rate(self) -> float:
        return statistics.median(load.rate for load in self.loads)

    @property
    def cpu_per_order(self) -> float | None:
        cpu = [load.cpu for load in self.loads]
        orders = sum(len(load.latencies) for load in self.loads)
        if None in cpu or not orders:
            return None
        return sum(c for c in cpu if c is not None) * 1000 / orders


@dataclass
class Result:
    database: str
    rows: list[Row]
    last: Load
    problems: list[str]


def buyers(count: int) -> list[str]:
    tag = secrets.token_hex(4)
    return [buyer_token(f"bench-ticket-{tag}-{i}") for i in range(count)]


async def add_products(client: httpx.AsyncClient, capacity: int, last: int) -> None:
    made = [(p.id, p.unit_amount, capacity if p.limited else None) for pair in PAIRS for p in pair]
    for product, price, limit in [*made, (LAST, PRICE, last)]:
        body: dict[str, Any] = {"id": product, "name": f"Bench {product}", "unit_amount": price}
        if limit is not None:
            body["capacity"] = limit
        response = await client.post("/v1/products", json=body, headers=MERCHANT)
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/products: {response.status_code} {response.text[:300]}")


async def order_all(
    client: httpx.AsyncClient,
    server: Server,
    product: Product,
    jwts: list[str],
    concurrency: int,
) -> tuple[Load, list[httpx.Response]]:
    """One order of one ``product`` per JWT; the successes' latencies, every answer."""
    body = {"items": [{"product_id": product.id, "quantity": 1}]}

    def send(jwt: str) -> Awaitable[httpx.Response]:
        return client.post("/v1/orders", json=body, headers={"Authorization": f"Bearer {jwt}"})

    def check(response: httpx.Response) -> str | None:
        if response.status_code == 201 and response.json().get("status") == product.status:
            return None
        return f"{response.status_code} {response.text[:200]}"

    return await measure(server, jwts, concurrency, send, check, lambda _: product.id)


async def product_counts(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/products", params={"limit": 100}, headers=MERCHANT)
    response.raise_for_status()
    return {p["id"]: p for p in response.json()["data"]}


def check_counts(
    listed: dict[str, dict[str, Any]], product: str, sold: int, reserved: int, available: int
) -> str | None:
    seen = {key: listed[product].get(key) for key in ("sold", "reserved", "available")}
    wanted = {"sold": sold, "reserved": reserved, "available": available}
    return None if seen == wanted else f"{product}: {seen}, not {wanted}"


async def bench_database(name: str, server: Server, args: argparse.Namespace) -> Result:
    c = args.concurrency
    per_product = args.rounds * (args.warmup + args.orders)
    capacity = per_product + args.spare
    limits = httpx.Limits(max_connections=c + 4, max_keepalive_connections=c + 4)
    problems: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.url, timeout=httpx.Timeout(args.timeout), limits=limits, trust_env=False
    ) as client:
        await add_products(client, capacity, args.last)
        rows = {p: Row(p) for pair in PAIRS for p in pair}
        jwts = buyers(len(rows) * per_product + args.orders)
        for round_ in range(args.rounds):
            for pair in PAIRS:
                for product in pair if round_ % 2 == 0 else reversed(pair):
                    warm = [jwts.pop() for _ in range(args.warmup)]
                    measured = [jwts.pop() for _ in range(args.orders)]
                    warm_load, _ = await order_all(client, server, product, warm, c)
                    load, _ = await order_all(client, server, product, measured, c)
                    load.errors[:0] = [f"warm-up {e}" for e in warm_load.errors]
                    rows[product].loads.append(load)
                    print(
                        f"  round {round_ + 1} {product.id:<10} {load.rate:8.1f} orders/s, "
                        f"{len(load.errors)} errors",
                        flush=True,
                    )

        last_seats = Product(LAST, PRICE, True)
        last, answers = await order_all(client, server, last_seats, jwts, c)
        statuses = [a.status_code for a in answers]
        refused = [a.json().get("error", {}) for a in answers if a.status_code == 409]
        if statuses.count(201) != args.last or len(refused) != len(jwts) - args.last:
            problems.append(
                f"{LAST}: {statuses.count(201)} made and {len(refused)} refused of {len(jwts)}, "
                f"not {args.last} and {len(jwts) - args.last}"
            )
        if {(r.get("code"), r.get("left")) for r in refused} - {("sold_out", 0)}:
            problems.append(f"{LAST}: refused with {refused[:3]}, not sold_out with 0 left")

        listed = await product_counts(client)
        # Every order holds its seat, warm-up ones too; one that failed is already a problem.
        checks = [check_counts(listed, LAST, 0, args.last, 0)]
        for product, row in rows.items():
            if row.errors:
                problems.append(f"{product.id}: {len(row.errors)} errors, {row.errors[:3]}")
            if product.limited:
                made = per_product - len(row.errors)
                sold, held = (0, made) if product.unit_amount else (made, 0)
                checks.append(check_counts(listed, product.id, sold, held, capacity - made))
        problems += [problem for problem in checks if problem is not None]
    verdict = "verified" if not problems else "VERIFICATION FAILED"
    print(f"  {verdict}: seats and last seats counted as the orders made", flush=True)
    return Result(name, list(rows.values()), last, problems)


def report(results: list[Result], args: argparse.Namespace) -> int:
    print()
    print(
        f"{args.orders} measured orders per product and round (+{args.warmup} warm-up), "
        f"{args.rounds} rounds, concurrency {args.concurrency}; orders/s is the median over "
        "rounds, latency in ms over every measured order"
    )
    print()
    header = (
        f"{'database':<9} {'product':<31} {'orders/s':>9} {'p50':>8} {'p99':>8} "
        f"{'errors':>6} {'srv CPU ms/order':>17} {'vs open':>8}"
    )
    print(header)
    print("-" * len(header))
    problems: list[str] = []
    for result in results:
        baseline = 0.0
        for row in result.rows:
            if not row.product.limited:
                baseline = row.rate
            p50, p99 = latency_columns(row.latencies)
            cpu = row.cpu_per_order
            print(
                f"{result.database:<9} {row.product.label:<31} {row.rate:9.1f} {p50} {p99} "
                f"{len(row.errors):>6} {f'{cpu:.2f}' if cpu is not None else '-':>17} "
                f"{row.rate / baseline if baseline else 0:8.2f}"
            )
        last = result.last
        print(
            f"{result.database:<9} {f'25.00, last {args.last} seats':<31} "
            f"{(len(last.latencies) + len(last.errors)) / last.wall:9.1f}   "
            f"({len(last.latencies)} made, {len(last.errors)} refused sold_out, in "
            f"{last.wall * 1000:.0f} ms)"
        )
        problems += [f"{result.database} {p}" for p in result.problems]
    return exit_status(problems)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Orders per second for a product with a capacity, against one without."
    )
    parser.add_argument(
        "--orders", type=int, default=500, help="measured orders per product and round (500)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument(
        "--concurrency", type=int, default=50, help="buyers ordering at once (default 50)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="unmeasured orders before each (default 20)"
    )
    parser.add_argument(
        "--spare", type=int, default=100, help="seats left over at the end (default 100)"
    )
    parser.add_argument(
        "--last", type=int, default=10, help="seats left for the last round (default 10)"
    )
    parser.add_argument("--sqlite", action="store_true", help="run SQLite too, first")
    add_postgres_url(parser)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per HTTP request (default 60)"
    )
    args = parser.parse_args(argv)
    if min(args.orders, args.rounds, args.concurrency) < 1 or min(args.warmup, args.spare) < 0:
        parser.error("--orders, --rounds and --concurrency must be positive")
    if not 0 <= args.last < args.orders:
        parser.error("--last must be at least 0 and fewer than --orders")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _, loop = client_loop()
    print(
        f"qrcheckout ticket orders: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, client loop {loop}",
        flush=True,
    )
    kinds = ["sqlite", "postgres"] if args.sqlite else ["postgres"]
    results = on_each_database(
        kinds, args.postgres_url, lambda kind, server: bench_database(kind, server, args)
    )
    return report(results, args)


if __name__ == "__main__":
    raise SystemExit(main())
