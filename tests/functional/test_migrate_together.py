"""Several instances starting at once on one new PostgreSQL database: each migrates it at start,
one after the other, and all of them start."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from qrcheckout import migrations
from qrcheckout.db import Database
from tests.conftest import POSTGRES_URL, _admin, _run, _url_of


@pytest.mark.skipif(not POSTGRES_URL, reason="QRCHECKOUT_TEST_POSTGRES_URL is not set")
def test_three_instances_migrate_one_new_database_at_once() -> None:
    name = f"qrc_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    heads: list[str] = []

    async def start_three() -> None:
        databases = [Database(_url_of(name)) for _ in range(3)]
        try:
            await asyncio.gather(*(migrations.upgrade(db) for db in databases))
            async with databases[0].engine.connect() as connection:
                found = await connection.scalars(text("SELECT version_num FROM alembic_version"))
                heads.extend(found)
        finally:
            for db in databases:
                await db.dispose()

    try:
        _run(start_three())
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert len(heads) == 1 and heads[0] >= "0007"
