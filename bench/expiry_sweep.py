"""Expiry: how much thousands of tokens ending in the same second delay the API.

For each database (a temporary SQLite file, then a fresh PostgreSQL database), one run:

1. starts ``qrcheckout serve`` as a separate process on a free loopback port;
2. **baseline**: ``--clients`` loops create tokens (``POST /v1/tokens``) one after another for
   ``--seconds``, nothing expiring;
3. writes ``--tokens`` live tokens straight into the database (not timed), all ending two
   seconds later, plus as many paid ones and static ones that the sweep must not walk;
4. **expiring**: the same load for ``--seconds`` + 3 while the service's sweep (every 0.5 s)
   turns them ``invalid``;
5. checks that every one of them expired, and how long after their end the last one did.

It prints the p50, p99 and largest latency of ``POST /v1/tokens`` in both phases, and how much
worse the expiring phase is (the goal: at most 50 ms at p99 for 10,000 tokens).

    .venv/bin/python bench/expiry_sweep.py
    .venv/bin/python bench/expiry_sweep.py --tokens 10000 --skip-postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bench_support import (  # noqa: E402
    API_KEY,
    add_postgres_url,
    client_loop,
    exit_status,
    fresh_database,
    latency_columns,
    percentile,
    running_server,
)
from qrcheckout.checkout.models import Token  # noqa: E402

BODY = {"items": [{"product_id": "espresso", "quantity": 1}]}


async def load(url: str, clients: int, seconds: float) -> list[float]:
    """Latencies (ms) of tokens created by ``clients`` loops for ``seconds``."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:

        async def loop() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = await client.post("/v1/tokens", json=BODY, headers=auth)
                answer.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies


async def seed(database_url: str, count: int, end_at: datetime) -> None:
    """``count`` live tokens ending at ``end_at``, and as many sold and static ones."""
    engine = create_async_engine(database_url)
    now = datetime.now(UTC)
    rows = []
    for status, kind, end in (
        ("inprogress", "temporary", end_at),
        ("success", "dynamic", now - timedelta(hours=1)),
        ("inprogress", "static", None),
    ):
        rows += [
            {
                "id": str(uuid.uuid4()),
                "merchant_id": "default",
                "kind": kind,
                "status": status,
                "created_at": now,
                "updated_at": now,
                "end_at": end,
                "amount_total": 250,
                "currency": "usd",
                "provider": "stripe",
                "paid_count": 0,
            }
            for _ in range(count)
        ]
    async with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(insert(Token.__table__), rows[start : start + 1000])
    await engine.dispose()


async def expired(database_url: str) -> int:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(Token).where(Token.status == "invalid")
        )
    await engine.dispose()
    return int(found or 0)


async def wait_expired(database_url: str, count: int, within: float) -> int:
    """How many tokens are expired once ``count`` are, or ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    done = await expired(database_url)
    for _ in range(int(within / 0.2)):
        if done >= count or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
        done = await expired(database_url)
    return done


async def run(kind: str, database_url: str, url: str, args: argparse.Namespace) -> list[str]:
    problems: list[str] = []
    quiet = await load(url, args.clients, args.seconds)
    end_at = datetime.now(UTC) + timedelta(seconds=2)
    await seed(database_url, args.tokens, end_at)
    busy = await load(url, args.clients, args.seconds + 3)
    done = await wait_expired(database_url, args.tokens, within=120)
    took = (datetime.now(UTC) - end_at).total_seconds()
    if done < args.tokens:
        problems.append(f"{kind}: {done} of {args.tokens} tokens expired within 120 s")
    print(f"  {'phase':26} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, latencies in (("nothing expiring", quiet), (f"{args.tokens} ending together", busy)):
        p50, p99 = latency_columns(latencies)
        print(f"  {name:26} {len(latencies):9} {p50} {p99} {max(latencies):8.2f}")
    worse = percentile(busy, 0.99) - percentile(quiet, 0.99)
    print(f"  p99 worse by {worse:.1f} ms; all {done} expired {took:.1f} s after their end")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--skip-postgres", action="store_true")
    add_postgres_url(parser)
    args = parser.parse_args()
    runner, loop_name = client_loop()
    print(
        f"expiry_sweep: {args.tokens} tokens ending together, {args.clients} clients creating "
        f"tokens; {platform.python_version()}, {os.cpu_count()} cores, client loop {loop_name}"
    )
    problems: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="qrc-bench-"))
    try:
        for kind in ["sqlite"] + ([] if args.skip_postgres else ["postgres"]):
            print(f"{kind}:", flush=True)
            source = None if kind == "sqlite" else args.postgres_url
            with (
                fresh_database(source, str(workdir)) as database_url,
                running_server(database_url, workdir, kind) as server,
            ):
                problems += runner(run(kind, database_url, server.url, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_status(problems)


if __name__ == "__main__":
    raise SystemExit(main())
