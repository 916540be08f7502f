"""One watcher of a record whose truth is in the database, pushed its changes over the bus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from qrcheckout import metrics
from qrcheckout.realtime.bus import RESYNC, Bus
from qrcheckout.realtime.streams import Interruptible, interruptible

log = logging.getLogger(__name__)

State = dict[str, Any]


class _LastEncoded:
    """A state as JSON. Every watcher woken by one change is handed the same dict by the bus,
    so the text of the last dict encoded is kept: a change is encoded once, not once a
    watcher. States are messages, never changed once published."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        # The dict itself is held, not its id: it cannot be freed and the id reused.
        self.last: tuple[State | None, str] = (None, "")

    def __call__(self, state: State) -> str:
        held, text = self.last
        if state is not held:
            text = json.dumps(state)
            self.last = (state, text)
        return text


as_json = _LastEncoded()


@contextlib.asynccontextmanager
async def until_hangup(
    receive: Callable[[], Awaitable[Mapping[str, Any]]], hangup: str
) -> AsyncIterator[None]:
    """The block runs until it ends or the client hangs up (``receive`` gives a message of
    type ``hangup``): then it is cancelled and left quietly. The client sends nothing else
    that matters; reading is how its leaving is noticed, idle or not. One plain task reads,
    instead of a task group and its cancel scopes per connection."""

    async def listen(block: Interruptible) -> None:
        try:
            while (await receive())["type"] != hangup:
                pass
        except Exception:
            # A connection that cannot be read any more is one whose client is gone; reading
            # one raises no error otherwise, so say so.
            log.warning("reading the client failed; ending its stream", exc_info=True)
        block.end()

    async with interruptible() as block:
        listener = asyncio.get_running_loop().create_task(listen(block))
        try:
            yield
        finally:
            listener.cancel()


class Watch:
    """Subscribed before the record is read, so no change falls between the read and the
    watch: the current state first, then each change, ending after ``done(state)``.

    While the bus is live the database is not read again, unless the topic carries notices
    (``reread_on``): then a notice it keeps reads it once. A resync signal (the bus came back
    and may have lost messages) reads it once; while the bus is down it is read every
    ``poll_seconds``, so a change committed meanwhile still arrives.
    """

    def __init__(
        self,
        bus: Bus,
        topic: str,
        read: Callable[[], Awaitable[State]],
        done: Callable[[State], bool],
        *,
        poll_seconds: float = 1.0,
        keepalive_seconds: float | None = 15.0,
        reread_on: Callable[[State], bool] | None = None,
        transport: str = "other",
    ) -> None:
        self.sub = bus.subscribe(topic)
        # Counted among the live watchers (by transport) while open.
        self._watching = metrics.watchers.labels(transport)
        self._counted = False
        self._read = read
        self._done = done
        # Messages that are notices, not states: one it keeps means "read the record again".
        self._reread_on = reread_on
        self.poll_seconds = poll_seconds
        self.keepalive_seconds = keepalive_seconds
        self.current: State = {}

    async def open(self) -> None:
        """Subscribe and read the record; whatever ``read`` raises leaves nothing open."""
        await self.sub.__aenter__()
        self._watching.inc()
        self._counted = True
        try:
            self.current = await self._read()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._counted:
            self._counted = False
            self._watching.dec()
        await self.sub.__aexit__(None, None, None)

    async def states(self) -> AsyncIterator[State]:
        """The states to send; ``{}`` asks for a keepalive (never, with ``keepalive_seconds``
        None: a WebSocket's own pings keep it open, and an idle one is then never woken)."""
        loop = asyncio.get_running_loop()
        keepalive = math.inf if self.keepalive_seconds is None else self.keepalive_seconds
        try:
            yield self.current
            sent = loop.time()
            # When to read the database next; None while the bus is trusted.
            due: float | None = None
            while not self._done(self.current):
                now = loop.time()
                if due is None and not self.sub.live:
                    # Spread out the reads of the many watchers the bus dropped at once.
                    due = now + random.uniform(0, self.poll_seconds)
                wake = min(sent + keepalive, math.inf if due is None else due)
                try:
                    # A deadline on this task, not a task per wait (``wait_for``): an idle
                    # watcher costs one task, woken only for news or its keepalive.
                    async with asyncio.timeout(None if wake == math.inf else max(wake - now, 0)):
                        item = await self.sub.receive()
                except TimeoutError:
                    item = None
                state = None
                if item is RESYNC:
                    if self.sub.live:
                        due = loop.time()
                elif item is not None:
                    if self._reread_on is None:
                        state = item
                    elif self._reread_on(item):
                        due = loop.time()
                if due is not None and loop.time() >= due:
                    fresh = await self._reread()
                    state = state if fresh is None else fresh
                    trusted = self.sub.live and fresh is not None
                    due = None if trusted else loop.time() + self.poll_seconds
                if state is not None and state != self.current:
                    self.current = state
                    yield state
                    sent = loop.time()
                elif loop.time() - sent >= keepalive:
                    yield {}
                    sent = loop.time()
            # The other watchers woken by the same change are queued behind this one: let
            # them send it before this one tears its connection down.
            await asyncio.sleep(0)
        finally:
            await self.close()

    async def _reread(self) -> State | None:
        """The record as committed now, or None when it cannot be read (tried again later)."""
        # Whatever is queued was published before this read began, so the read holds it.
        self.sub.clear()
        try:
            return await self._read()
        except Exception:
            log.warning("could not read %s again; retrying", self.sub.topic, exc_info=True)
            return None
