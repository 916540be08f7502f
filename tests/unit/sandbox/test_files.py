"""The sandbox's files are its owner's alone, and an older state file forgets its card numbers."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from qrcheckout_sandbox.app import KEY_SUFFIX, Sandbox
from qrcheckout_sandbox.cards import unkeyed_fingerprint
from qrcheckout_sandbox.files import kept_key
from qrcheckout_sandbox.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_file_and_sqlites_files_beside_it_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "sandbox.db"
    store = Store(path)
    store.add("customer", {"id": "cus_1", "object": "customer"}, None)
    store.commit()
    store.wait()
    names = {p.name for p in path.parent.iterdir()}
    assert names == {"sandbox.db", "sandbox.db-wal", "sandbox.db-shm"}
    assert {p.name: _mode(p) for p in path.parent.iterdir()} == dict.fromkeys(names, 0o600)
    assert _mode(path.parent) == _mode(path.parent.parent) == 0o700
    store.close()
    assert _mode(path) == 0o600


def test_files_an_older_run_left_open_are_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    Store(path).close()
    for name in ("sandbox.db", "sandbox.db-wal"):
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    Store(path).close()
    assert _mode(path) == 0o600
    wal = tmp_path / "sandbox.db-wal"
    assert not wal.exists() or _mode(wal) == 0o600


def test_a_kept_key_is_made_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "sandbox.key"
    key = kept_key(path)
    assert len(key) == 32 and kept_key(path) == key
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_an_older_state_file_forgets_its_card_numbers_but_not_their_behaviour(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sandbox.db"
    old = Store(path)
    reversible = unkeyed_fingerprint("4000000000000002")
    method = {"id": "pm_old", "object": "payment_method", "card": {"fingerprint": reversible}}
    old.add("payment_method", method, None, number="4000000000000002", exp_month=12, exp_year=2040)
    old.add("event", {"id": "evt_old", "object": "event", "data": {"object": method}}, None)
    old.remember(None, "idem-1", "an unkeyed hash of the request", 1, 200, method)
    old.add(
        "token",
        {"id": "tok_old", "object": "token", "used": False},
        None,
        number="5555555555554444",
        exp_month=1,
        exp_year=2041,
    )
    old.close()
    assert b"4000000000000002" in path.read_bytes()

    sandbox = Sandbox(public_base="http://sandbox.test", state_path=path)
    kept = sandbox.store.extra("pm_old")["card"]
    assert (kept["last4"], kept["decline_code"], kept["exp_year"]) == (
        "0002",
        "generic_decline",
        2040,
    )
    assert sandbox.store.extra("tok_old")["card"]["brand"] == "mastercard"
    keyed = kept["fingerprint"]
    assert keyed != reversible
    assert sandbox.object("pm_old")["card"]["fingerprint"] == keyed
    assert sandbox.object("evt_old")["data"]["object"]["card"]["fingerprint"] == keyed
    assert sandbox.store.replay(None, "idem-1", 0) is None
    assert (tmp_path / ("sandbox.db" + KEY_SUFFIX)).exists()
    sandbox.store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"4000000000000002" not in on_disk and b"5555555555554444" not in on_disk
    db = sqlite3.connect(str(path))
    try:
        extras = [row[0] for row in db.execute("SELECT extra FROM records")]
    finally:
        db.close()
    assert not any('"number"' in extra for extra in extras)
    assert reversible.encode() not in on_disk
