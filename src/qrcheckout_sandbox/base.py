"""What every provider's sandbox is made of: its store and webhook sender, started and stopped
with the app that serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from qrcheckout_sandbox.delivery import WebhookSender
from qrcheckout_sandbox.store import Store


class SandboxServer:
    """A sandbox's lifecycle: ``start`` its deliveries, ``stop`` them and write the store out."""

    store: Store
    sender: WebhookSender

    async def start(self) -> None:
        await self.sender.start()

    async def stop(self) -> None:
        await self.sender.stop()
        self.store.commit()
        await asyncio.to_thread(self.store.wait)
        self.store.close()

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def object(self, object_id: str) -> dict[str, Any]:
        """Any object by id, as stored (for the service and its tests)."""
        record = self.store.record(object_id)
        if record is None:
            raise KeyError(object_id)
        return record.obj
