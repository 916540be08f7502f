"""A real qrcheckout server (uvicorn) on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import uvicorn

from qrcheckout.app import create_app
from qrcheckout.config import Settings
from qrcheckout.db import Database
from qrcheckout.http.server import Server
from tests.support import loops

T = TypeVar("T")


def _config(app: Any) -> uvicorn.Config:
    # A test's client keeps its connection between requests, sometimes idle for as long as
    # uvicorn's default keep-alive (5 s): the server closing it just as the client sends on
    # it is a race no test means to examine. Connections stay open for the test's length.
    return uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=600,
        lifespan="on",
    )


class RunningServer:
    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self.settings = settings
        self.url = settings.public_url
        self.app = create_app(settings)
        # The server qrcheckout serve runs: it ends the event streams as it stops.
        self.server = Server(_config(self.app), self.app.state.streams)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        loops.run_to_end(self.loop, self.server.serve(sockets=[self._sock]))

    def start(self) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("qrcheckout test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the test server did not stop within 30 s"

    def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's own loop (its engine and bus live there)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(work(), self.loop).result(timeout=30)

    @property
    def db(self) -> Database:
        db: Database = self.app.state.container.db
        return db

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox

    @property
    def sandbox_key(self) -> str:
        """The one secret key the mounted sandbox takes, as the running app made it."""
        key: str = self.app.state.sandbox_api_key
        return key


@contextlib.contextmanager
def serving(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Any ASGI app (a stand-alone sandbox, say) served on a free loopback port (or ``sock``,
    bound already); its URL."""
    sock = sock or free_socket()
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(
        target=lambda: loops.run_to_end(asyncio.new_event_loop(), server.serve(sockets=[sock])),
        daemon=True,
    )
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=30)
    if not server.started:
        raise RuntimeError("the app did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
