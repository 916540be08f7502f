"""Payments per second through each built-in sandbox, driven by its provider's official SDK.

PayPal: an order created (Orders v2), approved on the approval page by the test buyer who pays,
then captured. Stripe (the baseline): a Checkout Session created, then paid on the hosted pay
page with a test card. Each sandbox runs alone (``qrcheckout sandbox --provider ...``) in its
own process; the clients are threads of this one. Rounds alternate between the two, so both
meet the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import stripe

from bench_support import HOST, Server, exit_status, free_port, latency_columns
from qrcheckout.payments.paypal_api import sdk_client

STRIPE_KEY = "sk_test_bench_" + "0" * 24


def paypal_flow(url: str) -> Callable[[], None]:
    local = threading.local()

    def flow() -> None:
        if not hasattr(local, "sdk"):
            local.sdk = sdk_client(url, "bench", "bench-secret")
            local.http = httpx.Client(timeout=30)
        body = {
            "intent": "CAPTURE",
            "purchase_units": [{"amount": {"currency_code": "USD", "value": "12.50"}}],
            "application_context": {
                "return_url": "https://shop.example/done",
                "cancel_url": "https://shop.example/back",
            },
        }
        order = local.sdk.orders.create_order({"body": body}).body
        approve = next(link.href for link in order.links if link.rel == "approve")
        approved = local.http.post(approve, data={"buyer": "approves"})
        assert approved.status_code == 303, approved.text[:200]
        captured = local.sdk.orders.capture_order({"id": order.id}).body
        assert captured.status == "COMPLETED", captured.status

    return flow


def stripe_flow(url: str) -> Callable[[], None]:
    local = threading.local()

    def flow() -> None:
        if not hasattr(local, "client"):
            local.client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": url})
            local.http = httpx.Client(timeout=30)
        session = local.client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1250,
                            "product_data": {"name": "Bench"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "https://shop.example/done",
                "cancel_url": "https://shop.example/back",
            }
        )
        paid = local.http.post(
            session.url,
            data={
                "number": "4242424242424242",
                "expiry": "12 / 34",
                "cvc": "123",
                "email": "buyer@example.com",
            },
        )
        assert paid.status_code == 303, paid.text[:200]

    return flow


@contextlib.contextmanager
def sandbox(provider: str, workdir: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://{HOST}:{port}"
    log = workdir / f"{provider}.log"
    command = [sys.executable, "-m", "qrcheckout.cli", "sandbox", "--provider", provider]
    command += ["--port", str(port), "--data-dir", str(workdir / provider)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url, proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url + "/", timeout=2, trust_env=False)
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {provider} sandbox did not start:\n{server.tail()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_round(
    flow: Callable[[], None], server: Server, flows: int, threads: int
) -> tuple[float, list[float], float | None, int]:
    """Wall seconds, each flow's latency, the sandbox's CPU seconds, and failures."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            flow()
        except Exception as exc:
            with lock:
                failures += 1
                if failures == 1:
                    print(f"    a flow failed: {exc!r}", flush=True)
            return
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(flows)))
    wall = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return wall, latencies, cpu, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=300, help="measured payments per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per sandbox, alternating")
    parser.add_argument("--threads", type=int, default=8, help="clients at once")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured payments first")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="qrc-sandbox-bench-"))
    problems: list[str] = []
    totals: dict[str, dict[str, Any]] = {}
    with sandbox("stripe", workdir) as stripe_server, sandbox("paypal", workdir) as paypal_server:
        runs = {
            "stripe": (stripe_flow(stripe_server.url), stripe_server),
            "paypal": (paypal_flow(paypal_server.url), paypal_server),
        }
        for name, (flow, server) in runs.items():
            run_round(flow, server, args.warmup, args.threads)
            totals[name] = {"wall": 0.0, "latencies": [], "cpu": 0.0, "done": 0}
        for number in range(1, args.rounds + 1):
            for name, (flow, server) in runs.items():
                wall, latencies, cpu, failures = run_round(flow, server, args.flows, args.threads)
                print(
                    f"  round {number} {name:6}: {len(latencies) / wall:7.1f} payments/s"
                    f"  ({failures} failed)",
                    flush=True,
                )
                if failures:
                    problems.append(f"{name} round {number}: {failures} payments failed")
                total = totals[name]
                total["wall"] += wall
                total["latencies"] += latencies
                total["done"] += len(latencies)
                total["cpu"] = None if cpu is None or total["cpu"] is None else total["cpu"] + cpu

    print()
    print(f"{args.rounds} rounds x {args.flows} payments, {args.threads} clients, each sandbox")
    print(
        f"{'sandbox':24} {'pay/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/pay':>11} {'ratio':>6}"
    )
    baseline = totals["stripe"]["done"] / totals["stripe"]["wall"]
    labels = {
        "stripe": "Stripe session + pay",
        "paypal": "PayPal order+approve+cap",
    }
    for name, total in totals.items():
        rate = total["done"] / total["wall"]
        p50, p99 = latency_columns(total["latencies"])
        cpu = f"{1000 * total['cpu'] / total['done']:11.2f}" if total["cpu"] else f"{'-':>11}"
        print(f"{labels[name]:24} {rate:8.1f} {p50} {p99} {cpu} {rate / baseline:6.2f}")
    return exit_status(problems)


if __name__ == "__main__":
    raise SystemExit(main())
