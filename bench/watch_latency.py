"""Webhook-to-watcher latency: how long after a payment is settled every watcher hears of it.

For each watcher count N (1, 100 and 1,000 by default) and a number of rounds, one round:

1. creates a token (``POST /v1/tokens``) and scans it (``GET /t/{id}``) for a session id;
2. connects N watchers to it, a third each over SSE (``GET /v1/tokens/{id}/events``), WebSocket
   (``/v1/tokens/{id}/ws``) and a GraphQL subscription (``/v1/graphql``, graphql-transport-ws,
   the first design's ``TokenCreated``), and waits until each has the ``inprogress`` state;
3. posts a signed ``checkout.session.completed`` event to ``POST /v1/webhooks/stripe``, noting
   when the request was sent and when its 200 came back ("accepted");
4. notes when each watcher receives the ``success`` state, and checks that its stream then ends.

It prints p50, p99 and max of (received - sent) and (received - accepted) over every watcher of
every round. The server is the real app under uvicorn in a separate process (this file, run with
``--serve``), so the watchers' client load does not share the server's event loop; both still
share the machine's cores. This is a benchmark that prints figures, not a test.

    .venv/bin/python bench/watch_latency.py
    .venv/bin/python bench/watch_latency.py --watchers 1,100 --rounds 10,10
    .venv/bin/python bench/watch_latency.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With ``--database-url`` the URL names an existing database used only to create (and afterwards
drop) a fresh ``qrc_bench_*`` database on the same server; nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WEBHOOK_SECRET = "whsec_bench_" + "0123456789abcdef" * 2
ITEMS = [{"product_id": "espresso", "quantity": 1}]
TRANSPORTS = ("sse", "ws", "gql")
# The first design's subscription, as a Hasura front-end sends it.
TOKEN_CREATED = "subscription TokenCreated($id: uuid!) { token_by_pk(id: $id) { id status } }"
# Every round creates and scans a token from one address, past the default per-address limits
# in a long run: raised, not switched off, so each request still pays for being counted. A
# server without rate limits ignores them.
RATE_LIMITS = {
    "rate_limit_tokens": "1000000/minute",
    "rate_limit_scans_per_ip": "1000000/minute",
}

# The webhook is forged exactly as the tests forge it.
sys.path.insert(0, str(ROOT))
from tests.support.stripe_events import encode, session_event, signature  # noqa: E402

from bench_support import fresh_database, serving  # noqa: E402

# -- the server process ------------------------------------------------------------------------


def serve(fd: int, database_url: str, bus_url: str, data_dir: str) -> None:
    """Run the app under uvicorn on the already-bound listening socket ``fd``."""
    import uvicorn

    sys.path.insert(0, str(ROOT / "src"))
    from qrcheckout.app import create_app
    from qrcheckout.config import Settings

    raise_fd_limit()
    sock = socket.socket(fileno=fd)
    port = sock.getsockname()[1]
    settings = Settings(
        database_url=database_url,
        public_url=f"http://{HOST}:{port}",
        stripe_webhook_secret=WEBHOOK_SECRET,
        bus_url=bus_url,
        data_dir=Path(data_dir),
        **RATE_LIMITS,
    )
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=4096,
        timeout_graceful_shutdown=2,
        ws_per_message_deflate=False,  # as qrcheckout serve runs it
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def running_server(database_url: str, bus_url: str, data_dir: str) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    fd = sock.fileno()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        str(fd),
        "--database-url",
        database_url,
        "--bus-url",
        bus_url,
        "--data-dir",
        data_dir,
    ]
    proc = subprocess.Popen(command, pass_fds=[fd], env=env, cwd=data_dir)
    sock.close()  # the child holds its own copy
    url = f"http://{HOST}:{port}"
    with serving(proc, url):
        yield url


# -- forging the webhook -----------------------------------------------------------------------


def signed_completed_event(token: dict[str, Any], session_id: str) -> tuple[bytes, str]:
    event = session_event(
        "checkout.session.completed",
        session_id=session_id,
        token_id=token["id"],
        amount_total=token["amount_total"],
        currency=token["currency"],
    )
    payload = encode(event)
    return payload.encode(), signature(payload, WEBHOOK_SECRET)


# -- one round ---------------------------------------------------------------------------------


class WatcherError(Exception):
    pass


@dataclass
class Clients:
    """``ctl`` for the shop's own requests; ``sse`` is None for the bare SSE client."""

    ctl: httpx.AsyncClient
    sse: httpx.AsyncClient | None
    host: str
    port: int

    @property
    def ws_base(self) -> str:
        return f"ws://{self.host}:{self.port}"


@dataclass
class Round:
    n: int
    ready: int = 0
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once every watcher is ready or one has failed: the end of the connect phase.
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    received: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def mark_ready(self) -> None:
        self.ready += 1
        if self.ready == self.n:
            self.all_ready.set()
            self.settled.set()

    def fail(self, index: int, transport: str, exc: BaseException) -> None:
        self.errors.append(f"watcher {index} ({transport}): {type(exc).__name__}: {exc}")
        self.settled.set()


def on_state(rnd: Round, index: int, state: dict[str, Any], at: float, seen: set[str]) -> None:
    status = state.get("status")
    if status == "inprogress" and "inprogress" not in seen:
        rnd.mark_ready()
    elif status == "success" and index not in rnd.received:
        rnd.received[index] = at
    elif status != "inprogress":
        raise WatcherError(f"unexpected state {status!r}")
    seen.add(str(status))


async def raw_sse_lines(host: str, port: int, path: str) -> AsyncIterator[bytes]:
    """The lines of an SSE response, read with a bare HTTP/1.1 client (chunked or not)."""
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"Cache-Control: no-cache\r\nConnection: close\r\n\r\n".encode()
        )
        status = (await reader.readline()).split(None, 2)
        if len(status) < 2 or status[1] != b"200":
            raise WatcherError(f"SSE answered {b' '.join(status[1:]).decode(errors='replace')}")
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        chunked = "chunked" in headers.get("transfer-encoding", "")
        buffer = b""
        while True:
            if chunked:
                size_line = await reader.readline()
                if not size_line:
                    raise WatcherError("the connection closed inside a chunked body")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    break
                data = await reader.readexactly(size)
                await reader.readexactly(2)
            else:
                data = await reader.read(65536)
                if not data:
                    break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
        if buffer:
            yield buffer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def sse_data_lines(clients: Clients, token_id: str) -> AsyncIterator[bytes]:
    path = f"/v1/tokens/{token_id}/events"
    if clients.sse is None:
        async with contextlib.aclosing(raw_sse_lines(clients.host, clients.port, path)) as lines:
            async for line in lines:
                if line.startswith(b"data:"):
                    yield line[5:]
        return
    async with clients.sse.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
        if response.status_code != 200:
            raise WatcherError(f"SSE answered {response.status_code}")
        async for text in response.aiter_lines():
            if text.startswith("data:"):
                yield text[5:].encode()


async def sse_watcher(
    clients: Clients, token_id: str, index: int, rnd: Round, gate: asyncio.Semaphore
) -> None:
    seen: set[str] = set()
    await gate.acquire()
    held = True
    try:
        async with contextlib.aclosing(sse_data_lines(clients, token_id)) as data_lines:
            async for data in data_lines:
                at = time.perf_counter()  # before parsing, so parse time is not counted
                on_state(rnd, index, json.loads(data), at, seen)
                if held:
                    gate.release()
                    held = False
        if index not in rnd.received:
            raise WatcherError("the stream ended without a success state")
    except Exception as exc:
        rnd.fail(index, "sse", exc)
    finally:
        if held:
            gate.release()


async def ws_watcher(
    clients: Clients, token_id: str, index: int, rnd: Round, gate: asyncio.Semaphore
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedOK

    seen: set[str] = set()
    await gate.acquire()
    held = True
    try:
        async with connect(
            f"{clients.ws_base}/v1/tokens/{token_id}/ws",
            proxy=None,
            open_timeout=60,
            close_timeout=5,
            ping_interval=None,
        ) as ws:
            try:
                async for raw in ws:
                    at = time.perf_counter()
                    message = json.loads(raw)
                    if message.get("type") != "token":
                        raise WatcherError(f"unexpected message {message!r:.200}")
                    on_state(rnd, index, message["data"], at, seen)
                    if held:
                        gate.release()
                        held = False
            except ConnectionClosedOK:
                pass
        if index not in rnd.received:
            raise WatcherError("the socket closed without a success state")
    except Exception as exc:
        rnd.fail(index, "ws", exc)
    finally:
        if held:
            gate.release()


async def gql_watcher(
    clients: Clients, token_id: str, index: int, rnd: Round, gate: asyncio.Semaphore
) -> None:
    """A GraphQL subscription over ``graphql-transport-ws``; it stays open after ``success``
    (a live query lasts until its client ends it), so the watcher leaves once it has it."""
    from websockets.asyncio.client import connect

    seen: set[str] = set()
    await gate.acquire()
    held = True
    try:
        async with connect(
            f"{clients.ws_base}/v1/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            proxy=None,
            open_timeout=60,
            close_timeout=5,
            ping_interval=None,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise WatcherError(f"no connection_ack: {ack!r:.200}")
            query = {"query": TOKEN_CREATED, "variables": {"id": token_id}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": query}))
            async for raw in ws:
                at = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") != "next":
                    raise WatcherError(f"unexpected message {message!r:.200}")
                on_state(rnd, index, message["payload"]["data"]["token_by_pk"], at, seen)
                if held:
                    gate.release()
                    held = False
                if index in rnd.received:
                    break
        if index not in rnd.received:
            raise WatcherError("the socket closed without a success state")
    except Exception as exc:
        rnd.fail(index, "gql", exc)
    finally:
        if held:
            gate.release()


WATCHERS = {"sse": sse_watcher, "ws": ws_watcher, "gql": gql_watcher}


@dataclass
class RoundResult:
    transports: list[str]
    from_sent: list[float]
    from_accepted: list[float]
    webhook_rtt: float
    connect: float


async def run_round(
    clients: Clients, n: int, transports: list[str], args: argparse.Namespace
) -> RoundResult:
    ctl = clients.ctl
    response = await ctl.post("/v1/tokens", json={"items": ITEMS})
    if response.status_code != 201:
        raise RuntimeError(f"creating a token: {response.status_code} {response.text[:300]}")
    token = response.json()
    response = await ctl.get(f"/t/{token['id']}", follow_redirects=False)
    if response.status_code != 303:
        raise RuntimeError(f"scanning a token: {response.status_code} {response.text[:300]}")
    session_id = httpx.URL(response.headers["location"]).path.rstrip("/").rsplit("/", 1)[-1]

    rnd = Round(n)
    gate = asyncio.Semaphore(args.connect_concurrency)
    connecting = time.perf_counter()
    tasks = [
        asyncio.create_task(WATCHERS[transport](clients, token["id"], i, rnd, gate))
        for i, transport in enumerate(transports)
    ]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.connect_timeout):
                await rnd.settled.wait()
        if not rnd.all_ready.is_set():
            raise RuntimeError(
                f"only {rnd.ready}/{n} watchers got the initial state within "
                f"{args.connect_timeout} s; {rnd.errors[:3]}"
            )
        connected = time.perf_counter()
        payload, signature = signed_completed_event(token, session_id)
        headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
        sent = time.perf_counter()
        response = await ctl.post("/v1/webhooks/stripe", content=payload, headers=headers)
        accepted = time.perf_counter()
        if response.status_code != 200 or response.json().get("status") != "processed":
            raise RuntimeError(f"webhook: {response.status_code} {response.text[:300]}")
        _, pending = await asyncio.wait(tasks, timeout=args.delivery_timeout)
        if pending:
            raise RuntimeError(
                f"{len(pending)}/{n} watchers not done {args.delivery_timeout} s after the "
                f"webhook ({len(rnd.received)} got success); {rnd.errors[:3]}"
            )
        if rnd.errors:
            raise RuntimeError(f"{len(rnd.errors)} watcher(s) failed: {rnd.errors[:3]}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    times = [rnd.received[i] for i in range(n)]
    return RoundResult(
        transports=transports,
        from_sent=[(t - sent) * 1000 for t in times],
        from_accepted=[(t - accepted) * 1000 for t in times],
        webhook_rtt=(accepted - sent) * 1000,
        connect=connected - connecting,
    )


# -- reporting ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Series:
    n: int
    rounds: list[RoundResult] = field(default_factory=list)

    def samples(self, transport: str | None, attr: str) -> list[float]:
        return [
            value
            for r in self.rounds
            for t, value in zip(r.transports, getattr(r, attr), strict=True)
            if transport is None or t == transport
        ]


def stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    return f"{percentile(values, 0.5):8.2f} {percentile(values, 0.99):8.2f} {max(values):8.2f}"


def report(series: list[Series]) -> None:
    print()
    print("Webhook -> watcher latency, milliseconds (p50 / p99 / max over all watcher samples)")
    print()
    header = (
        f"{'watchers':>8}  {'transport':<9} {'rounds':>6} {'samples':>7}   "
        f"{'from webhook sent':^26}   {'from webhook accepted (200)':^26}"
    )
    sub = (
        f"{'':>8}  {'':<9} {'':>6} {'':>7}   "
        f"{'p50':>8} {'p99':>8} {'max':>8}   {'p50':>8} {'p99':>8} {'max':>8}"
    )
    print(header)
    print(sub)
    print("-" * len(sub))
    for s in series:
        for transport in (*TRANSPORTS, None):
            sent = s.samples(transport, "from_sent")
            if not sent:
                continue
            accepted = s.samples(transport, "from_accepted")
            print(
                f"{s.n:>8}  {transport or 'all':<9} {len(s.rounds):>6} {len(sent):>7}   "
                f"{stats(sent)}   {stats(accepted)}"
            )
    print()
    print("Per round: the webhook's own round trip (sent -> 200) and the last watcher of the")
    print("round to hear of it (from sent), in milliseconds; the time for all N watchers to")
    print("connect and get the initial state, in seconds")
    print()
    sub = (
        f"{'watchers':>8}  {'rounds':>6}   {'webhook round trip, ms':^26}   "
        f"{'last watcher, ms':^26}   {'connect all, s':^17}"
    )
    print(sub)
    print(
        f"{'':>8}  {'':>6}   {'p50':>8} {'p99':>8} {'max':>8}   {'p50':>8} {'p99':>8} "
        f"{'max':>8}   {'p50':>8} {'max':>8}"
    )
    print("-" * len(sub))
    for s in series:
        rtt = [r.webhook_rtt for r in s.rounds]
        last = [max(r.from_sent) for r in s.rounds]
        connect = [r.connect for r in s.rounds]
        print(
            f"{s.n:>8}  {len(s.rounds):>6}   {stats(rtt)}   {stats(last)}   "
            f"{percentile(connect, 0.5):8.2f} {max(connect):8.2f}"
        )
    print()
    print("A negative 'from accepted' figure means the watcher heard of the payment before the")
    print("webhook's 200 reached the sender: the server publishes on commit, before it answers.")


# -- driver ------------------------------------------------------------------------------------


def transports_for(mode: str, n: int, round_index: int) -> list[str]:
    if mode != "mixed":
        return [mode] * n
    # Alternate SSE, WebSocket and GraphQL; shifting by round lets N=1 use each across rounds.
    return [TRANSPORTS[(i + round_index) % len(TRANSPORTS)] for i in range(n)]


@contextlib.asynccontextmanager
async def open_clients(url: str, args: argparse.Namespace) -> AsyncIterator[Clients]:
    base = httpx.URL(url)
    assert base.host and base.port
    timeout = httpx.Timeout(120.0, connect=60.0, pool=120.0)
    size = max(args.watchers) + 16
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with contextlib.AsyncExitStack() as stack:
        ctl = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, timeout=timeout, trust_env=False)
        )
        sse = None
        if args.sse_client == "httpx":
            sse = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, trust_env=False)
            )
        yield Clients(ctl, sse, base.host, base.port)


async def bench(url: str, args: argparse.Namespace) -> list[Series]:
    results: list[Series] = []
    async with open_clients(url, args) as clients:
        for n, rounds in zip(args.watchers, args.rounds, strict=True):
            series = Series(n)
            started = time.monotonic()
            for r in range(args.warmup + rounds):
                transports = transports_for(args.transport, n, r)
                result = await asyncio.wait_for(
                    run_round(clients, n, transports, args),
                    args.connect_timeout + args.delivery_timeout + 60,
                )
                if r >= args.warmup:
                    series.rounds.append(result)
                await asyncio.sleep(args.pause)
            sent = series.samples(None, "from_sent")
            print(
                f"N={n:<5} {rounds} rounds (+{args.warmup} warm-up) in "
                f"{time.monotonic() - started:5.1f} s: p50 {percentile(sent, 0.5):.2f} ms, "
                f"p99 {percentile(sent, 0.99):.2f} ms from sent",
                flush=True,
            )
            results.append(series)
    return results


def int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency from an accepted payment webhook to every watcher's new state."
    )
    parser.add_argument(
        "--watchers",
        type=int_list,
        default=[1, 100, 1000],
        help="watcher counts, comma-separated (default 1,100,1000)",
    )
    parser.add_argument(
        "--rounds",
        type=int_list,
        default=[30, 20, 10],
        help="measured rounds per watcher count (default 30,20,10)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="unmeasured rounds before each watcher count (default 1)",
    )
    parser.add_argument(
        "--transport",
        choices=["mixed", *TRANSPORTS],
        default="mixed",
        help="mixed: alternate SSE, WebSocket and GraphQL (gql) watchers (default)",
    )
    parser.add_argument(
        "--sse-client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw: a bare asyncio HTTP/1.1 reader, one connection per watcher "
        "(default); httpx: one httpx.AsyncClient pool for all watchers",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql+asyncpg:// URL of an existing database on the server "
        "to create a fresh one from (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--bus-url",
        default="memory",
        help="the server's QRCHECKOUT_BUS_URL: memory (default) or redis://...",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=100,
        help="watchers connecting at once (default 100)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=120.0,
        help="seconds for all watchers of a round to connect (default 120)",
    )
    parser.add_argument(
        "--delivery-timeout",
        type=float,
        default=30.0,
        help="seconds after the webhook for every watcher to finish (default 30)",
    )
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds between rounds (default 0.05)"
    )
    parser.add_argument("--serve", type=int, metavar="FD", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is None:
        if len(args.rounds) == 1:
            args.rounds = args.rounds * len(args.watchers)
        if len(args.rounds) != len(args.watchers):
            parser.error("--rounds needs one value, or one per --watchers value")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.database_url, args.bus_url, args.data_dir)
        return 0
    try:
        import uvloop
    except ImportError:
        uvloop = None
    limit = raise_fd_limit()
    need = 2 * max(args.watchers) + 64
    if limit < need:
        print(f"warning: the open-file limit is {limit}; {need} are wanted", file=sys.stderr)
    workdir = tempfile.mkdtemp(prefix="qrc-bench-")
    try:
        with fresh_database(args.database_url, workdir) as database_url:
            engine = database_url.split(":", 1)[0]
            print(
                f"qrcheckout watch latency: {engine} database, bus {args.bus_url}, "
                f"transport {args.transport}, SSE client {args.sse_client}, "
                f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
                f"client loop {'uvloop' if uvloop else 'asyncio'}",
                flush=True,
            )
            with running_server(database_url, args.bus_url, workdir) as url:
                runner = uvloop.run if uvloop else asyncio.run
                series = runner(bench(url, args))
        report(series)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
