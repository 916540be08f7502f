"""The app's open event streams (SSE), ended cleanly when the server stops.

A stopping server closes its idle connections and closes each WebSocket with 1012 (Service
Restart), but it cannot end a streaming response: it waits out its grace period for streams
that never end by themselves, then cancels each one and logs it as a failure. Here each SSE
stream is stopped at once and ends as a response ends; its ``EventSource`` connects again
after the stream's ``retry``, to another instance if there is one.

``Interruptible`` is the one way a block of a stream is ended early from outside: by the
server stopping here, by the client hanging up in ``watch.until_hangup``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast


class Interruptible:
    """A block of one task that something else may end early: ``end()`` cancels the task, and
    the block absorbs that cancel (``Task.uncancel``), so the task carries on after it. A
    cancel from anywhere else, alone or with an ``end()``, still propagates."""

    __slots__ = ("ended", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.ended = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.task.cancel()


@contextlib.asynccontextmanager
async def interruptible() -> AsyncIterator[Interruptible]:
    """The block runs until it ends or its ``end()`` is called; ``ended`` says which."""
    task = asyncio.current_task()
    assert task is not None
    block = Interruptible(task)
    try:
        yield block
    except asyncio.CancelledError:
        if not block.ended or task.uncancel():
            raise


class Streams:
    def __init__(self) -> None:
        self._open: set[Interruptible] = set()
        self.stopping = False

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Interruptible]:
        """The block runs until it ends or the server stops it (``ended``), for the caller
        to end the stream. One opened while the server is stopping is stopped at its first
        wait."""
        async with interruptible() as block:
            self._open.add(block)
            if self.stopping:
                block.end()
            try:
                yield block
            finally:
                self._open.discard(block)

    def stop_all(self) -> int:
        """Stop every open stream, and every one opened from now on; how many were open."""
        self.stopping = True
        for block in self._open:
            block.end()
        return len(self._open)


def of(scope: Mapping[str, Any]) -> Streams:
    """The streams of the app that serves ``scope`` (made with the app, in ``app.state``)."""
    return cast(Streams, scope["app"].state.streams)
