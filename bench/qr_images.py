"""QR images: requests per second and the server's CPU per request, against ``/healthz``.

One run on a temporary SQLite file:

1. starts ``qrcheckout serve`` as a separate process on a free loopback port;
2. creates ``--requests`` tokens (not timed);
3. **first view**: ``GET /v1/tokens/{id}/qr.png`` once per token, each code drawn for the first
   time (what every request cost before codes were kept);
4. **again**: the same URL ``--requests`` times for one token (a desktop, a poster, a receipt
   showing the same code): drawn once, then kept;
5. **revalidated**: the same with ``If-None-Match``: 304, no body;
6. **/healthz** ``--requests`` times: the cost of HTTP, the framework and the client alone.

Each phase runs ``--concurrency`` requests in flight. It prints requests/s, p50/p99 latency and
the server's CPU milliseconds per request for each.

    .venv/bin/python bench/qr_images.py
    .venv/bin/python bench/qr_images.py --requests 500 --concurrency 8
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_support import (  # noqa: E402
    API_KEY,
    Load,
    Server,
    client_loop,
    exit_status,
    latency_columns,
    measure,
    on_each_database,
)


async def run(requests: int, concurrency: int, server: Server) -> list[tuple[str, Load]]:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, trust_env=False) as client:
        tokens = []
        for _ in range(requests + 1):
            made = await client.post(
                "/v1/tokens",
                json={"items": [{"product_id": "espresso", "quantity": 1}]},
                headers=auth,
            )
            made.raise_for_status()
            tokens.append(made.json()["id"])
        one = tokens[-1]
        first = await client.get(f"/v1/tokens/{one}/qr.png")
        tag = first.headers["etag"]

        def ok(status: int):  # type: ignore[no-untyped-def]
            return lambda r: None if r.status_code == status else f"status {r.status_code}"

        phases = [
            ("first view", tokens[:-1], lambda t: client.get(f"/v1/tokens/{t}/qr.png"), ok(200)),
            ("again", [one] * requests, lambda t: client.get(f"/v1/tokens/{t}/qr.png"), ok(200)),
            (
                "revalidated",
                [one] * requests,
                lambda t: client.get(f"/v1/tokens/{t}/qr.png", headers={"If-None-Match": tag}),
                ok(304),
            ),
            ("/healthz", [None] * requests, lambda _: client.get("/healthz"), ok(200)),
        ]
        results = []
        for name, items, send, check in phases:
            load, _ = await measure(server, items, concurrency, send, check)
            results.append((name, load))
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    _, loop_name = client_loop()
    print(
        f"qr_images: {args.requests} requests a phase, {args.concurrency} in flight; "
        f"{platform.python_version()}, {os.cpu_count()} cores, client loop {loop_name}"
    )
    [results] = on_each_database(
        ["sqlite"],
        "",
        lambda _kind, server: run(args.requests, args.concurrency, server),
    )
    problems: list[str] = []
    health = dict(results)["/healthz"].rate
    head = ("phase", "req/s", "of /healthz", "p50 ms", "p99 ms", "CPU ms/req")
    print(f"{head[0]:14} {head[1]:>8} {head[2]:>12} {head[3]:>8} {head[4]:>8} {head[5]:>11}")
    for name, load in results:
        p50, p99 = latency_columns(load.latencies)
        cpu = (
            f"{load.cpu * 1000 / len(load.latencies):11.2f}"
            if load.cpu and load.latencies
            else f"{'-':>11}"
        )
        share = f"{load.rate / health:11.0%}" if health else f"{'-':>11}"
        print(f"{name:14} {load.rate:8.1f} {share:>12} {p50} {p99} {cpu}")
        problems += [f"{name}: {error}" for error in load.errors[:5]]
    return exit_status(problems)


if __name__ == "__main__":
    raise SystemExit(main())
