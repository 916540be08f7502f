"""What the benchmarks share: a database, ``qrcheckout serve`` running on it, and the client's
helpers (buyers' JWTs, a pool of requests in flight, percentiles)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WEBHOOK_SECRET = "whsec_bench_" + "0123456789abcdef" * 2
JWT_SECRET = "bench-jwt-secret-" + "0123456789abcdef" * 2
API_KEY = "sk_qrcheckout_bench_" + "0123456789abcdef"
# Every order comes from one address, far past the default per-address limits: raised, not
# switched off, so each request still pays for being counted. A server without rate limits
# ignores these.
RATE_LIMITS = {
    "QRCHECKOUT_RATE_LIMIT_TOKENS": "1000000/minute",
    "QRCHECKOUT_RATE_LIMIT_AUTH_FAILURES": "1000000/minute",
}


@contextlib.contextmanager
def fresh_database(database_url: str | None, workdir: str) -> Iterator[str]:
    """A temporary SQLite file, or a new PostgreSQL database dropped afterwards."""
    if database_url is None:
        yield f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        return
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit(f"a PostgreSQL URL is needed, not {database_url!r}")
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"qrc_bench_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
def running_server(
    database_url: str, workdir: Path, name: str, **settings: str
) -> Iterator[Server]:
    """``qrcheckout serve`` on a free port; SIGTERM (then SIGKILL) however the run ends.

    ``settings`` are more ``QRCHECKOUT_*`` variables, by their names without the prefix."""
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
    env.update({f"QRCHECKOUT_{key.upper()}": value for key, value in settings.items()})
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
        with serving(proc, url, server.tail):
            yield server
    except BaseException:
        print(f"the server's log ends:\n{server.tail()}", file=sys.stderr)
        raise


@contextlib.contextmanager
def serving(
    proc: subprocess.Popen[bytes], url: str, tail: Callable[[], str] = str
) -> Iterator[None]:
    """Once the server at ``url`` answers ``/healthz``; SIGTERM (then SIGKILL) however the run
    ends. ``tail`` is the end of its log, told when it does not come up."""
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not healthy within 60 s:\n{tail()}")
            time.sleep(0.1)
        yield
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def buyer_token(sub: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 3600}, JWT_SECRET, "HS256")


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


async def measure(
    server: Server,
    items: list[Any],
    concurrency: int,
    send: Callable[[Any], Awaitable[httpx.Response]],
    check: Callable[[httpx.Response], str | None],
    name: Callable[[Any], str] = str,
) -> tuple[Load, list[httpx.Response]]:
    """``send`` for every item, ``concurrency`` in flight: the latencies of the answers that
    pass ``check`` (None: no problem), the others' problems (each after its item's ``name``),
    the wall and the server's CPU time; and every answer."""
    load = Load()
    answers: list[httpx.Response] = []

    async def one(item: Any) -> None:
        started = time.perf_counter()
        try:
            response = await send(item)
        except httpx.HTTPError as exc:
            load.errors.append(f"{name(item)}: {type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - started
        answers.append(response)
        problem = check(response)
        if problem is None:
            load.latencies.append(elapsed * 1000)
        else:
            load.errors.append(f"{name(item)}: {problem}")

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    await pooled(items, concurrency, one)
    load.wall = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        load.cpu = cpu_after - cpu_before
    return load, answers


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def int_list(text: str) -> list[int]:
    """An argument's comma-separated positive integers."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def rounds_for_each_count(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--rounds``: one value for every ``--watchers`` count, or one per count."""
    if len(args.rounds) == 1:
        args.rounds = args.rounds * len(args.watchers)
    if len(args.rounds) != len(args.watchers):
        parser.error("--rounds needs one value, or one per --watchers value")


def add_postgres_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing PostgreSQL database, used only to create and drop a fresh "
        "qrc_bench_* database (default postgresql://postgres@127.0.0.1:5432/test)",
    )


def client_loop() -> tuple[Callable[[Coroutine[Any, Any, T]], T], str]:
    """How the client runs its coroutines (uvloop when it is installed), and its name."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run, "asyncio"
    return uvloop.run, "uvloop"


def on_each_database(
    kinds: list[str],
    postgres_url: str,
    work: Callable[[str, Server], Coroutine[Any, Any, T]],
    **settings: str,
) -> list[T]:
    """``work`` against ``qrcheckout serve`` on a fresh database of each kind ("sqlite",
    "postgres") in turn, with the client's loop; everything made is removed afterwards."""
    runner, _ = client_loop()
    workdir = Path(tempfile.mkdtemp(prefix="qrc-bench-"))
    results: list[T] = []
    try:
        for kind in kinds:
            print(f"{kind}:", flush=True)
            with (
                fresh_database(None if kind == "sqlite" else postgres_url, str(workdir)) as url,
                running_server(url, workdir, kind, **settings) as server,
            ):
                results.append(runner(work(kind, server)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def latency_columns(latencies: list[float]) -> tuple[str, str]:
    """p50 and p99 in milliseconds, 8 wide ("-" with no sample)."""
    if not latencies:
        return f"{'-':>8}", f"{'-':>8}"
    return f"{percentile(latencies, 0.5):8.2f}", f"{percentile(latencies, 0.99):8.2f}"


def exit_status(problems: list[str]) -> int:
    """1 after listing the run's problems, 0 if it had none."""
    if not problems:
        return 0
    print()
    print("THE RUN HAD PROBLEMS")
    for problem in problems:
        print(f"  {problem}")
    return 1
