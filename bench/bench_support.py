"""What the benchmarks share: a database to run ``qrcheckout serve`` against."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path


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
