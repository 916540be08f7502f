"""Watchers trust a live bus, read the database again after a resync, and poll it while the
bus is down; subscriptions say when messages may have been missed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from qrcheckout.realtime.bus import RESYNC, MemoryBus
from qrcheckout.realtime.watch import Watch

POLL = 0.02


class Record:
    """The database's copy of one watched record, counting its reads."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"status": "inprogress", "n": 0}
        self.reads = 0
        self.failures = 0

    async def read(self) -> dict[str, Any]:
        self.reads += 1
        if self.failures:
            self.failures -= 1
            raise OSError("the database is away")
        return dict(self.state)


def _done(state: dict[str, Any]) -> bool:
    return state["status"] == "success"


async def _watching(
    bus: MemoryBus,
    record: Record,
    steps: Callable[[Watch], Awaitable[None]],
    keepalive: float | None = 15.0,
) -> list[dict[str, Any]]:
    """Run a watch while ``steps`` change things; the states it sent, keepalives as ``{}``."""
    watch = Watch(bus, "rec:1", record.read, _done, poll_seconds=POLL, keepalive_seconds=keepalive)
    await watch.open()
    sent: list[dict[str, Any]] = []

    async def collect() -> None:
        async for state in watch.states():
            sent.append(state)

    task = asyncio.create_task(collect())
    await steps(watch)
    await asyncio.wait_for(task, 2)
    assert bus.watchers("rec:1") == 0, "the subscription outlived the watch"
    return sent


def test_a_live_bus_is_trusted_and_the_database_read_once() -> None:
    bus, record = MemoryBus(), Record()

    async def steps(_: Watch) -> None:
        await asyncio.sleep(20 * POLL)
        await bus.publish("rec:1", {"status": "inprogress", "n": 1})
        await asyncio.sleep(20 * POLL)
        await bus.publish("rec:1", {"status": "success", "n": 2})

    sent = asyncio.run(_watching(bus, record, steps, keepalive=5 * POLL))
    assert [s for s in sent if s] == [
        {"status": "inprogress", "n": 0},
        {"status": "inprogress", "n": 1},
        {"status": "success", "n": 2},
    ]
    assert {} in sent, "no keepalive while idle"
    assert record.reads == 1


def test_while_the_bus_is_down_the_database_is_read_every_interval() -> None:
    bus, record = MemoryBus(live=False), Record()

    async def steps(_: Watch) -> None:
        await asyncio.sleep(10 * POLL)
        assert record.reads >= 4
        record.state = {"status": "success", "n": 1}  # committed, never published

    sent = asyncio.run(_watching(bus, record, steps))
    assert sent == [{"status": "inprogress", "n": 0}, {"status": "success", "n": 1}]


def test_the_bus_coming_back_reads_once_then_trusts_the_bus() -> None:
    bus, record = MemoryBus(live=False), Record()

    async def steps(_: Watch) -> None:
        await asyncio.sleep(5 * POLL)
        record.state = {"status": "inprogress", "n": 1}
        bus.live = True
        bus.resync()
        await asyncio.sleep(POLL / 4)
        reads = record.reads
        await asyncio.sleep(20 * POLL)
        assert record.reads == reads, "read the database although the bus is live"
        await bus.publish("rec:1", {"status": "success", "n": 2})

    sent = asyncio.run(_watching(bus, record, steps))
    assert sent == [
        {"status": "inprogress", "n": 0},
        {"status": "inprogress", "n": 1},
        {"status": "success", "n": 2},
    ]


def test_a_resync_on_a_live_bus_reads_once_and_a_failed_read_is_retried() -> None:
    bus, record = MemoryBus(), Record()

    async def steps(_: Watch) -> None:
        record.state = {"status": "success", "n": 1}
        record.failures = 1
        bus.resync(["rec:1"])

    sent = asyncio.run(_watching(bus, record, steps))
    assert sent == [{"status": "inprogress", "n": 0}, {"status": "success", "n": 1}]
    assert record.reads == 3  # opening, the failed resync read, its retry


# A keepalive far beyond the test's 2 s, or none (a WebSocket's watcher: the socket's pings
# keep it open, and it is woken only for news): only polling can end it in time.
@pytest.mark.parametrize("keepalive", [60, None])
def test_the_bus_going_down_wakes_a_watcher_into_polling(keepalive: float | None) -> None:
    bus, record = MemoryBus(), Record()

    async def steps(_: Watch) -> None:
        await asyncio.sleep(5 * POLL)
        bus.live = False
        bus.resync()
        record.state = {"status": "success", "n": 1}

    sent = asyncio.run(_watching(bus, record, steps, keepalive=keepalive))
    assert sent == [{"status": "inprogress", "n": 0}, {"status": "success", "n": 1}]


def test_a_resync_drops_what_was_queued_before_it() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        async with bus.subscribe("rec:1") as sub:
            await bus.publish("rec:1", {"n": 1})
            sub.resync()
            assert await sub.receive() is RESYNC
            sub.clear()  # the database read that follows holds {"n": 1} already
            await bus.publish("rec:1", {"n": 2})
            assert await sub.receive() == {"n": 2}
            sub.resync()
            await bus.publish("rec:1", {"n": 3})
            assert await sub.get() == {"n": 3}, "get() waits for messages only"

    asyncio.run(scenario())


def test_a_resync_outlives_a_full_queue() -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        async with bus.subscribe("rec:1") as sub:
            sub.resync()
            for n in range(200):
                await bus.publish("rec:1", {"n": n})
            assert await sub.receive() is RESYNC

    asyncio.run(scenario())
