"""Alembic migrations, run in-process against the app's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from qrcheckout.db import Database

HERE = Path(__file__).parent


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
