"""The sandbox's state: every object it made, kept in memory and written behind to SQLite.

Objects are scoped to an account (``None`` is the platform, else a connected ``acct_``) and
listed newest first, as Stripe lists them. Each record may carry ``extra``: what the sandbox
knows but does not show (a token's test-card behaviour, a session's line items); never a card
number or CVC.

Memory is the truth while the sandbox runs: every read is answered from it, so any thread may
read. SQLite is what the next run starts from: ``commit`` hands the changed rows to a writer
thread and returns at once, so the event loop the sandbox shares never waits on the disk;
``close`` waits for them. The file is its owner's alone (0600), and so are SQLite's ``-wal``
and ``-shm`` files beside it, which SQLite makes with the database's own permissions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrcheckout_sandbox.files import narrow, private_file
from qrcheckout_sandbox.writer import Write, Writer

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    account TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, key)
);
"""


@dataclass
class Record:
    kind: str
    account: str | None
    seq: int
    obj: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.obj["id"])


@dataclass(frozen=True)
class Replay:
    fingerprint: str
    at: int
    status: int
    body: dict[str, Any]


class Store:
    """Objects by id, in creation order; ``path=None`` keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self._records: dict[str, Record] = {}
        self._by_kind: dict[str, dict[str, Record]] = {}
        self._seq = 0
        # Oldest first, so expired keys are dropped from the front.
        self._replays: dict[tuple[str, str], Replay] = {}
        self._dirty: dict[str, Record] = {}
        self._writer: Writer | None = None
        if path is not None:
            self._writer = Writer(self._load(path))

    def _load(self, path: Path) -> sqlite3.Connection:
        private_file(path)
        for suffix in ("-wal", "-shm", "-journal"):
            narrow(path.with_name(path.name + suffix))
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # What is replaced or deleted is overwritten on disk, not left in free pages.
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(SCHEMA)
        for kind, account, seq, body, extra in db.execute(
            "SELECT kind, account, seq, body, extra FROM records ORDER BY seq"
        ):
            self._index(Record(kind, account, seq, json.loads(body), json.loads(extra)))
            self._seq = max(self._seq, seq)
        for account, key, fingerprint, at, status, body in db.execute(
            "SELECT account, key, fingerprint, at, status, body FROM idempotency ORDER BY at"
        ):
            self._replays[account, key] = Replay(fingerprint, at, status, json.loads(body))
        return db

    def wait(self) -> None:
        """Block until everything committed so far is on disk (the loop calls it in a thread)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        self.commit()
        if self._writer is not None:
            self._writer.close()

    # -- objects ------------------------------------------------------------------------------

    def add(
        self, kind: str, obj: dict[str, Any], account: str | None, **extra: Any
    ) -> dict[str, Any]:
        self._seq += 1
        record = Record(kind, account, self._seq, obj, dict(extra))
        self._index(record)
        self._dirty[record.id] = record
        return obj

    def _index(self, record: Record) -> None:
        self._records[record.id] = record
        self._by_kind.setdefault(record.kind, {})[record.id] = record

    def saved(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Mark an object changed in place, so the next commit writes it."""
        self._dirty[str(obj["id"])] = self._records[str(obj["id"])]
        return obj

    def move(self, object_id: str, kind: str) -> None:
        """File an object under another kind (a deleted customer is a ``deleted_customer``)."""
        record = self._records[object_id]
        del self._by_kind[record.kind][object_id]
        record.kind = kind
        self._index(record)
        self._dirty[object_id] = record

    def record(self, object_id: str) -> Record | None:
        return self._records.get(object_id)

    def get(self, kind: str, object_id: str, account: str | None) -> dict[str, Any] | None:
        record = self._records.get(object_id)
        if record is None or record.kind != kind or record.account != account:
            return None
        return record.obj

    def extra(self, object_id: str) -> dict[str, Any]:
        return self._records[object_id].extra

    def find(
        self, kind: str, account: str | None, match: Callable[[Record], bool] | None = None
    ) -> Iterator[Record]:
        """Records of ``kind`` in ``account``, newest first."""
        for record in reversed(list(self._by_kind.get(kind, {}).values())):
            if record.account == account and (match is None or match(record)):
                yield record

    def all_of(self, kind: str) -> list[Record]:
        return list(self._by_kind.get(kind, {}).values())

    def records(self) -> list[Record]:
        """Every record, of every kind, oldest first."""
        return list(self._records.values())

    # -- idempotency ------------------------------------------------------------------------

    def replay(self, account: str | None, key: str, not_before: int) -> Replay | None:
        """The answer remembered for ``key``, unless it is older than ``not_before``."""
        expired = False
        while self._replays:
            oldest = next(iter(self._replays))
            if self._replays[oldest].at >= not_before:
                break
            del self._replays[oldest]
            expired = True
        if expired:
            self._write(Write("DELETE FROM idempotency WHERE at < ?", [(not_before,)]))
        return self._replays.get((account or "", key))

    def forget_replays(self) -> None:
        """Forget every remembered answer."""
        self._replays.clear()
        self._write(Write("DELETE FROM idempotency", [()]))

    def remember(
        self, account: str | None, key: str, fingerprint: str, at: int, status: int, body: Any
    ) -> None:
        self._replays.pop((account or "", key), None)  # a replaced key is the newest again
        self._replays[account or "", key] = Replay(fingerprint, at, status, body)
        self._write(
            Write(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                [(account or "", key, fingerprint, at, status, json.dumps(body))],
            )
        )

    # -- durability -------------------------------------------------------------------------

    def commit(self) -> None:
        """Queue every object changed since the last commit, to be written in one transaction."""
        if not self._dirty:
            return
        # Serialized now, on the caller's thread: the objects keep changing after this returns.
        rows: list[tuple[Any, ...]] = [
            (r.id, r.kind, r.account, r.seq, json.dumps(r.obj), json.dumps(r.extra))
            for r in self._dirty.values()
        ]
        self._dirty = {}
        self._write(Write("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", rows))

    def _write(self, write: Write) -> None:
        if self._writer is not None:
            self._writer.put([write])
