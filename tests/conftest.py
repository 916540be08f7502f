"""Fixtures: real servers on SQLite and PostgreSQL, fresh databases per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from qrcheckout.config import Settings
from tests.support import sdk
from tests.support.server import RunningServer, free_socket

WEBHOOK_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
POSTGRES_URL = os.environ.get("QRCHECKOUT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("QRCHECKOUT_TEST_REDIS_URL")
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "stripe" / "fixtures3.json"


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("QRCHECKOUT_TEST_POSTGRES_URL is not set; PostgreSQL tests need a server")
    name = f"qrc_test_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base, _, _ = POSTGRES_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'qrcheckout.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'qrcheckout.db'}"


ServerFactory = Callable[..., RunningServer]


@pytest.fixture
def make_server(database_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    started: list[RunningServer] = []

    def make(**overrides: Any) -> RunningServer:
        sock = free_socket()
        port = sock.getsockname()[1]
        values: dict[str, Any] = {
            "database_url": database_url,
            "public_url": f"http://127.0.0.1:{port}",
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "data_dir": tmp_path,
            "webhook_retry_base_seconds": 0.1,
            "expiry_interval_seconds": 0.2,
        }
        values.update(overrides)
        server = RunningServer(Settings(**values), sock).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> RunningServer:
    return make_server()


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    sdk.close_all()
