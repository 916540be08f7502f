"""Live-status bus: publish after commit, fan out to every watcher of a topic.

``MemoryBus`` serves one process. ``RedisBus`` shares messages between instances
through Redis pub/sub and fans them out locally through a ``MemoryBus``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

QUEUE_SIZE = 64


class Bus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...
    def subscribe(self, topic: str) -> Subscription: ...


class Outbox:
    """Messages gathered inside a transaction, published only after it commits."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def add(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))

    async def flush(self, bus: Bus) -> None:
        # The commit already happened and the database is the truth: a bus failure must not
        # turn a settled change into an error. Watchers read the database when they connect.
        for topic, message in self.messages:
            try:
                await bus.publish(topic, message)
            except Exception:
                log.exception("could not publish to %s", topic)
        self.messages.clear()


class Subscription:
    """Messages of one topic for one watcher; a slow watcher keeps only the newest."""

    def __init__(self, bus: MemoryBus, topic: str) -> None:
        self._bus = bus
        self.topic = topic
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def deliver(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            # Messages carry the whole state, so dropping the oldest loses nothing.
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    async def __aenter__(self) -> Subscription:
        self._bus.add(self)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._bus.remove(self)


class MemoryBus:
    def __init__(self) -> None:
        self._topics: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._topics.clear()

    def add(self, sub: Subscription) -> None:
        self._topics.setdefault(sub.topic, set()).add(sub)

    def remove(self, sub: Subscription) -> None:
        subs = self._topics.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._topics[sub.topic]

    def watchers(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        for sub in tuple(self._topics.get(topic, ())):
            sub.deliver(message)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.deliver(topic, message)

    def subscribe(self, topic: str) -> Subscription:
        return Subscription(self, topic)


class RedisBus:
    """Redis pub/sub under ``qrcheckout:`` channels, one connection per process for all watchers."""

    PREFIX = "qrcheckout:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._local = MemoryBus()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="qrcheckout-redis-bus")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self.PREFIX + topic, json.dumps(message))

    def subscribe(self, topic: str) -> Subscription:
        return self._local.subscribe(topic)

    async def _read(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.PREFIX + "*")
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item.get("type") != "pmessage":
                            continue
                        topic = item["channel"].decode()[len(self.PREFIX) :]
                        self._local.deliver(topic, json.loads(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis bus connection lost; reconnecting")
                await asyncio.sleep(1)


def create_bus(url: str) -> Bus:
    if url == "memory":
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    raise ValueError(f"QRCHECKOUT_BUS_URL must be 'memory' or a redis:// URL, not {url!r}")
