"""Session expiry: a heap by expires_at, so a tick touches only the sessions that are due."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from qrcheckout_sandbox import checkout
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.delivery import WebhookSender
from qrcheckout_sandbox.expiry import ExpiryIndex
from qrcheckout_sandbox.store import Store

HOUR = 3600


def test_due_takes_out_only_what_is_due_earliest_first() -> None:
    index = ExpiryIndex()
    for object_id, deadline in (("c", 30), ("a", 10), ("late", 100), ("b", 20), ("a2", 10)):
        index.add(object_id, deadline)
    assert list(index.due(5)) == []
    assert list(index.due(20)) == ["a", "a2", "b"]  # ties in the order added
    assert len(index) == 2
    assert list(index.due(30)) == ["c"]
    assert list(index.due(99)) == []
    assert list(index.due(100)) == ["late"]
    assert len(index) == 0


def test_an_interrupted_tick_leaves_the_rest_for_the_next() -> None:
    index = ExpiryIndex()
    for n in range(3):
        index.add(f"s{n}", n)
    due = index.due(10)
    assert next(due) == "s0"
    del due
    assert list(index.due(10)) == ["s1", "s2"]


def _engine(store: Store) -> Engine:
    return Engine(store, WebhookSender(), None)


def _session(engine: Engine, expires_at: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://shop.test/ok",
        "line_items": [
            {
                "quantity": "1",
                "price_data": {
                    "currency": "usd",
                    "unit_amount": "500",
                    "product_data": {"name": "Tea"},
                },
            }
        ],
    }
    if expires_at is not None:
        params["expires_at"] = str(expires_at)
    return checkout.create_session(Ctx(engine, None), params, "http://sandbox.test")


def test_a_tick_expires_the_due_sessions_and_skips_the_closed() -> None:
    engine = _engine(Store(None))
    now = int(time.time())
    soon = _session(engine, now + HOUR)
    paid_early = _session(engine, now + HOUR)
    later = _session(engine)  # the default: a day
    paid_early["status"] = "complete"
    assert len(engine.session_expiry) == 3

    checkout.expire_due(engine, now + HOUR)
    assert (soon["status"], paid_early["status"], later["status"]) == (
        "expired",
        "complete",
        "open",
    )
    assert len(engine.session_expiry) == 1  # only ``later`` is left to look at
    events = [r.obj["type"] for r in engine.store.all_of("event")]
    assert events.count("checkout.session.expired") == 1

    checkout.expire_due(engine, now + 25 * HOUR)
    assert later["status"] == "expired"


def test_the_schedule_is_rebuilt_on_load_from_open_sessions_only(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    engine = _engine(Store(path))
    now = int(time.time())
    open_one = _session(engine, now + HOUR)
    expired = _session(engine, now + HOUR)
    checkout.expire_session(Ctx(engine, None), expired["id"])
    engine.store.commit()
    engine.store.close()

    reloaded = _engine(Store(path))
    checkout.schedule_open_sessions(reloaded)
    assert len(reloaded.session_expiry) == 1
    assert list(reloaded.session_expiry.due(now + HOUR)) == [open_one["id"]]
    reloaded.store.close()
