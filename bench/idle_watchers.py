"""Idle watchers: what each connected watcher that waits for news costs the server.

One run:

1. starts ``qrcheckout serve`` as a separate process on a fresh SQLite file (or a fresh
   PostgreSQL database), configured as ``webhook_throughput.py`` configures it;
2. creates ``--tokens`` static tokens (a static code never expires, like a café table's);
3. measures the server with no watcher: its resident memory, its CPU use over
   ``--idle-seconds``, and ``/healthz`` answered ``--probes`` times one after another;
4. connects ``--watchers`` watchers, taking turns between SSE (``/v1/tokens/{id}/events``)
   and WebSocket (``/v1/tokens/{id}/ws``), spread over the tokens; each reads the token's
   first state and then only waits (keepalives are read and dropped);
5. measures the same three figures with every watcher connected, and prints both columns and
   the memory each watcher costs: (resident memory with them - without) / watchers.

The client runs in this process, the server in its own. Both lift their open-file limit to the
machine's hard limit, which bounds the number of watchers (one file each, on both sides).

    .venv/bin/python bench/idle_watchers.py                      # 10,000 watchers, SQLite
    .venv/bin/python bench/idle_watchers.py --watchers 19000
    .venv/bin/python bench/idle_watchers.py --transport ws
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_support import (  # noqa: E402
    API_KEY,
    Server,
    client_loop,
    exit_status,
    fresh_database,
    percentile,
    running_server,
)
from watch_latency import raise_fd_limit, raw_sse_lines  # noqa: E402

# Files the client keeps for itself (the event loop, the HTTP client's pool, stdio).
SPARE_FILES = 200


class Watchers:
    """The connected watchers: each is a task that reads until it is cancelled."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.tasks: list[asyncio.Task[None]] = []
        self.failures: list[str] = []

    async def sse(self, token_id: str, ready: asyncio.Event) -> None:
        path = f"/v1/tokens/{token_id}/events"
        async with contextlib.aclosing(raw_sse_lines(self.host, self.port, path)) as lines:
            async for line in lines:
                if line.startswith(b"data:") and not ready.is_set():
                    if json.loads(line[5:]).get("status") != "inprogress":
                        raise RuntimeError(f"unexpected first state: {line[:200]!r}")
                    ready.set()
        raise RuntimeError("the stream ended")

    async def ws(self, token_id: str, ready: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        ws_url = f"ws://{self.host}:{self.port}/v1/tokens/{token_id}/ws"
        async with connect(ws_url, proxy=None, open_timeout=120, ping_interval=None) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "token" and not ready.is_set():
                    if message["data"].get("status") != "inprogress":
                        raise RuntimeError(f"unexpected first state: {raw[:200]!r}")
                    ready.set()
        raise RuntimeError("the socket closed")

    async def connect(self, token_ids: list[str], kinds: list[str], concurrency: int) -> float:
        """Connect one watcher per kind, round the tokens; returns the seconds it took."""
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()

        async def one(index: int, kind: str) -> None:
            ready = asyncio.Event()
            async with gate:
                watch = self.sse if kind == "sse" else self.ws
                task = asyncio.create_task(watch(token_ids[index % len(token_ids)], ready))
                self.tasks.append(task)
                done = asyncio.create_task(ready.wait())
                await asyncio.wait({task, done}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.is_set():
                    done.cancel()
                    self.failures.append(f"{kind} watcher {index}: {task.exception()!r}")

        await asyncio.gather(*(one(i, kind) for i, kind in enumerate(kinds)))
        return time.perf_counter() - started

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def lost(self) -> int:
        """Watchers whose connection ended while they were meant to be idle."""
        return sum(1 for task in self.tasks if task.done() and not task.cancelled())


def resident_kib(server: Server) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc")


async def healthz(client: httpx.AsyncClient, probes: int) -> tuple[float, float]:
    """``/healthz`` p50 and p99 in ms, asked ``probes`` times one after another."""
    times = []
    for _ in range(probes):
        started = time.perf_counter()
        response = await client.get("/healthz")
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"/healthz answered {response.status_code}")
    return percentile(times, 0.5), percentile(times, 0.99)


async def idle_cpu(server: Server, seconds: float) -> float:
    """The server's CPU use while nothing is asked of it, in percent of one core."""
    before = server.cpu_seconds() or 0.0
    await asyncio.sleep(seconds)
    return 100 * ((server.cpu_seconds() or 0.0) - before) / seconds


async def measure(server: Server, client: httpx.AsyncClient, args: argparse.Namespace) -> dict:
    await asyncio.sleep(args.settle)
    cpu = await idle_cpu(server, args.idle_seconds)
    p50, p99 = await healthz(client, args.probes)
    return {"rss": resident_kib(server), "cpu": cpu, "p50": p50, "p99": p99}


async def bench(server: Server, args: argparse.Namespace) -> list[str]:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(
        base_url=server.url, timeout=60, trust_env=False, headers=auth
    ) as client:
        token_ids = []
        for _ in range(args.tokens):
            made = await client.post("/v1/tokens", json={"kind": "static"})
            if made.status_code != 201:
                raise RuntimeError(f"POST /v1/tokens: {made.status_code} {made.text[:200]}")
            token_ids.append(made.json()["id"])
        without = await measure(server, client, args)
        kinds = (
            ["sse", "ws"] * (args.watchers // 2 + 1)
            if args.transport == "mixed"
            else [args.transport] * args.watchers
        )[: args.watchers]
        watchers = Watchers(server.url)
        try:
            took = await watchers.connect(token_ids, kinds, args.connect_concurrency)
            print(f"  {args.watchers:,} watchers connected in {took:.1f} s", flush=True)
            with_them = await measure(server, client, args)
            lost = watchers.lost()
        finally:
            await watchers.close()
    per_watcher = (with_them["rss"] - without["rss"]) / args.watchers
    print()
    print(f"{'figure':<28}{'no watcher':>14}{f'{args.watchers:,} watchers':>18}")
    print("-" * 60)
    rows = [
        ("server resident memory MiB", without["rss"] / 1024, with_them["rss"] / 1024, ".1f"),
        ("idle CPU % of one core", without["cpu"], with_them["cpu"], ".1f"),
        ("/healthz p50 ms", without["p50"], with_them["p50"], ".2f"),
        ("/healthz p99 ms", without["p99"], with_them["p99"], ".2f"),
    ]
    for name, before, after, fmt in rows:
        print(f"{name:<28}{before:>14{fmt}}{after:>18{fmt}}")
    print(f"\nmemory per watcher: {per_watcher:.1f} KiB ({args.transport})")
    problems = list(watchers.failures[:10])
    if watchers.failures:
        problems.append(f"{len(watchers.failures)} watchers could not connect")
    if lost:
        problems.append(f"{lost} watchers were disconnected while idle")
    return problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="What each idle watcher costs the server.")
    parser.add_argument("--watchers", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--tokens", type=int, default=100, help="tokens watched (default 100)")
    parser.add_argument(
        "--transport", choices=["mixed", "sse", "ws"], default="mixed", help="default mixed"
    )
    parser.add_argument(
        "--connect-concurrency", type=int, default=200, help="connecting at once (default 200)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20, help="CPU measured over (default 20)"
    )
    parser.add_argument("--probes", type=int, default=500, help="/healthz probes (default 500)")
    parser.add_argument(
        "--settle", type=float, default=5, help="seconds before measuring (default 5)"
    )
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)
    if args.watchers < 1 or args.tokens < 1:
        parser.error("--watchers and --tokens must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit = raise_fd_limit()
    if args.watchers > limit - SPARE_FILES:
        raise SystemExit(
            f"{args.watchers:,} watchers need as many open files; this machine allows "
            f"{resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,} a process"
        )
    run, loop = client_loop()
    print(
        f"qrcheckout idle watchers: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"client loop {loop}, open files {limit:,}, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="qrc-idle-") as workdir,
        fresh_database(args.database_url, workdir) as database_url,
        running_server(database_url, Path(workdir), "idle", **RAISED_LIMITS) as server,
    ):
        return exit_status(run(bench(server, args)))


# Every token comes from one address: the per-address limits are raised out of reach.
RAISED_LIMITS = {"rate_limit_scans_per_ip": "1000000/minute"}

if __name__ == "__main__":
    raise SystemExit(main())
