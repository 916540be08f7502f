"""One thread that owns a SQLite connection and runs the writes queued to it, in queue order.

The event loop only queues (it never waits on the disk); whatever is queued when the writer
wakes is applied in one transaction, so a burst of commits costs one fsync.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Write:
    """One statement and the rows it runs for (``executemany``)."""

    sql: str
    rows: list[tuple[Any, ...]]


_Item = list[Write] | threading.Event | None  # a batch, a flush marker, or the stop marker


class Writer:
    """Applies queued batches of writes to ``db`` on its own thread; ``db`` is its alone now."""

    def __init__(self, db: sqlite3.Connection, name: str = "sandbox-store-writer") -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._closed = False
        # A daemon, so a process that never closes its store still exits; close() flushes.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, batch: list[Write]) -> None:
        """Queue ``batch`` to be written in one transaction, after everything queued before it."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if batch:
            self._queue.put(batch)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued so far is written; False if ``timeout`` ran out first
        or the writer is gone."""
        if self._closed:
            return True
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, stop the thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            # However the thread ends, nobody waiting for a flush is left waiting.
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, threading.Event):
                    item.set()

    def _serve(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:  # take the whole backlog: one transaction for all of it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([w for item in items if isinstance(item, list) for w in item])
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
                stop = stop or item is None

    def _write(self, writes: list[Write]) -> None:
        if not writes:
            return
        try:
            self._db.execute("BEGIN")
            for write in writes:
                self._db.executemany(write.sql, write.rows)
            self._db.execute("COMMIT")
        except Exception:
            # Memory stays the truth for this run; the rows are lost to the next one only.
            log.exception("the sandbox could not write its state to SQLite")
            with contextlib.suppress(sqlite3.Error):
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
