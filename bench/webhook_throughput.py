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
import asyncio
import contextlib
import math
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WEBHOOK_SECRET = "whsec_bench_" + "0123456789abcdef" * 2
JWT_SECRET = "bench-jwt-secret-" + "0123456789abcdef" * 2
API_KEY = "sk_qrcheckout_bench_" + "0123456789abcdef"
ITEMS = [{"product_id": "espresso", "quantity": 1}]
# Every order comes from one address, far past the default per-address limits: raised, not
# switched off, so each request still pays for being counted. A server without rate limits
# ignores these.
RATE_LIMITS = {
    "QRCHECKOUT_RATE_LIMIT_TOKENS": "1000000/minute",
    "QRCHECKOUT_RATE_LIMIT_AUTH_FAILURES": "1000000/minute",
}
STRIPE_PATH = "/v1/webhooks/stripe"
ECHO_PATH = "/v1/webhooks/echo"

# The webhook is forged exactly as the tests forge it.
sys.path.insert(0, str(ROOT))
from tests.support.stripe_events import encode, session_event, signature  # noqa: E402

from bench_support import fresh_database  # noqa: E402

# -- the server process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the server process has used so far (Linux only)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def running_server(database_url: str, workdir: Path, name: str) -> Iterator[Server]:
    """``qrcheckout serve`` on a free port; SIGTERM (then SIGKILL) however the run ends."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    data_dir = workdir / f"data-{name}"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
    env.update(
        {
            "QRCHECKOUT_DATABASE_URL": database_url,
            "QRCHECKOUT_PUBLIC_URL": url,
            "QRCHECKOUT_DATA_DIR": str(data_dir),
            "QRCHECKOUT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "QRCHECKOUT_JWT_SECRET": JWT_SECRET,
            "QRCHECKOUT_API_KEY": API_KEY,
            "NO_PROXY": "127.0.0.1,localhost",
            **RATE_LIMITS,
        }
    )
    executable = Path(sys.executable).with_name("qrcheckout")
    if not executable.exists():
        executable = ROOT / ".venv" / "bin" / "qrcheckout"
    log = workdir / f"serve-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(executable), "serve", "--host", HOST, "--port", str(port)],
            env=env,
            cwd=data_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{server.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not healthy within 60 s:\n{server.tail()}")
            time.sleep(0.1)
        yield server
    except BaseException:
        print(f"the server's log ends:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


# -- the workload ------------------------------------------------------------------------------


def buyer_token(sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 3600}, JWT_SECRET, "HS256")


@dataclass
class Order:
    id: str
    token_id: str
    amount: int
    currency: str
    jwt: str
    payload: bytes = b""
    signature: str = ""


@dataclass
class Load:
    """One measured phase: latencies of the requests that succeeded, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall > 0 else 0.0


async def pooled(
    items: list[Any], concurrency: int, work: Callable[[Any], Awaitable[None]]
) -> None:
    """Run ``work`` on every item, ``concurrency`` at a time; each worker takes the next item."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await work(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


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
    load = Load()

    async def post(order: Order) -> None:
        headers = {"Stripe-Signature": order.signature, "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            response = await client.post(path, content=order.payload, headers=headers)
        except httpx.HTTPError as exc:
            load.errors.append(f"{order.id}: {type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - started
        problem = check(response)
        if problem is None:
            load.latencies.append(elapsed * 1000)
        else:
            load.errors.append(f"{order.id}: {problem}")

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    await pooled(orders, concurrency, post)
    load.wall = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        load.cpu = cpu_after - cpu_before
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


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


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
        if load.latencies:
            p50 = f"{percentile(load.latencies, 0.5):8.2f}"
            p99 = f"{percentile(load.latencies, 0.99):8.2f}"
        else:
            p50 = p99 = f"{'-':>8}"
        cpu = f"{load.cpu * 1000 / args.events:15.2f}" if load.cpu is not None else f"{'-':>15}"
        print(
            f"{row.database:<9} {row.endpoint:<20} {load.rate:9.1f} {p50} {p99} "
            f"{len(load.errors):>6} {cpu}"
        )
        if load.errors:
            problems.append(f"{row.database} {row.endpoint}: {load.errors[:3]}")
        if row.note:
            problems.append(f"{row.database} {row.endpoint}: {row.note}")
    if problems:
        print()
        print("THE RUN HAD PROBLEMS")
        for problem in problems:
            print(f"  {problem}")
        return 1
    return 0


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
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing PostgreSQL database, used only to create and drop a fresh "
        "qrc_bench_* database (default postgresql://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--events and --concurrency must be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:
        uvloop = None
    runner = uvloop.run if uvloop else asyncio.run
    print(
        f"qrcheckout webhook throughput: Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, client loop {'uvloop' if uvloop else 'asyncio'}",
        flush=True,
    )
    kinds = ["sqlite"] if args.skip_postgres else ["sqlite", "postgres"]
    workdir = Path(tempfile.mkdtemp(prefix="qrc-bench-"))
    rows: list[Row] = []
    try:
        for kind in kinds:
            print(f"{kind}:", flush=True)
            with (
                fresh_database(
                    None if kind == "sqlite" else args.postgres_url, str(workdir)
                ) as database_url,
                running_server(database_url, workdir, kind) as server,
            ):
                rows += runner(bench_database(kind, server, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report(rows, args)


if __name__ == "__main__":
    raise SystemExit(main())
