"""``qrcheckout`` as an operator runs it: its version, a banner that says how it runs, log lines
with their time (text or JSON), and one clear line, exit status 2, for a bad setting or a
database it cannot reach."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.flows import submit_card
from tests.support.server import wait_until

QRCHECKOUT = str(Path(sys.executable).with_name("qrcheckout"))
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR) +[\w.]+: ")


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.update({f"QRCHECKOUT_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QRCHECKOUT, *args],
        env=_env(**settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_version(tmp_path: Path) -> None:
    shown = _run(tmp_path, "--version")
    assert shown.returncode == 0
    assert shown.stdout.strip() == f"qrcheckout {version('qrcheckout')}"


@pytest.mark.parametrize(
    ("command", "settings", "named"),
    [
        (["serve"], {"platform_fee_bps": "-3"}, "QRCHECKOUT_PLATFORM_FEE_BPS"),
        (["serve"], {"log_format": "xml"}, "QRCHECKOUT_LOG_FORMAT"),
        (["serve"], {"stripe_secret_key": "sk_test_x"}, "QRCHECKOUT_STRIPE_WEBHOOK_SECRET"),
        (["migrate"], {"paypal_client_id": "app"}, "QRCHECKOUT_PAYPAL_CLIENT_SECRET"),
        (["keys", "list"], {"dynamic_ttl_seconds": "soon"}, "QRCHECKOUT_DYNAMIC_TTL_SECONDS"),
    ],
)
def test_a_bad_setting_is_one_line_and_status_2(
    tmp_path: Path, command: list[str], settings: dict[str, str], named: str
) -> None:
    refused = _run(tmp_path, *command, **settings)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("qrcheckout: bad setting") and named in line, line
    assert refused.stdout == ""
    assert not (tmp_path / "qrcheckout.db").exists()  # nothing was started or written


@pytest.mark.parametrize("command", [["serve"], ["migrate"]])
def test_a_database_out_of_reach_is_one_line_and_status_2(
    tmp_path: Path, command: list[str]
) -> None:
    url = "postgresql+asyncpg://shop:s3cret-pass@127.0.0.1:9/shop"
    refused = _run(tmp_path, *command, database_url=url)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("qrcheckout: cannot reach the database postgresql+asyncpg://shop:***@")
    assert "s3cret-pass" not in refused.stderr + refused.stdout


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The ``qrcheckout serve`` processes a test starts (with ``_serve``), stopped after it."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.wait(timeout=15)


def _serve(
    started: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    *args: str,
    open_files: int | None = None,
    **settings: str,
) -> tuple[str, Path, Path]:
    """``qrcheckout serve`` started with ``args`` and ``settings`` (and the soft limit of
    ``open_files``, as a shell's ``ulimit -n`` would set it)."""

    def limited() -> None:
        if open_files is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

    port = _free_port()
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:  # the child keeps its own
        proc = subprocess.Popen(
            [QRCHECKOUT, "serve", "--port", str(port), *args],
            env=_env(**settings),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=limited,
        )
    started.append(proc)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, err.read_text()
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=60)
    return url, out, err


def _pay(url: str) -> str:
    made = httpx.post(f"{url}/v1/tokens", json={}, timeout=30).json()
    pay_url = httpx.get(f"{url}/t/{made['id']}", timeout=30).headers["location"]
    assert submit_card(pay_url).status_code == 303
    token_id: str = made["id"]
    return token_id


def test_serve_holds_as_many_watchers_as_the_machine_lets_it_without_compressing_them(
    tmp_path: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    """Each live watcher holds an open file: the service lifts its own limit to the most the
    machine allows, and says so; a WebSocket is not compressed (each compression context
    costs tens of KiB per idle watcher, for messages of a few hundred bytes)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    url, out, _ = _serve(serving, tmp_path, open_files=256)
    limits = Path(f"/proc/{serving[-1].pid}/limits").read_text()
    [line] = [line for line in limits.splitlines() if line.startswith("Max open files")]
    soft = line.split()[3]
    assert soft == ("unlimited" if hard == resource.RLIM_INFINITY else str(hard)), line
    if hard != resource.RLIM_INFINITY:
        assert f"open files   up to {hard:,}" in out.read_text()

    made = httpx.post(f"{url}/v1/tokens", json={}, timeout=30).json()

    async def first_message() -> tuple[str | None, dict[str, Any]]:
        ws_url = url.replace("http://", "ws://") + f"/v1/tokens/{made['id']}/ws"
        # The client offers permessage-deflate, as browsers do.
        async with connect(ws_url, proxy=None, open_timeout=30) as ws:
            assert ws.response is not None
            offered = ws.response.headers.get("Sec-WebSocket-Extensions")
            return offered, json.loads(await ws.recv())

    extensions, message = asyncio.run(first_message())
    assert extensions is None
    assert message["data"]["status"] == "inprogress"


def test_serve_says_how_it_runs_and_logs_with_the_time(
    tmp_path: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    url, out, err = _serve(serving, tmp_path, "--host", "0.0.0.0")
    banner = out.read_text()
    port = url.rsplit(":", 1)[1]
    for said in (
        f"qrcheckout {version('qrcheckout')}, sandbox",
        f"shop         http://127.0.0.1:{port}/",
        "database     sqlite+aiosqlite:///./qrcheckout.db",
        "live status  in this process",
        f"Stripe       sandbox at http://127.0.0.1:{port}/sandbox, secret key sk_test_",
        f"PayPal       sandbox at http://127.0.0.1:{port}/paypal-sandbox",
        "warning: serving on 0.0.0.0 without QRCHECKOUT_PUBLIC_URL",
    ):
        assert said in banner, banner
    token_id = _pay(url)
    wait_until(lambda: f"token {token_id} paid: $2.50 through stripe" in err.read_text(), 15)
    wait_until(lambda: "stored and processed" in err.read_text(), 15)
    lines = err.read_text().splitlines()
    # Every record starts with its time (a message may go on over more lines: a migration's).
    records = [line for line in lines if TEXT_LINE.match(line)]
    assert len(records) > 5
    assert not [line for line in lines if re.match(r"^(INFO|WARNING|ERROR)\b", line)], lines
    assert any("stripe event evt_" in line and "stored and processed" in line for line in lines)


def test_json_logs_are_one_object_a_line(
    tmp_path: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    url, _, err = _serve(serving, tmp_path, log_format="json")
    token_id = _pay(url)
    httpx.get(f"{url}/v1/tokens/{token_id}/ws?access_token=do-not-log", timeout=10)
    wait_until(lambda: f"token {token_id} paid" in err.read_text(), 15)
    time.sleep(0.2)
    records = [json.loads(line) for line in err.read_text().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "uvicorn.access" for r in records)
    assert "do-not-log" not in err.read_text()


def test_staff_add_invites_the_owner_and_staff_list_shows_them(tmp_path: Path) -> None:
    settings = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"}
    invited = _run(tmp_path, "staff", "add", "Owner@Example.com", **settings)
    assert invited.returncode == 0, invited.stderr
    member_id, link = invited.stdout.split()
    assert member_id.startswith("stf_")
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/dashboard/invite/inv_[\w-]{32}", link)
    assert "owner@example.com" in invited.stderr and "7 days" in invited.stderr
    direct = subprocess.run(
        [QRCHECKOUT, "staff", "add", "till@example.com", "--role", "staff", "--password-stdin"],
        env=_env(**settings),
        cwd=tmp_path,
        input="correct horse battery\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert direct.returncode == 0, direct.stderr
    assert "can sign in at http://127.0.0.1:8000/dashboard/sign-in" in direct.stdout
    listed = _run(tmp_path, "staff", "list", **settings)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert re.search(r"owner +invited +owner@example\.com", lines[0])
    assert re.search(r"staff +active +till@example\.com", lines[1])
    # Once accepted, the account is not invited again.
    again = _run(tmp_path, "staff", "add", "till@example.com", **settings)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == "qrcheckout: till@example.com already has an account here.\n"
    for args, said in (
        (("not-an-email",), "is not an email address"),
        (("a@example.com", "--merchant", "nobody"), "No merchant 'nobody'"),
    ):
        refused = _run(tmp_path, "staff", "add", *args, **settings)
        assert (
            refused.returncode == 1 and said in refused.stderr and "Traceback" not in refused.stderr
        )


def test_a_command_run_without_the_configured_keys_leaves_them_working(tmp_path: Path) -> None:
    import asyncio

    from qrcheckout.access.service import Merchants
    from qrcheckout.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
    admin = "qrk_test_platform_admin_0123456789abcdef"

    async def started(admin_key: str | None) -> bool:
        db = Database(url)
        try:
            from qrcheckout import migrations

            await migrations.upgrade(db)
            merchants = Merchants(db)
            await merchants.ensure_default("Café", admin_key=admin_key)
            return await merchants.active(admin)
        finally:
            await db.dispose()

    assert asyncio.run(started(admin))  # the service starts with the platform's key set
    for command in (("staff", "list"), ("keys", "list")):
        assert _run(tmp_path, *command, database_url=url).returncode == 0
    assert asyncio.run(started(admin))
    # Unset at a start, the key stops working; set again, it works again.
    assert not asyncio.run(started(None))
    assert asyncio.run(started(admin))
