"""The store: memory answers every read; SQLite, written behind by its own thread, survives."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from qrcheckout_sandbox.store import Store
from qrcheckout_sandbox.writer import Write, Writer


def _obj(object_id: str, **fields: object) -> dict[str, object]:
    return {"id": object_id, "object": "thing", **fields}


def test_objects_survive_a_reopen_in_order_with_their_account_and_extra(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    store.add("customer", _obj("cus_1", email="a@x.test"), None)
    store.add("customer", _obj("cus_2"), "acct_1", secret="kept")
    store.add("charge", _obj("ch_1", amount=500), None)
    store.commit()
    store.close()

    again = Store(path)
    assert [r.id for r in again.all_of("customer")] == ["cus_1", "cus_2"]
    assert [r.id for r in again.find("customer", "acct_1")] == ["cus_2"]
    assert again.extra("cus_2") == {"secret": "kept"}
    assert again.get("charge", "ch_1", None) == _obj("ch_1", amount=500)
    # New objects still sort after the old ones.
    again.add("customer", _obj("cus_3"), None)
    assert [r.id for r in again.find("customer", None)] == ["cus_3", "cus_1"]
    again.close()


def test_changes_in_place_and_moves_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    customer = store.add("customer", _obj("cus_1", email=None), None)
    store.add("customer", _obj("cus_2"), None)
    store.commit()
    customer["email"] = "new@x.test"
    store.saved(customer)
    store.move("cus_2", "deleted_customer")
    store.close()  # commits what is left, then waits for the disk

    again = Store(path)
    assert again.get("customer", "cus_1", None) == _obj("cus_1", email="new@x.test")
    assert [r.id for r in again.all_of("customer")] == ["cus_1"]
    assert [r.id for r in again.all_of("deleted_customer")] == ["cus_2"]
    again.close()


def _rows_on_disk(path: Path) -> list[str]:
    check = sqlite3.connect(str(path))
    try:
        return [row[0] for row in check.execute("SELECT id FROM records ORDER BY seq")]
    finally:
        check.close()


def test_wait_returns_once_committed_rows_are_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    store.add("customer", _obj("cus_1"), None)
    store.commit()
    store.wait()
    assert _rows_on_disk(path) == ["cus_1"]
    store.close()


def test_commit_returns_before_the_disk_is_written(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    writer = store._writer
    assert writer is not None
    gate = threading.Event()
    original = writer._write

    def held(writes: list[Write]) -> None:  # a slow disk
        gate.wait(5)
        original(writes)

    writer._write = held  # type: ignore[method-assign]
    store.add("customer", _obj("cus_1"), None)
    store.commit()
    assert [r.id for r in store.all_of("customer")] == ["cus_1"]  # memory has it at once
    assert _rows_on_disk(path) == []
    gate.set()
    store.close()
    assert _rows_on_disk(path) == ["cus_1"]


def test_idempotent_answers_survive_a_reopen_and_expire(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    store.remember(None, "old", "f0", 100, 200, {"id": "pi_0"})
    store.remember("acct_1", "key", "f1", 1000, 200, {"id": "pi_1"})
    store.remember(None, "key", "f2", 1001, 402, {"error": {"code": "card_declined"}})
    store.close()

    again = Store(path)
    mine = again.replay(None, "key", not_before=500)
    assert mine is not None
    assert (mine.fingerprint, mine.at, mine.status, mine.body) == (
        "f2",
        1001,
        402,
        {"error": {"code": "card_declined"}},
    )
    theirs = again.replay("acct_1", "key", not_before=500)
    assert theirs is not None and theirs.body == {"id": "pi_1"}
    assert again.replay(None, "old", not_before=500) is None
    assert again.replay("acct_1", "key", not_before=1001) is None  # now too old
    again.close()

    third = Store(path)  # the expired keys were deleted from disk too
    assert third.replay(None, "old", not_before=0) is None
    assert third.replay("acct_1", "key", not_before=0) is None
    assert third.replay(None, "key", not_before=0) is not None
    third.close()


def test_a_key_remembered_again_is_replaced() -> None:
    store = Store(None)
    store.remember(None, "key", "f1", 100, 200, {"n": 1})
    store.remember(None, "other", "f2", 150, 200, {"n": 2})
    store.remember(None, "key", "f3", 200, 200, {"n": 3})
    # ``key`` is now the newest: expiring up to 160 keeps it.
    assert store.replay(None, "other", not_before=160) is None
    replay = store.replay(None, "key", not_before=160)
    assert replay is not None and replay.body == {"n": 3}
    store.close()


def test_a_store_without_a_path_keeps_everything_in_memory() -> None:
    store = Store(None)
    store.add("customer", _obj("cus_1"), None)
    store.commit()
    store.wait()
    assert store.record("cus_1") is not None
    store.close()


def test_the_writer_applies_batches_in_order_and_flush_waits(tmp_path: Path) -> None:
    db = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    writer = Writer(db)
    for value in range(200):
        writer.put([Write("INSERT OR REPLACE INTO t VALUES (?, ?)", [("k", value)])])
    assert writer.flush(timeout=10)
    check = sqlite3.connect(str(tmp_path / "w.db"))
    assert check.execute("SELECT v FROM t").fetchall() == [(199,)]
    check.close()
    writer.close()


def test_a_failed_write_is_logged_and_the_writer_goes_on(tmp_path: Path) -> None:
    db = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    writer = Writer(db)
    writer.put([Write("INSERT INTO nowhere VALUES (?)", [("x",)])])
    assert writer.flush(timeout=10)
    writer.put([Write("INSERT INTO t VALUES (?)", [("y",)])])
    writer.close()
    check = sqlite3.connect(str(tmp_path / "w.db"))
    assert check.execute("SELECT k FROM t").fetchall() == [("y",)]
    check.close()
