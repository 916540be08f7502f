"""Live-status bus: publish after commit, fan out to every watcher of a topic.

``MemoryBus`` serves one process. ``RedisBus`` shares messages between instances
through Redis pub/sub and fans them out locally through a ``MemoryBus``.

A bus can lose messages while it is down. It tells its subscriptions so: ``live`` says whether
messages are arriving now, and a *resync* signal says that some may have been missed, so a
watcher whose state is in the database reads it again (see ``realtime.watch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random
from collections.abc import Callable
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

QUEUE_SIZE = 64


class Bus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...
    def subscribe(self, topic: str) -> Subscription: ...
    async def ping(self) -> bool:
        """Whether the bus answers now (within a second or so): the health check's question."""
        ...


class BusUnavailable(Exception):
    """The bus is down and did not send the message; its watchers read the database again
    once it is back."""


class Signal(enum.Enum):
    RESYNC = "resync"


#: What ``Subscription.receive`` returns when messages may have been missed.
RESYNC: Literal[Signal.RESYNC] = Signal.RESYNC


class Outbox:
    """Messages gathered inside a transaction, published only after it commits."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.committed: list[Callable[[], object]] = []

    def add(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))

    def once_committed(self, note: Callable[[], object]) -> None:
        """Run ``note`` (a count, a log line) only once the transaction has committed: a
        change rolled back, and perhaps applied again, is not counted twice."""
        self.committed.append(note)

    async def flush(self, bus: Bus) -> None:
        for note in self.committed:
            try:
                note()
            except Exception:
                log.exception("after the commit: %s failed", note)
        self.committed.clear()
        # The commit already happened and the database is the truth: a bus failure must not
        # turn a settled change into an error. Watchers read the database when they connect.
        for topic, message in self.messages:
            try:
                await bus.publish(topic, message)
            except BusUnavailable as exc:
                log.warning("could not publish to %s: %s", topic, exc)
            except Exception:
                log.exception("could not publish to %s", topic)
        self.messages.clear()


class Subscription:
    """Messages of one topic for one watcher; a slow watcher keeps only the newest."""

    def __init__(self, bus: MemoryBus, topic: str) -> None:
        self._bus = bus
        self.topic = topic
        # ``None`` only wakes ``receive`` up for a resync.
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self._stale = False

    @property
    def live(self) -> bool:
        """Whether the bus carries messages now; while it does not, some may be lost."""
        return self._bus.live

    def deliver(self, message: dict[str, Any]) -> None:
        self._put(message)

    def resync(self) -> None:
        """Messages may have been missed: the next ``receive`` says so (the flag outlives a
        full queue)."""
        self._stale = True
        self._put(None)

    def _put(self, item: dict[str, Any] | None) -> None:
        if self.queue.full():
            # Messages carry the whole state, so dropping the oldest loses nothing.
            self.queue.get_nowait()
        self.queue.put_nowait(item)

    async def receive(self) -> dict[str, Any] | Literal[Signal.RESYNC]:
        """The next message, or ``RESYNC`` when messages may have been missed since."""
        while not self._stale:
            message = await self.queue.get()
            if message is not None:
                return message
        self._stale = False
        return RESYNC

    async def get(self) -> dict[str, Any]:
        """The next message, for a watcher that cannot read what it missed."""
        while True:
            message = await self.queue.get()
            if message is not None:
                return message

    def clear(self) -> None:
        """Drop what is queued: about to read the database, which holds it all already."""
        while not self.queue.empty():
            self.queue.get_nowait()

    async def __aenter__(self) -> Subscription:
        self._bus.add(self)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._bus.remove(self)


class MemoryBus:
    def __init__(self, *, live: bool = True) -> None:
        self._topics: dict[str, set[Subscription]] = {}
        #: In one process the bus cannot go down; a ``RedisBus`` sets this for its own.
        self.live = live

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

    def resync(self, topics: list[str] | None = None) -> None:
        """Tell the subscriptions of ``topics`` (of every topic with ``None``) that they may
        have missed messages."""
        for topic in list(self._topics) if topics is None else topics:
            for sub in tuple(self._topics.get(topic, ())):
                sub.resync()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.deliver(topic, message)

    def subscribe(self, topic: str) -> Subscription:
        return Subscription(self, topic)

    async def ping(self) -> bool:
        return True


class Backoff:
    """Delays between reconnection attempts: doubling from ``first`` up to ``cap``, jittered
    so that many instances do not reconnect in step."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return random.uniform(delay / 2, delay)


class RedisBus:
    """Redis pub/sub under ``qrcheckout:`` channels, one connection per process for all watchers.

    A dropped connection is noticed (an error, or an unanswered ``PING`` after ``idle_seconds``
    of silence) and reconnected with backoff. While it is down local subscriptions are not
    ``live`` and publishing fails at once; once it is back every local subscription gets a
    resync signal, and every instance is told which topics this one could not publish.
    """

    PREFIX = "qrcheckout:"
    # Outside ``PREFIX``, so no topic can be mistaken for it.
    RESYNC_CHANNEL = "qrcheckout-bus:resync"
    # Past this many unsent topics the notice asks every instance to resync everything.
    MAX_UNSENT = 1000
    # A health check's PING waits no longer than this.
    PING_SECONDS = 1.0

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        idle_seconds: float = 5.0,
        backoff: tuple[float, float] = (0.05, 0.5),
    ) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: it would reconnect and resubscribe behind our back, and
        # the watchers would never learn that messages were lost meanwhile.
        self._redis = redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout = timeout
        self._idle = idle_seconds
        self._backoff = Backoff(*backoff)
        self._announce_backoff = Backoff(*backoff)
        self._local = MemoryBus(live=False)
        self._reader: asyncio.Task[None] | None = None
        self._announcer: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        # Topics whose messages this instance could not publish; ``None``: too many to list.
        self._unsent: set[str] | None = set()

    @property
    def live(self) -> bool:
        return self._local.live

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="qrcheckout-redis-bus")
        try:
            await asyncio.wait_for(self._up.wait(), timeout=10)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for task in (self._reader, self._announcer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._redis.aclose()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if not self._local.live:
            # Redis cannot carry it: this instance's watchers get it all the same, and the
            # others are told to read the database again once the bus is back.
            self._local.deliver(topic, message)
            self._missed(topic)
            raise BusUnavailable("the Redis bus is reconnecting")
        try:
            await self._redis.publish(self.PREFIX + topic, json.dumps(message))
        except Exception:
            self._missed(topic)
            raise

    def subscribe(self, topic: str) -> Subscription:
        return self._local.subscribe(topic)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), self.PING_SECONDS))
        except Exception as exc:
            log.warning("redis bus did not answer PING: %r", exc)
            return False

    # -- the connection ------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.PREFIX + "*")
                    await pubsub.subscribe(self.RESYNC_CHANNEL)
                    await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._local.live:
                    log.warning("redis bus connection lost (%s); reconnecting", exc)
                else:
                    log.debug("redis bus still down (%s)", exc)
            self._set_live(False)
            await asyncio.sleep(self._backoff.delay())

    async def _listen(self, pubsub: Any) -> None:
        """Deliver messages until the connection fails or stops answering."""
        loop = asyncio.get_running_loop()
        confirmations = 2  # psubscribe and subscribe; only then is nothing missed
        heard = loop.time()
        pinged: float | None = None
        while True:
            if confirmations or pinged is not None:
                deadline = (heard if pinged is None else pinged) + self._timeout
            else:
                deadline = heard + self._idle
            item = await pubsub.get_message(timeout=max(deadline - loop.time(), 0.0))
            now = loop.time()
            if item is None:
                if now < deadline:
                    continue
                if confirmations or pinged is not None:
                    raise ConnectionError("Redis did not answer in time")
                await pubsub.ping()
                pinged = now
                continue
            heard, pinged = now, None
            kind = item["type"]
            if kind == "pmessage":
                self._deliver(item["channel"], item["data"])
            elif kind == "message":
                self._resync_notice(item["data"])
            elif kind in ("psubscribe", "subscribe"):
                confirmations -= 1
                if not confirmations:
                    self._set_live(True)
                    self._backoff.reset()

    def _set_live(self, live: bool) -> None:
        if self._local.live == live:
            return
        self._local.live = live
        if live:
            self._up.set()
            log.info("redis bus connected")
        else:
            self._up.clear()
        # Down: watchers start reading the database; up: they read it once more, since
        # anything published while it was down is lost.
        self._local.resync()

    def _deliver(self, channel: bytes, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("ignored a malformed message on %r", channel)
            return
        self._local.deliver(channel.decode()[len(self.PREFIX) :], message)

    # -- what this instance could not publish --------------------------------------------------

    def _missed(self, topic: str) -> None:
        if self._unsent is not None:
            self._unsent.add(topic)
            if len(self._unsent) > self.MAX_UNSENT:
                self._unsent = None
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.create_task(
                self._announce(), name="qrcheckout-redis-bus-resync"
            )

    async def _announce(self) -> None:
        """Once the bus is up, tell every instance which topics to read again."""
        while self._unsent is None or self._unsent:
            await self._up.wait()
            topics = None if self._unsent is None else sorted(self._unsent)
            self._unsent = set()
            try:
                await self._redis.publish(self.RESYNC_CHANNEL, json.dumps({"topics": topics}))
            except Exception as exc:
                log.warning("could not announce unsent messages (%s); retrying", exc)
                if topics is None:
                    self._unsent = None
                elif self._unsent is not None:
                    self._unsent.update(topics)
                await asyncio.sleep(self._announce_backoff.delay())
            else:
                self._announce_backoff.reset()

    def _resync_notice(self, data: bytes) -> None:
        try:
            topics = json.loads(data)["topics"]
        except (ValueError, KeyError, TypeError):
            topics = None  # unreadable: everything
        if isinstance(topics, list):
            self._local.resync([topic for topic in topics if isinstance(topic, str)])
        else:
            self._local.resync()


def create_bus(url: str) -> Bus:
    if url == "memory":
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    raise ValueError(f"QRCHECKOUT_BUS_URL must be 'memory' or a redis:// URL, not {url!r}")
