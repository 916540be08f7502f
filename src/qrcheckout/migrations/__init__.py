"""Alembic migrations, run in-process against the app's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from qrcheckout.db import Database

HERE = Path(__file__).parent
# The PostgreSQL advisory lock migrations hold: any number that is this service's alone.
MIGRATION_LOCK = 0x7172636B6F7574  # "qrckout"


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Instances starting together migrate one after another (the lock lasts until this
        # transaction ends); each one after the first finds nothing left to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    cfg = config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
