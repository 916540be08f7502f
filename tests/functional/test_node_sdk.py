"""The official Stripe Node SDK (npm ``stripe``), unchanged, runs a whole checkout on the sandbox.

``tests/node/checkout.mjs`` registers a webhook endpoint, creates a Checkout Session with the
usual backend snippet (inline ``price_data``, ``shipping_address_collection``), retrieves it and
its line items, expires a second session and verifies the signed ``checkout.session.expired``
delivery with ``stripe.webhooks.constructEvent`` -- so an app written for Stripe in Node can be
pointed at the sandbox without changing a line.

The Node SDK is configured with a host, port and protocol only (it has no base-path option), so
the script talks to the standalone sandbox (``qrcheckout sandbox``), which serves the API at its
root, rather than to the copy mounted under ``/sandbox`` in the checkout service.

Needs ``node`` and ``npm ci --prefix tests/node``; without them the test is skipped, or fails
when ``QRCHECKOUT_REQUIRE_NODE=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.node import NODE_DIR
from tests.support.server import free_socket

SCRIPT = NODE_DIR / "checkout.mjs"
SCRIPT_TIMEOUT_SECONDS = 60
STARTUP_TIMEOUT_SECONDS = 30


def _tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _sandbox_env() -> dict[str, str]:
    """This environment without ``QRCHECKOUT_*`` settings; loopback deliveries skip any proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@pytest.fixture
def standalone_sandbox(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``qrcheckout sandbox`` on a free loopback port: its base URL and its log file."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "sandbox.log"
    command = [
        sys.executable,
        "-m",
        "qrcheckout.cli",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "sandbox"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=_sandbox_env(), cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the sandbox exited with {process.returncode}:\n{_tail(log)}")
            try:
                ready = httpx.get(
                    f"{url}/v1/webhook_endpoints",
                    headers={"Authorization": "Bearer sk_test_ready"},
                    timeout=2,
                )
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the sandbox did not answer at {url}:\n{_tail(log)}")
            time.sleep(0.05)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_official_node_sdk_runs_a_checkout_on_the_sandbox(
    node: str, standalone_sandbox: tuple[str, Path]
) -> None:
    url, log = standalone_sandbox
    try:
        run = subprocess.run(
            [node, str(SCRIPT)],
            cwd=NODE_DIR,
            env={**os.environ, "SANDBOX_URL": url},
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"node {SCRIPT.name} did not finish within {SCRIPT_TIMEOUT_SECONDS}s\n"
            f"--- stdout\n{exc.stdout!r}\n--- stderr\n{exc.stderr!r}\n--- sandbox\n{_tail(log)}"
        )
    report = (
        f"node {SCRIPT.name} exited with {run.returncode}\n"
        f"--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}\n--- sandbox\n{_tail(log)}"
    )
    assert run.returncode == 0, report
    assert run.stdout.rstrip().endswith("node sdk: all steps passed"), report
