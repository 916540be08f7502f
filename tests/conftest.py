"""Fixtures: real servers on SQLite and PostgreSQL, fresh databases per test."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from qrcheckout import migrations
from qrcheckout.config import Settings
from qrcheckout.db import Database
from tests.support import dashboard, sdk
from tests.support.node import node_or_skip
from tests.support.server import RunningServer, free_socket

WEBHOOK_SECRET = "whsec_test_0123456789abcdef0123456789abcdef"
POSTGRES_URL = os.environ.get("QRCHECKOUT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("QRCHECKOUT_TEST_REDIS_URL")
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "stripe" / "fixtures3.json"


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on a thread of its own: a test's browser may hold this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


async def _admin(sql: str) -> None:
    assert POSTGRES_URL is not None
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await migrations.upgrade(db)
    finally:
        await db.dispose()


def _url_of(name: str) -> str:
    assert POSTGRES_URL is not None
    return f"{POSTGRES_URL.rpartition('/')[0]}/{name}"


# Each test gets a database of its own, copied from one migrated once per run (a template
# database on PostgreSQL, a file on SQLite): the schema is built once, not once a test.
@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("QRCHECKOUT_TEST_POSTGRES_URL is not set; PostgreSQL tests need a server")
    name = f"qrc_template_{uuid.uuid4().hex[:12]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        _run(_migrate(_url_of(name)))
        yield name
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "qrcheckout.db"
    _run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def _postgres_database(template: str) -> Iterator[str]:
    name = f"qrc_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _url_of(name)
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_copy(template: Path, folder: Path) -> str:
    shutil.copyfile(template, folder / "qrcheckout.db")
    return f"sqlite+aiosqlite:///{folder / 'qrcheckout.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path)
    else:
        yield from _postgres_database(request.getfixturevalue("_postgres_template"))


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    return sqlite_copy(_sqlite_template, tmp_path)


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
            "catch_up_interval_seconds": 0.2,
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


@pytest.fixture
def node() -> str:
    """Node.js with the npm packages of ``tests/node``; skipped without them."""
    return node_or_skip()


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    yield
    sdk.close_all()
    dashboard.close_all()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``one_database`` check what no database can change (request validation,
    the sandbox's own state): their PostgreSQL variants are left out."""
    once, kept = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgres"
        (once if on_postgres and item.get_closest_marker("one_database") else kept).append(item)
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = kept
