"""Outages: while the database cannot be reached every request answers 503 JSON with a
``Retry-After`` (in the route's own envelope), and the service serves again once it is back. A
bus outage fails no committed change; what needs the bus to answer says 503. ``/healthz``
tells which is down; ``/livez`` only that the process answers.

The database and Redis are cut off for real: a SQLite file is taken away, PostgreSQL and Redis
are reached through a TCP proxy that the tests take down.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import WEBHOOK_SECRET, ServerFactory
from tests.support.auth import API_KEY, merchant
from tests.support.flows import create_token, pay_page, token
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import deliver, token_paid
from tests.support.tcp_proxy import TcpProxy

REDIS_URL = os.environ.get("QRCHECKOUT_TEST_REDIS_URL")
ITEMS = {"items": [{"product_id": "espresso", "quantity": 1}]}
SESSION = {"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "a@b.co"}


def _unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) > 0
    body: dict[str, Any] = response.json()
    return body


def _health(server: RunningServer) -> tuple[int, dict[str, Any]]:
    response = server.client.get("/healthz")
    return response.status_code, response.json()


def _database_down(server: RunningServer, token_id: str) -> None:
    """What every client sees while the database is out of reach."""
    for response in (
        server.client.get(f"/v1/tokens/{token_id}"),
        server.client.post("/v1/tokens", json=ITEMS),
        server.client.post("/v1/orders", json=ITEMS | {"customer_email": "a@b.co"}),
        server.client.get("/v1/products"),
    ):
        error = _unavailable(response)["error"]
        assert error["code"] == "service_unavailable" and error["message"]
    legacy = _unavailable(server.client.post("/create-checkout-session", json=SESSION))
    assert legacy["code"] == "service_unavailable" and isinstance(legacy["error"], str)
    assert _health(server) == (
        503,
        {"status": "unavailable", "database": "down", "bus": "ok", "sandbox": True},
    )
    live = server.client.get("/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})


def _back(server: RunningServer, token_id: str) -> None:
    wait_until(lambda: _health(server)[0] == 200, timeout=15)
    assert token(server, token_id)["status"] == "inprogress"
    create_token(server)


@pytest.mark.one_database
def test_health_and_liveness_are_reported_apart_from_the_api(server: RunningServer) -> None:
    assert _health(server) == (
        200,
        {"status": "ok", "database": "ok", "bus": "ok", "sandbox": True},
    )
    live = server.client.get("/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    paths = server.client.get("/openapi.json").json()["paths"]
    assert not {"/healthz", "/livez"} & paths.keys()


@pytest.mark.one_database
def test_a_sqlite_file_out_of_reach_is_a_503_until_it_is_back(server: RunningServer) -> None:
    created = create_token(server)
    path = Path(server.db.url.split("///", 1)[1])
    aside = path.with_name("aside.db")
    # Connections already open would go on reading the file; new ones find a directory there.
    server.call(server.db.dispose)
    path.rename(aside)
    path.mkdir()
    try:
        _database_down(server, created["id"])
    finally:
        # Swapped back in one step: a job connecting in between would find no file at the
        # path and make a new, empty database there.
        _exchange(aside, path)
        aside.rmdir()
    _back(server, created["id"])


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux's renameat2 with RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_cwd, exchange = -100, 2
    if libc.renameat2(at_cwd, bytes(a), at_cwd, bytes(b), exchange) != 0:
        raise OSError(ctypes.get_errno(), "renameat2 failed")


@pytest.fixture
def postgres_proxy(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy to the test's PostgreSQL database, and the database's URL through it."""
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    netloc = target.netloc.rsplit("@", 1)
    user = netloc[0] + "@" if len(netloc) == 2 else ""
    try:
        yield proxy, target._replace(netloc=f"{user}127.0.0.1:{proxy.port}").geturl()
    finally:
        proxy.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_out_of_reach_is_a_503_until_it_is_back(
    make_server: ServerFactory, postgres_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, url = postgres_proxy
    server = make_server(database_url=url)
    created = create_token(server)
    proxy.down()  # every connection cut, nobody listening
    try:
        _database_down(server, created["id"])
    finally:
        proxy.up()
    _back(server, created["id"])


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    if not REDIS_URL:
        pytest.skip("QRCHECKOUT_TEST_REDIS_URL is not set; Redis tests need a server")
    target = urlsplit(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield proxy
    proxy.close()


async def _stripe_channel(server: RunningServer) -> dict[str, Any]:
    url = server.url.replace("http://", "ws://") + "/v1/realtime/stripe"
    async with connect(url, open_timeout=10, additional_headers=merchant()) as ws:
        message: dict[str, Any] = json.loads(await ws.recv())
        return message


@pytest.mark.one_database
def test_a_bus_outage_fails_no_committed_change_and_is_reported(
    make_server: ServerFactory, redis_proxy: TcpProxy
) -> None:
    assert REDIS_URL is not None
    bus_url = f"redis://127.0.0.1:{redis_proxy.port}{urlsplit(REDIS_URL).path}"
    server = make_server(bus_url=bus_url, api_key=API_KEY)
    created = create_token(server)
    session_id = pay_page(server, created["id"]).rsplit("/", 1)[1]
    redis_proxy.down()
    try:
        status, health = _health(server)
        assert (status, health["database"], health["bus"]) == (503, "ok", "down")
        assert health["status"] == "unavailable"
        # Paying publishes the new state on the bus: the payment is committed all the same.
        answer = deliver(server.client, token_paid(created, session_id), WEBHOOK_SECRET)
        assert answer.status_code == 200 and answer.json()["status"] == "processed"
        assert token(server, created["id"])["status"] == "success"
        # The provider's event channel reaches a watcher only over the bus: refused, not silent.
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(_stripe_channel(server))
        assert refused.value.response.status_code == 503
        assert b"bus_unavailable" in refused.value.response.body
    finally:
        redis_proxy.up()
    wait_until(lambda: _health(server)[0] == 200, timeout=15)
    assert asyncio.run(_stripe_channel(server))["type"] == "subscribed"
