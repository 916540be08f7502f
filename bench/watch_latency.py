"""Webhook-to-watcher latency: how long after a payment is settled every watcher hears of it.

For each watcher count N (1, 100 and 1,000 by default) and a number of rounds, one round:

1. creates a token (``POST /v1/tokens``) and scans it (``GET /t/{id}``) for a session id;
2. connects N watchers to it, a third each over SSE (``GET /v1/tokens/{id}/events``), WebSocket
   (``/v1/tokens/{id}/ws``) and a GraphQL subscription (``/v1/graphql``, graphql-transport-ws,
   the first design's ``TokenCreated``), and waits until each has the ``inprogress`` state;
3. posts a signed ``checkout.session.completed`` event to ``POST /v1/webhooks/stripe``, noting
   when the request was sent and when its 200 came back ("accepted");
4. notes when each watcher receives the ``success`` state, and checks that its stream then ends.

It prints p50, p99 and max of (received - sent), (received - accepted) and (received - the
round's first watcher's time) over every watcher of every round. The server is ``qrcheckout
serve`` in its own process, as a user runs it; the watchers are dealt out to
``--client-processes`` processes of their own (2 by default), each on its own event loop, and
time is ``time.monotonic()``, one clock for every process on the machine. All of them still
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
import multiprocessing
import multiprocessing.process
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ITEMS = [{"product_id": "espresso", "quantity": 1}]
TRANSPORTS = ("sse", "ws", "gql")
# The first design's subscription, as a Hasura front-end sends it.
TOKEN_CREATED = "subscription TokenCreated($id: uuid!) { token_by_pk(id: $id) { id status } }"

# The webhook is forged exactly as the tests forge it.
sys.path.insert(0, str(ROOT))
from tests.support.stripe_events import encode, session_event, signature  # noqa: E402

from bench_support import (  # noqa: E402
    WEBHOOK_SECRET,
    client_loop,
    fresh_database,
    int_list,
    rounds_for_each_count,
    running_server,
)

# -- the clients ------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


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
    """A client process's connections: ``sse`` is None for the bare SSE client."""

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
                at = time.monotonic()  # before parsing, so parse time is not counted
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
                    at = time.monotonic()
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
                at = time.monotonic()
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
    # After the round's first watcher had it: how long the server took to tell them all.
    after_first: list[float]
    webhook_rtt: float
    connect: float


@dataclass
class Order:
    """What one client process does in a round: connects its share of the watchers to the
    token, says when they are ready, then when each heard of the payment."""

    token_id: str
    watchers: list[tuple[int, str]]  # (index in the round, transport)
    connect_concurrency: int
    connect_timeout: float
    delivery_timeout: float


async def watch(clients: Clients, order: Order, conn: Connection) -> None:
    """One round in a client process; the times are ``time.monotonic()``, one clock for every
    process on the machine."""
    rnd = Round(len(order.watchers))
    gate = asyncio.Semaphore(order.connect_concurrency)
    tasks = [
        asyncio.create_task(WATCHERS[transport](clients, order.token_id, index, rnd, gate))
        for index, transport in order.watchers
    ]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(order.connect_timeout):
                await rnd.settled.wait()
        conn.send(("ready", rnd.ready, rnd.errors[:3]))
        if not rnd.all_ready.is_set():
            return
        _, pending = await asyncio.wait(tasks, timeout=order.delivery_timeout)
        conn.send(("done", dict(rnd.received), rnd.errors[:3], len(pending)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def client_main(conn: Connection, url: str, sse_client: str) -> None:
    base = httpx.URL(url)
    assert base.host and base.port
    async with contextlib.AsyncExitStack() as stack:
        sse = None
        if sse_client == "httpx":
            timeout = httpx.Timeout(120.0, connect=60.0, pool=120.0)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            sse = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, trust_env=False)
            )
        clients = Clients(sse, base.host, base.port)
        while (order := await asyncio.to_thread(conn.recv)) is not None:
            await watch(clients, order, conn)


def client_process(conn: Connection, url: str, sse_client: str) -> None:
    """A process of watchers, on an event loop of its own, taking orders from ``conn``."""
    raise_fd_limit()
    run, _ = client_loop()
    run(client_main(conn, url, sse_client))


class ClientProcesses:
    """``count`` processes of watchers: the watchers do not queue behind one client loop, as
    phones on separate devices do not (they still share the machine's cores)."""

    def __init__(self, url: str, count: int, sse_client: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            mine, theirs = context.Pipe()
            proc = context.Process(
                target=client_process, args=(theirs, url, sse_client), daemon=True
            )
            proc.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(proc)

    async def answer(self, k: int, seconds: float) -> tuple[Any, ...]:
        conn = self.conns[k]
        if not await asyncio.to_thread(conn.poll, seconds):
            raise RuntimeError(f"client process {k} did not answer within {seconds:.0f} s")
        answer: tuple[Any, ...] = conn.recv()
        return answer

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()


async def run_round(
    ctl: httpx.AsyncClient,
    procs: ClientProcesses,
    transports: list[str],
    args: argparse.Namespace,
) -> RoundResult:
    n = len(transports)
    response = await ctl.post("/v1/tokens", json={"items": ITEMS})
    if response.status_code != 201:
        raise RuntimeError(f"creating a token: {response.status_code} {response.text[:300]}")
    token = response.json()
    response = await ctl.get(f"/t/{token['id']}", follow_redirects=False)
    if response.status_code != 303:
        raise RuntimeError(f"scanning a token: {response.status_code} {response.text[:300]}")
    session_id = httpx.URL(response.headers["location"]).path.rstrip("/").rsplit("/", 1)[-1]

    # The watchers are dealt out to the client processes in turn.
    count = len(procs.conns)
    shares = {
        k: [(i, t) for i, t in enumerate(transports) if i % count == k]
        for k in range(min(count, n))
    }
    connecting = time.monotonic()
    for k, share in shares.items():
        procs.conns[k].send(
            Order(
                token["id"],
                share,
                max(1, args.connect_concurrency // len(shares)),
                args.connect_timeout,
                args.delivery_timeout,
            )
        )
    wait = args.connect_timeout + 30
    answers = await asyncio.gather(*(procs.answer(k, wait) for k in shares))
    ready = sum(answer[1] for answer in answers)
    if ready != n:
        errors = [error for answer in answers for error in answer[2]]
        raise RuntimeError(
            f"only {ready}/{n} watchers got the initial state within "
            f"{args.connect_timeout} s; {errors[:3]}"
        )
    connected = time.monotonic()
    payload, signature = signed_completed_event(token, session_id)
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    sent = time.monotonic()
    response = await ctl.post("/v1/webhooks/stripe", content=payload, headers=headers)
    accepted = time.monotonic()
    if response.status_code != 200 or response.json().get("status") != "processed":
        raise RuntimeError(f"webhook: {response.status_code} {response.text[:300]}")
    wait = args.delivery_timeout + 30
    answers = await asyncio.gather(*(procs.answer(k, wait) for k in shares))
    received: dict[int, float] = {}
    for _, got, errors, pending in answers:
        received.update(got)
        if pending or errors:
            raise RuntimeError(
                f"{pending} watchers not done {args.delivery_timeout} s after the webhook, "
                f"{len(errors)} failed: {errors[:3]}"
            )
    if len(received) != n:
        raise RuntimeError(f"only {len(received)}/{n} watchers got success")
    times = [received[i] for i in range(n)]
    first = min(times)
    return RoundResult(
        transports=transports,
        from_sent=[(t - sent) * 1000 for t in times],
        from_accepted=[(t - accepted) * 1000 for t in times],
        after_first=[(t - first) * 1000 for t in times],
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
        f"{'from webhook sent':^26}   {'from webhook accepted (200)':^26}   "
        f"{'after the first watcher':^26}"
    )
    sub = f"{'':>8}  {'':<9} {'':>6} {'':>7}   " + "   ".join(
        [f"{'p50':>8} {'p99':>8} {'max':>8}"] * 3
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
            after = s.samples(transport, "after_first")
            print(
                f"{s.n:>8}  {transport or 'all':<9} {len(s.rounds):>6} {len(sent):>7}   "
                f"{stats(sent)}   {stats(accepted)}   {stats(after)}"
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
    print("'After the first watcher' is the fan-out on its own: each watcher's time less the")
    print("time the round's first watcher had it; N=1's 'from sent' is the payment's own cost.")


# -- driver ------------------------------------------------------------------------------------


def transports_for(mode: str, n: int, round_index: int) -> list[str]:
    if mode != "mixed":
        return [mode] * n
    # Alternate SSE, WebSocket and GraphQL; shifting by round lets N=1 use each across rounds.
    return [TRANSPORTS[(i + round_index) % len(TRANSPORTS)] for i in range(n)]


async def bench(url: str, procs: ClientProcesses, args: argparse.Namespace) -> list[Series]:
    results: list[Series] = []
    timeout = httpx.Timeout(120.0, connect=60.0, pool=120.0)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, trust_env=False) as ctl:
        for n, rounds in zip(args.watchers, args.rounds, strict=True):
            series = Series(n)
            started = time.monotonic()
            for r in range(args.warmup + rounds):
                transports = transports_for(args.transport, n, r)
                result = await asyncio.wait_for(
                    run_round(ctl, procs, transports, args),
                    args.connect_timeout + args.delivery_timeout + 120,
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
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="processes the watchers are dealt out to (default 2)",
    )
    args = parser.parse_args(argv)
    rounds_for_each_count(parser, args)
    if args.client_processes < 1:
        parser.error("--client-processes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runner, loop_name = client_loop()
    limit = raise_fd_limit()
    need = 2 * max(args.watchers) + 64
    if limit < need:
        print(f"warning: the open-file limit is {limit}; {need} are wanted", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="qrc-bench-"))
    try:
        with fresh_database(args.database_url, str(workdir)) as database_url:
            engine = database_url.split(":", 1)[0]
            print(
                f"qrcheckout watch latency: {engine} database, bus {args.bus_url}, "
                f"transport {args.transport}, SSE client {args.sse_client}, "
                f"{args.client_processes} client processes, "
                f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
                f"client loop {loop_name}",
                flush=True,
            )
            with running_server(
                database_url,
                workdir,
                "watch",
                bus_url=args.bus_url,
                rate_limit_scans_per_ip="1000000/minute",
            ) as server:
                procs = ClientProcesses(server.url, args.client_processes, args.sse_client)
                try:
                    series = runner(bench(server.url, procs, args))
                finally:
                    procs.close()
        report(series)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
