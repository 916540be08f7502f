"""Requests per second through the official ``stripe`` Python SDK: the sandbox and localstripe.

Two operations are timed, each as the SDK's synchronous ``StripeClient`` makes them:

* **PaymentIntent create+confirm**: ``client.v1.payment_intents.create`` with
  ``confirm=True``, ``payment_method="pm_card_visa"`` and ``payment_method_types=["card"]``.
  The result must have status ``succeeded``. A server that refuses this form gets the closest
  one it accepts (without ``payment_method_types``, or create and then
  ``payment_intents.confirm``); the report says which calls one operation took.
* **Checkout Session create**: ``mode=payment``, one ``line_items`` entry with ``price_data``,
  ``success_url`` and ``cancel_url``. The result's id must start with ``cs_``.

They run against two servers, one after the other:

1. the qrcheckout sandbox, started as ``qrcheckout sandbox --host 127.0.0.1 --port PORT
   --data-dir DIR`` in a separate process (or an already running one, ``--sandbox-url``);
2. `localstripe <https://pypi.org/project/localstripe/>`_ from PyPI, for comparison. It is not a
   dependency of qrcheckout: it is installed with pip into a virtualenv of its own
   (``bench/.localstripe-venv`` by default, reused while it holds the wanted version) and run
   in a separate process from there. It has no Checkout Sessions, so that row reads "n/a".

For each server, operation and concurrency C (1 and 8 by default), the server is started afresh
with an empty store. C client threads, each with its own ``stripe.StripeClient(...,
max_network_retries=0)``, first make their share of the warm-up calls, then together make N
measured operations. The table shows operations and HTTP requests per second over the measured
wall time, and p50 and p99 latency per operation in milliseconds. Calls that raise or return the
wrong thing are counted as failures and left out of the figures; they, or a sandbox that cannot
perform an operation, make the script exit with status 1. This is a benchmark that prints
figures, not a test.

    .venv/bin/python bench/sdk_throughput.py
    .venv/bin/python bench/sdk_throughput.py --requests 2000 --concurrency 1,4,16
    .venv/bin/python bench/sdk_throughput.py --skip-localstripe \
        --sandbox-url http://127.0.0.1:12111      # a running `qrcheckout sandbox`
    .venv/bin/python bench/sdk_throughput.py --skip-localstripe \
        --sandbox-url http://127.0.0.1:8000/sandbox --api-key sk_test_...  # the key serve prints

Every server listens on 127.0.0.1 only, and every server the script started is stopped however
the run ends. The sandbox's data directory is a temporary directory, deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import stripe

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
API_KEY = "sk_test_bench_sdk_throughput"
LOCALSTRIPE_VERSION = "1.15.10"
LOCALSTRIPE_VENV = ROOT / "bench" / ".localstripe-venv"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
INSTALL_TIMEOUT = 900.0
SUCCESS_URL = f"http://{HOST}/bench/success"
CANCEL_URL = f"http://{HOST}/bench/cancel"


# -- the operations ----------------------------------------------------------------------------


class WrongResult(Exception):
    """The server answered 2xx, but not with what the operation should produce."""


def _succeeded(intent: stripe.PaymentIntent) -> None:
    if not intent.id.startswith("pi_") or intent.status != "succeeded":
        raise WrongResult(f"PaymentIntent {intent.id} has status {intent.status!r}")


# stripe-python 16's typed params only know ``allowed_payment_method_types`` for this call;
# the dicts are sent as they are, and both servers take ``payment_method_types``.


def pi_in_one_call(client: stripe.StripeClient) -> None:
    _succeeded(
        client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
                "confirm": True,
            }
        )
    )


def pi_in_one_call_without_types(client: stripe.StripeClient) -> None:
    _succeeded(
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
        )
    )


def pi_create_then_confirm(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
        }
    )
    if intent.status != "requires_confirmation":
        raise WrongResult(f"a new PaymentIntent has status {intent.status!r}")
    _succeeded(client.v1.payment_intents.confirm(intent.id))


def session_create(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 1000,
                        "product_data": {"name": "Benchmark item"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": SUCCESS_URL,
            "cancel_url": CANCEL_URL,
        }
    )
    if not session.id.startswith("cs_"):
        raise WrongResult(f"the session's id is {session.id!r}")


@dataclass(frozen=True)
class Form:
    """One way to perform an operation: the HTTP calls it makes, and the code making them."""

    calls: tuple[str, ...]
    run: Callable[[stripe.StripeClient], None]


@dataclass(frozen=True)
class Operation:
    title: str
    forms: tuple[Form, ...]  # the preferred form first


PI_CREATE = "POST /v1/payment_intents"
PAYMENT_INTENT = Operation(
    "PaymentIntent create+confirm",
    (
        Form((f"{PI_CREATE} (confirm, pm_card_visa, payment_method_types)",), pi_in_one_call),
        Form((f"{PI_CREATE} (confirm, pm_card_visa)",), pi_in_one_call_without_types),
        Form(
            (
                f"{PI_CREATE} (pm_card_visa, payment_method_types)",
                "POST /v1/payment_intents/{id}/confirm",
            ),
            pi_create_then_confirm,
        ),
    ),
)
CHECKOUT_SESSION = Operation(
    "Checkout Session create",
    (Form(("POST /v1/checkout/sessions (mode=payment, 1 price_data line item)",), session_create),),
)
OPERATIONS = (PAYMENT_INTENT, CHECKOUT_SESSION)


def new_client(base: str, timeout: float, key: str) -> stripe.StripeClient:
    import requests
    import stripe

    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only: never through a proxy from the environment
    return stripe.StripeClient(
        key,
        base_addresses={"api": base},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout, session=session),
    )


def describe(exc: BaseException) -> str:
    import stripe

    if isinstance(exc, stripe.APIConnectionError):
        # The SDK's message is a generic paragraph; the cause is in "(Network error: ...)".
        message = str(exc.user_message or exc)
        detail = message.partition("(Network error: ")[2].removesuffix(")")
        text = f"no answer: {detail or message}"
    elif isinstance(exc, stripe.StripeError):
        status = f"HTTP {exc.http_status}" if exc.http_status else "no status"
        text = f"{type(exc).__name__} ({status}): {exc.user_message or exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def choose_form(
    base: str, operation: Operation, timeout: float, key: str
) -> tuple[Form | None, str, bool]:
    """The first form the server performs correctly; else None, why, and whether it is a fault.

    A server that turns every form down with a 4xx answer does not support the operation. No
    answer or a 5xx stops the search; that, or wrong results only, is a fault.
    """
    import stripe

    client = new_client(base, timeout, key)
    reasons: list[str] = []
    fault = False
    for form in operation.forms:
        try:
            form.run(client)
        except WrongResult as exc:
            reasons.append(describe(exc))
            fault = True
        except stripe.StripeError as exc:
            reasons.append(describe(exc))
            if exc.http_status is None or not 400 <= exc.http_status < 500:
                return None, reasons[-1], True
        else:
            return form, "", False
    return None, reasons[0], fault


# -- one measured case -------------------------------------------------------------------------


@dataclass
class Case:
    server: str
    operation: Operation
    concurrency: int
    form: Form | None = None
    unsupported: str = ""  # why there is no form
    fault: bool = False  # no form because the server failed, not because it said no
    latencies: list[float] = field(default_factory=list)  # seconds, successful operations only
    failures: int = 0
    warmup_failures: int = 0
    first_error: str = ""
    wall: float = 0.0
    incomplete: bool = False

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def fail(self, exc: BaseException, *, warmup: bool = False) -> None:
        if warmup:
            self.warmup_failures += 1
        else:
            self.failures += 1
        if not self.first_error:
            self.first_error = describe(exc)


def measure(case: Case, base: str, args: argparse.Namespace) -> None:
    """Warm up, then make ``args.requests`` operations from ``case.concurrency`` threads."""
    assert case.form is not None
    run = case.form.run
    threads_n = case.concurrency
    warmup_each = math.ceil(args.warmup / threads_n) if args.warmup > 0 else 0
    lock = threading.Lock()
    stop = threading.Event()
    issued = 0
    started: list[float] = []
    finished: list[float] = []
    # Each part, warm-up and measured, gets --case-timeout; the measured one from the barrier.
    deadline = [time.monotonic() + args.case_timeout]

    def go() -> None:
        deadline[0] = time.monotonic() + args.case_timeout
        started.append(time.perf_counter())

    barrier = threading.Barrier(threads_n, action=go)

    def worker() -> None:
        nonlocal issued
        client = new_client(base, args.timeout, args.api_key)
        for _ in range(warmup_each):
            if stop.is_set():
                return
            if time.monotonic() > deadline[0]:
                break
            try:
                run(client)
            except Exception as exc:
                with lock:
                    case.fail(exc, warmup=True)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        latencies: list[float] = []
        while not stop.is_set():
            with lock:
                if issued >= args.requests:
                    break
                if time.monotonic() > deadline[0]:
                    case.incomplete = True
                    break
                issued += 1
            t0 = time.perf_counter()
            try:
                run(client)
            except Exception as exc:
                with lock:
                    case.fail(exc)
            else:
                latencies.append(time.perf_counter() - t0)
        with lock:
            case.latencies.extend(latencies)
            finished.append(time.perf_counter())

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    # Both parts, plus the last request of each, plus a margin.
    give_up = time.monotonic() + 2 * (args.case_timeout + args.timeout) + 5
    try:
        for thread in threads:
            while thread.is_alive() and time.monotonic() < give_up:
                thread.join(0.2)
    finally:
        stop.set()
        barrier.abort()
    if any(thread.is_alive() for thread in threads):
        case.incomplete = True
    if started and finished:
        case.wall = max(finished) - started[0]


Start = Callable[[], contextlib.AbstractContextManager[str]]


def bench_server(server: str, start: Start, args: argparse.Namespace) -> list[Case]:
    """Every row against a server from ``start()``: a fresh process, unless one was given."""
    cases: list[Case] = []
    for operation in OPERATIONS:
        form: Form | None = None
        for concurrency in args.concurrency:
            with start() as base:
                if form is None:
                    form, reason, fault = choose_form(base, operation, args.timeout, args.api_key)
                    if form is None:
                        cases.append(Case(server, operation, 0, None, reason, fault))
                        label = "error" if fault else "n/a"
                        print(f"  {server}: {operation.title}: {label} ({reason})", flush=True)
                        break
                case = Case(server, operation, concurrency, form)
                cases.append(case)
                measure(case, base, args)
            print(f"  {progress(case)}", flush=True)
    return cases


# -- the servers -------------------------------------------------------------------------------


def answers(base: str) -> bool:
    """Whether an HTTP answer, whatever its status, comes from ``base`` within 2 s."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        base + "/v1/checkout/sessions?limit=1", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    try:
        with opener.open(request, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_until_serving(base: str, proc: subprocess.Popen[bytes], log: Path, name: str) -> None:
    """Until ``base`` answers; the process must not exit meanwhile."""
    deadline = time.monotonic() + START_TIMEOUT
    while not answers(base):
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode}\n{tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer within {START_TIMEOUT:.0f} s\n{tail(log)}")
        time.sleep(0.1)


def tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n".join(f"    {line}" for line in text)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def supervised(
    name: str,
    command: list[str],
    rundir: Path,
    port: int,
    *,
    env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> Iterator[str]:
    """Run ``command`` in ``rundir`` until the block ends; yields its base URL once it answers.

    Its output goes to a log file in ``rundir``. If it exits on its own before the block ends,
    its status and the end of that log are printed.
    """
    log = rundir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=rundir, env=env, pass_fds=pass_fds, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://{HOST}:{port}"
        wait_until_serving(base, proc, log, name)
        yield base
    finally:
        if proc.poll() is not None:
            print(
                f"{name} exited with status {proc.returncode} while in use\n{tail(log)}",
                file=sys.stderr,
                flush=True,
            )
        stop_process(proc)


def sandbox_command() -> list[str]:
    script = Path(sys.executable).with_name("qrcheckout")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "qrcheckout.cli"]


@contextlib.contextmanager
def running_sandbox(workdir: Path) -> Iterator[str]:
    """``qrcheckout sandbox`` with an empty data directory of its own, until the block ends."""
    rundir = Path(tempfile.mkdtemp(prefix="sandbox-", dir=workdir))
    data_dir = rundir / "data"
    data_dir.mkdir()
    port = free_port()
    command = [
        *sandbox_command(),
        "sandbox",
        "--host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
    with supervised("the sandbox", command, rundir, port, env=env) as base:
        yield base


def localstripe_versions(python: Path) -> str | None:
    """``localstripe X, aiohttp Y, Python Z`` as installed for ``python``, or None."""
    if not python.exists():
        return None
    code = (
        "import importlib.metadata as m, platform; "
        "print(m.version('localstripe'), m.version('aiohttp'), platform.python_version())"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (subprocess.SubprocessError, OSError):
        return None
    localstripe, aiohttp, python_version = done.stdout.split()
    return f"localstripe {localstripe}, aiohttp {aiohttp}, Python {python_version}"


def localstripe_env(venv: Path, version: str) -> tuple[Path, str]:
    """The python of a virtualenv holding ``localstripe==version``, installing it if need be."""
    python = venv / "bin" / "python"
    installed = localstripe_versions(python)
    if installed is None or not installed.startswith(f"localstripe {version},"):
        print(f"installing localstripe=={version} into {venv} (pip, from PyPI)", flush=True)
        steps = []
        if not python.exists():
            steps.append([sys.executable, "-m", "venv", str(venv)])
        steps.append(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                f"localstripe=={version}",
            ]
        )
        for step in steps:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(step)} failed with status {done.returncode}:\n"
                    + (done.stdout + done.stderr)[-3000:]
                )
        installed = localstripe_versions(python)
        if installed is None:
            raise RuntimeError(f"localstripe is not importable from {python}")
    return python, installed


def serve_localstripe(fd: int, store: str) -> None:
    """Run localstripe as its ``localstripe --from-scratch`` does, on the socket ``fd``.

    This runs under the localstripe virtualenv's python, so it imports nothing from qrcheckout.
    localstripe pickles its whole store to ``/tmp/localstripe.pickle`` after every write; the
    same dump goes to ``store`` instead, so that another localstripe's state there is left alone.
    """
    import logging
    import pickle

    from aiohttp import web  # type: ignore[import-not-found]
    from localstripe import resources, server  # type: ignore[import-not-found]

    def dump_to_disk(self: Any) -> None:
        with open(store, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler())
    web.run_app(server.app, sock=socket.socket(fileno=fd), access_log=logger)


@contextlib.contextmanager
def running_localstripe(python: Path, workdir: Path) -> Iterator[str]:
    """localstripe with an empty store of its own, until the block ends."""
    rundir = Path(tempfile.mkdtemp(prefix="localstripe-", dir=workdir))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--serve-localstripe",
        str(sock.fileno()),
        "--localstripe-store",
        str(rundir / "localstripe.pickle"),
    ]
    try:
        with supervised("localstripe", command, rundir, port, pass_fds=(sock.fileno(),)) as base:
            sock.close()  # the child holds its own copy
            yield base
    finally:
        sock.close()


# -- reporting ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def figures(case: Case) -> tuple[str, str, str, str]:
    """Operations/s, HTTP requests/s, p50 ms, p99 ms."""
    if not case.latencies or case.wall <= 0 or case.form is None:
        return ("-", "-", "-", "-")
    rate = case.ok / case.wall
    return (
        f"{rate:.0f}",
        f"{rate * len(case.form.calls):.0f}",
        f"{percentile(case.latencies, 0.5) * 1000:.2f}",
        f"{percentile(case.latencies, 0.99) * 1000:.2f}",
    )


def progress(case: Case) -> str:
    ops, reqs, p50, p99 = figures(case)
    text = (
        f"{case.server}: {case.operation.title}, concurrency {case.concurrency}: "
        f"{case.ok} ok, {case.failures} failed, {ops} op/s, {reqs} req/s, "
        f"p50 {p50} ms, p99 {p99} ms"
    )
    return text + (" (incomplete)" if case.incomplete else "")


def trouble(case: Case) -> bool:
    """Failed calls, a cut-short row, a server fault, or the sandbox lacking an operation."""
    if case.form is None:
        return case.fault or case.server == "sandbox"
    return bool(case.failures or case.warmup_failures or case.incomplete)


def report(cases: list[Case], args: argparse.Namespace) -> None:
    server_w = max(len("server"), *(len(c.server) for c in cases))
    op_w = max(len(o.title) for o in OPERATIONS)
    header = (
        f"{'server':<{server_w}}  {'operation':<{op_w}}  {'calls':>5} {'conc':>4} "
        f"{'ok':>6} {'failed':>6} {'op/s':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}"
    )
    print()
    print(
        f"Through the stripe SDK: {args.requests} measured operations per row after "
        f"{args.warmup} warm-up calls; p50/p99 per operation"
    )
    print()
    print(header)
    print("-" * len(header))
    for case in cases:
        if case.form is None:
            label = "error" if case.fault else "n/a"
            print(f"{case.server:<{server_w}}  {case.operation.title:<{op_w}}  {label:>5}")
            continue
        ops, reqs, p50, p99 = figures(case)
        print(
            f"{case.server:<{server_w}}  {case.operation.title:<{op_w}}  "
            f"{len(case.form.calls):>5} {case.concurrency:>4} {case.ok:>6} {case.failures:>6} "
            f"{ops:>7} {reqs:>7} {p50:>8} {p99:>8}"
        )
    print()
    print("What one operation took on each server:")
    shown: set[tuple[str, str]] = set()
    for case in cases:
        key = (case.server, case.operation.title)
        if key in shown:
            continue
        shown.add(key)
        if case.form is None:
            label = "error" if case.fault else "n/a"
            print(f"  {case.server}, {case.operation.title}: {label}: {case.unsupported}")
        else:
            calls = "; then ".join(case.form.calls)
            print(f"  {case.server}, {case.operation.title}: {calls}")
    troubled = [c for c in cases if trouble(c)]
    if troubled:
        print()
        print("THE RUN HAD ERRORS; these rows are not clean figures:")
        for case in troubled:
            if case.form is None:
                label = "the server failed" if case.fault else "not supported"
                print(f"  {case.server}, {case.operation.title}: {label}: {case.unsupported}")
                continue
            what: list[str] = []
            if case.failures or case.warmup_failures:
                what.append(
                    f"{case.failures} measured and {case.warmup_failures} warm-up calls failed"
                )
            if case.incomplete:
                made = case.ok + case.failures
                what.append(
                    f"{made} of {args.requests} measured calls made within the "
                    f"{args.case_timeout:g} s limit"
                )
            if case.first_error:
                what.append(f"first error: {case.first_error}")
            row = f"{case.server}, {case.operation.title}, concurrency {case.concurrency}"
            print(f"  {row}: {'; '.join(what)}")


# -- driver ------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(not 1 <= v <= 64 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of integers from 1 to 64")
    return values


def sandbox_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme != "http" or parts.hostname != HOST or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"an http://{HOST}:PORT[/path] URL")
    base = text.strip().rstrip("/")
    return base.removesuffix("/v1")


def bounded(low: float, high: float, kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"from {low:g} to {high:g}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Requests per second through the stripe SDK: the sandbox and localstripe."
    )
    parser.add_argument(
        "--requests",
        type=bounded(1, 100_000, int),
        default=500,
        help="measured operations per server, operation and concurrency (default 500)",
    )
    parser.add_argument(
        "--warmup",
        type=bounded(0, 10_000, int),
        default=50,
        help="unmeasured calls before each row, split between its threads (default 50)",
    )
    parser.add_argument(
        "--concurrency",
        type=int_list,
        default=[1, 8],
        help="client threads, comma-separated (default 1,8)",
    )
    parser.add_argument(
        "--sandbox-url",
        type=sandbox_url,
        default=None,
        help="the API base of an already running sandbox, e.g. http://127.0.0.1:12111 or "
        "http://127.0.0.1:8000/sandbox (the SDK appends /v1/...); default: start one per row",
    )
    parser.add_argument(
        "--api-key",
        default=API_KEY,
        help="the secret key calls are made with: any sk_test_ key suits `qrcheckout sandbox` "
        "and localstripe; `qrcheckout serve`'s /sandbox takes only the key it prints at start-up",
    )
    parser.add_argument("--skip-localstripe", action="store_true", help="measure the sandbox only")
    parser.add_argument(
        "--localstripe-venv",
        type=Path,
        default=LOCALSTRIPE_VENV,
        help=f"virtualenv for localstripe, created if missing (default {LOCALSTRIPE_VENV})",
    )
    parser.add_argument(
        "--localstripe-version",
        default=LOCALSTRIPE_VERSION,
        help=f"the localstripe release to install (default {LOCALSTRIPE_VERSION})",
    )
    parser.add_argument(
        "--timeout",
        type=bounded(0.1, 300, float),
        default=30.0,
        help="seconds for one HTTP request (default 30)",
    )
    parser.add_argument(
        "--case-timeout",
        type=bounded(1, 3600, float),
        default=300.0,
        help="seconds for the warm-up, and again for the measured calls, of a row (default 300)",
    )
    parser.add_argument("--serve-localstripe", type=int, metavar="FD", help=argparse.SUPPRESS)
    parser.add_argument("--localstripe-store", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_localstripe is not None:
        serve_localstripe(args.serve_localstripe, args.localstripe_store)
        return 0
    import stripe

    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="qrc-sdk-bench-"))
    cases: list[Case] = []
    try:
        localstripe: tuple[Path, str] | None = None
        if not args.skip_localstripe:
            localstripe = localstripe_env(args.localstripe_venv, args.localstripe_version)
        print(
            f"SDK throughput: stripe {stripe.VERSION} (requests {version('requests')}), "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs; "
            f"concurrency {','.join(map(str, args.concurrency))}",
            flush=True,
        )
        if args.sandbox_url:
            if not answers(args.sandbox_url):
                raise RuntimeError(f"nothing answers at {args.sandbox_url}")
            print(f"sandbox: {args.sandbox_url}, already running", flush=True)
            cases += bench_server("sandbox", lambda: contextlib.nullcontext(args.sandbox_url), args)
        else:
            print(f"sandbox: {' '.join(sandbox_command())} sandbox, one per row", flush=True)
            cases += bench_server("sandbox", lambda: running_sandbox(workdir), args)
        if localstripe is not None:
            python, versions = localstripe
            print(f"localstripe: {versions}, one per row", flush=True)
            cases += bench_server("localstripe", lambda: running_localstripe(python, workdir), args)
        report(cases, args)
    except KeyboardInterrupt:
        print("\ninterrupted; the servers were stopped", file=sys.stderr)
        return 130
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(trouble(c) for c in cases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
