"""Engine, sessions and the declarative base; SQLite gets WAL and write-locking transactions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TextClause, bindparam, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

READ_ONLY = "qrcheckout_read_only"
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _sqlite_immediate_transactions(engine.sync_engine)
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def _sqlite_immediate_transactions(engine: Engine) -> None:
    # SQLite upgrades a deferred read transaction to a write one and fails with
    # "database is locked" under concurrency; taking the write lock at BEGIN makes
    # concurrent writers queue behind busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Reads stay deferred so that, under WAL, they never wait for or block a writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """The engine; ``sessions()`` for reads, ``transaction()`` for writes committed as a unit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._writers = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing this process's writers here hands the lock
        # over at once, where SQLite's busy handler would leave waiters sleeping while it is free.
        self._write_turn = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def due(self, table: str, index: str, condition: str, column: str, limit: int) -> TextClause:
        """The ids of ``table``'s rows that ``condition`` keeps and whose ``column`` has passed
        ``:now``, earliest first, read through the partial ``index`` made for it. SQLite plans
        without statistics and would take a wider index, so it is told which (``INDEXED BY``,
        which SQLAlchemy cannot write); PostgreSQL finds it, generic plans too."""
        hint = f" INDEXED BY {index}" if self.engine.dialect.name == "sqlite" else ""
        return text(
            f"SELECT id FROM {table}{hint} WHERE {condition} AND {column} <= :now "
            f"ORDER BY {column} LIMIT {int(limit)}"
        ).bindparams(bindparam("now", type_=UTCDateTime))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction, committed as a unit; never opened inside another one."""
        if self._write_turn is None:
            async with self._writers() as session, session.begin():
                yield session
            return
        async with self._write_turn, self._writers() as session, session.begin():
            yield session

    async def ping(self, seconds: float) -> bool:
        """The database answers ``SELECT 1`` within ``seconds``."""
        try:
            async with asyncio.timeout(seconds), self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("the database did not answer: %r", exc)
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
