"""The unit of work: one write transaction, and the live messages it causes, published only
once it has committed (the database is the truth; a watcher never hears of a rolled-back
change)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.db import Database
from qrcheckout.realtime.bus import Bus, Outbox


class Unit(NamedTuple):
    session: AsyncSession
    outbox: Outbox


class UnitOfWork:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Unit]:
        outbox = Outbox()
        async with self.db.transaction() as session:
            yield Unit(session, outbox)
        await outbox.flush(self.bus)
