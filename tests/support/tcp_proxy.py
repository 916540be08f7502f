"""A TCP proxy on a loopback port, in a thread of its own, that can play dead: ``down()`` cuts
every connection and stops listening (the target looks gone), ``up()`` listens again;
``stall()`` holds every byte back with the connections left open (a silent network)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any

from tests.support import loops


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0  # chosen by the first ``up()``, then kept
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()

    def start(self) -> TcpProxy:
        self._thread.start()
        self.up()
        return self

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def stall(self) -> None:
        self._call(self._stall())

    def close(self) -> None:
        self._call(self._down())  # the pipes it cut are let finish by ``loops.end``
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        loops.end(self._loop)

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _up(self) -> None:
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _stall(self) -> None:
        self._flowing.clear()

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        self._flowing.set()  # a stalled copy lets go of its cut connection

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ends = [writer]
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            ends.append(up_writer)
            self._writers.add(up_writer)
            await asyncio.gather(self._copy(reader, up_writer), self._copy(up_reader, writer))
        except OSError:
            pass  # the target is not there: the client's connection is cut
        finally:
            # Also when cancelled: a connection is closed here, never left to the collector.
            for end in ends:
                end.transport.abort()
                self._writers.discard(end)

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
