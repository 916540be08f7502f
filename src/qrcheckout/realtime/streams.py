"""The app's open event streams (SSE), ended cleanly when the server stops.

A stopping server closes its idle connections and closes each WebSocket with 1012 (Service
Restart), but it cannot end a streaming response: it waits out its grace period for streams
that never end by themselves, then cancels each one and logs it as a failure. Here each SSE
stream is stopped at once and ends as a response ends; its ``EventSource`` connects again
after the stream's ``retry``, to another instance if there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast


class Stream:
    """One open stream: ``stopped`` once the server has stopped it."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


class Streams:
    def __init__(self) -> None:
        self._open: set[asyncio.Task[object]] = set()
        self._stopping: set[asyncio.Task[object]] = set()
        self.stopping = False

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[Stream]:
        """The block runs until it ends or the server stops it: then it is cancelled and
        left quietly, with ``stopped`` set, for the caller to end the stream. One opened
        while the server is stopping is stopped at its first wait."""
        task = asyncio.current_task()
        assert task is not None
        stream = Stream()
        self._open.add(task)
        if self.stopping:
            self._stop(task)
        try:
            yield stream
        except asyncio.CancelledError:
            if task not in self._stopping or task.uncancel():
                raise  # cancelled from elsewhere too
            stream.stopped = True
        finally:
            self._open.discard(task)
            self._stopping.discard(task)

    def stop_all(self) -> int:
        """Stop every open stream, and every one opened from now on; how many were open."""
        self.stopping = True
        for task in list(self._open):
            self._stop(task)
        return len(self._open)

    def _stop(self, task: asyncio.Task[object]) -> None:
        if task not in self._stopping:
            self._stopping.add(task)
            task.cancel()


def of(scope: Mapping[str, Any]) -> Streams:
    """The streams of the app that serves ``scope`` (made with the app, in ``app.state``)."""
    return cast(Streams, scope["app"].state.streams)
