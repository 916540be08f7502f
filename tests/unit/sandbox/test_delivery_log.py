"""The sender's own log keeps only the latest attempts; every attempt still reaches on_attempt."""

from __future__ import annotations

import asyncio

import httpx

from qrcheckout_sandbox.delivery import RECENT_ATTEMPTS, Attempt, Target, WebhookSender


async def _deliver_all(sender: WebhookSender, event_ids: list[str]) -> None:
    await sender.start()
    try:
        for event_id in event_ids:
            sender.send({"id": event_id, "object": "event"}, Target("http://hook.test/", "whsec_x"))
        await asyncio.gather(*sender._tasks)
    finally:
        await sender.stop()


def test_the_log_is_bounded_and_keeps_the_newest() -> None:
    seen: list[Attempt] = []
    sender = WebhookSender(
        log_size=3,
        on_attempt=seen.append,
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    )
    ids = [f"evt_{n}" for n in range(7)]
    asyncio.run(_deliver_all(sender, ids))
    assert len(seen) == 7
    assert sorted(a.event_id for a in sender.log) == sorted(a.event_id for a in seen[-3:])
    assert sender.log.maxlen == 3


def test_retries_are_logged_as_attempts() -> None:
    statuses = iter([500, 503, 200])
    sender = WebhookSender(
        retry_base_seconds=0.001,
        transport=httpx.MockTransport(lambda request: httpx.Response(next(statuses))),
    )
    asyncio.run(_deliver_all(sender, ["evt_1"]))
    assert [(a.attempt, a.status_code, a.succeeded) for a in sender.log] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_the_default_bound() -> None:
    assert WebhookSender().log.maxlen == RECENT_ATTEMPTS
