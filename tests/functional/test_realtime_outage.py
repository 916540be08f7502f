"""Watchers never miss a change when Redis goes away: the bus reconnects, every watcher reads
the database again, and while the bus is down watchers read it every second.

Redis is reached through a TCP proxy (``tests/support/tcp_proxy.py``) that the tests take
down, as if Redis had died, and bring back. Each test prints how soon the watchers had the
payment, measured from when Redis came back (negative: before).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from redis.exceptions import TimeoutError as RedisTimeout
from websockets.asyncio.client import connect

from qrcheckout.realtime.bus import RESYNC, BusUnavailable, RedisBus, Subscription
from tests.conftest import WEBHOOK_SECRET
from tests.support.auth import API_KEY
from tests.support.flows import create_token, pay_page
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import deliver, token_paid
from tests.support.tcp_proxy import TcpProxy

REDIS_URL = os.environ.get("QRCHECKOUT_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="QRCHECKOUT_TEST_REDIS_URL is not set; Redis tests need a server"
)

OUTAGE = 5.0  # seconds Redis stays away
WITHIN = 2.0  # the watchers have the payment at most this long after Redis is back


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    assert REDIS_URL is not None
    target = urlsplit(REDIS_URL)
    running = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield running
    running.close()


def _through(proxy: TcpProxy) -> str:
    assert REDIS_URL is not None
    return f"redis://127.0.0.1:{proxy.port}{urlsplit(REDIS_URL).path}"


def _bus(server: RunningServer) -> RedisBus:
    bus = server.app.state.container.bus
    assert isinstance(bus, RedisBus)
    return bus


def _shared_database(server: RunningServer) -> None:
    if server.db.url.startswith("sqlite"):
        pytest.skip("two instances share one database: PostgreSQL")


class Watcher:
    """A desktop page watching a token over SSE or WebSocket: each state it got, and when."""

    def __init__(self, server: RunningServer, token_id: str, transport: str) -> None:
        self.transport = transport
        self.states: list[tuple[float, dict[str, Any]]] = []
        path = "events" if transport == "sse" else "ws"
        self.url = f"{server.url}/v1/tokens/{token_id}/{path}"
        run = self._sse if transport == "sse" else self._ws
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def _sse(self) -> None:
        with httpx.stream("GET", self.url, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    self.states.append((time.monotonic(), json.loads(line[6:])))

    def _ws(self) -> None:
        async def run() -> None:
            async with connect(self.url.replace("http://", "ws://")) as ws:
                async for raw in ws:
                    self.states.append((time.monotonic(), json.loads(raw)["data"]))

        asyncio.run(run())

    def statuses(self) -> list[str]:
        return [state["status"] for _, state in self.states]

    def arrived(self, status: str) -> float | None:
        return next((at for at, state in self.states if state["status"] == status), None)

    def ended(self, timeout: float) -> list[str]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the {self.transport} stream did not end"
        return self.statuses()


def _watch(server: RunningServer, token_id: str) -> list[Watcher]:
    watchers = [Watcher(server, token_id, transport) for transport in ("sse", "ws")]
    wait_until(lambda: all(w.states for w in watchers))
    return watchers


def _opened(server: RunningServer) -> tuple[dict[str, Any], str]:
    created = create_token(server)
    return created, pay_page(server, created["id"]).rsplit("/", 1)[1]


def _pay(server: RunningServer, created: dict[str, Any], session_id: str) -> dict[str, Any]:
    """Stripe's signed ``checkout.session.completed`` for the token; the event it sent."""
    event = token_paid(created, session_id)
    response = deliver(server.client, event, WEBHOOK_SECRET)
    assert response.status_code == 200, response.text
    return event


def _outage(proxy: TcpProxy, *buses: RedisBus) -> float:
    """Take Redis away; when it went, once the buses have noticed."""
    proxy.down()
    went = time.monotonic()
    wait_until(lambda: not any(bus.live for bus in buses), 2)
    return went


def _back(proxy: TcpProxy, went: float) -> float:
    """Bring Redis back ``OUTAGE`` seconds after it went; when it came back."""
    time.sleep(max(0.0, went + OUTAGE - time.monotonic()))
    proxy.up()
    return time.monotonic()


def _paid_in_time(watchers: list[Watcher], back: float, paid: float, case: str) -> None:
    for watcher in watchers:
        assert watcher.ended(WITHIN + 5) == ["inprogress", "success"]
        arrived = watcher.arrived("success")
        assert arrived is not None
        print(
            f"\n{case} ({watcher.transport}): success {arrived - back:+.3f} s from Redis's "
            f"return, {arrived - paid:.3f} s after the payment"
        )
        assert arrived - back <= WITHIN


def test_a_payment_made_while_redis_is_down_reaches_the_watchers(
    make_server: Any, proxy: TcpProxy
) -> None:
    server = make_server(bus_url=_through(proxy))
    bus = _bus(server)
    created, session_id = _opened(server)
    watchers = _watch(server, created["id"])

    went = _outage(proxy, bus)
    _pay(server, created, session_id)  # the bus's failure does not fail the webhook
    paid = time.monotonic()
    back = _back(proxy, went)
    _paid_in_time(watchers, back, paid, "one instance")

    # The bus is subscribed again: the next payment comes through Redis.
    wait_until(lambda: bus.live, WITHIN)
    print(f"\none instance: the bus was live again {time.monotonic() - back:.3f} s after")
    created, session_id = _opened(server)
    watchers = _watch(server, created["id"])
    _pay(server, created, session_id)
    assert all(watcher.ended(5) == ["inprogress", "success"] for watcher in watchers)


def test_a_watcher_on_another_instance_gets_the_payment_through_the_outage(
    make_server: Any, proxy: TcpProxy
) -> None:
    # Both instances reach Redis through the proxy: the outage cuts both.
    paying = make_server(bus_url=_through(proxy))
    _shared_database(paying)
    watching = make_server(bus_url=_through(proxy), seed_demo_catalog=False)
    created, session_id = _opened(paying)
    watchers = _watch(watching, created["id"])

    went = _outage(proxy, _bus(paying), _bus(watching))
    _pay(paying, created, session_id)
    paid = time.monotonic()
    back = _back(proxy, went)
    _paid_in_time(watchers, back, paid, "two instances, polling")
    # The watching instance read the database while its bus was down: Paid came before Redis.
    assert all((w.arrived("success") or back) < back for w in watchers)


def test_watchers_read_the_database_again_when_their_bus_is_back(
    make_server: Any, proxy: TcpProxy
) -> None:
    assert REDIS_URL is not None
    paying = make_server(bus_url=REDIS_URL)
    _shared_database(paying)
    watching = make_server(bus_url=_through(proxy), seed_demo_catalog=False)
    # No polling within this test: only the resync on reconnecting can tell the watchers.
    watching.settings.watch_poll_seconds = 3600
    created, session_id = _opened(paying)
    watchers = _watch(watching, created["id"])

    went = _outage(proxy, _bus(watching))
    _pay(paying, created, session_id)  # published, but the watching instance is not listening
    paid = time.monotonic()
    back = _back(proxy, went)
    _paid_in_time(watchers, back, paid, "resync on reconnect")


def test_an_instance_that_could_not_publish_tells_the_others_once_back(
    make_server: Any, proxy: TcpProxy
) -> None:
    assert REDIS_URL is not None
    paying = make_server(bus_url=_through(proxy))
    _shared_database(paying)
    watching = make_server(bus_url=REDIS_URL, seed_demo_catalog=False)
    created, session_id = _opened(paying)
    watchers = _watch(watching, created["id"])

    went = _outage(proxy, _bus(paying))
    _pay(paying, created, session_id)  # only the paying instance has lost Redis
    paid = time.monotonic()
    time.sleep(1.0)
    # The watching instance's bus is live, so it trusts it and does not read the database.
    assert all(w.statuses() == ["inprogress"] for w in watchers)
    back = _back(proxy, went)
    _paid_in_time(watchers, back, paid, "unsent topics announced")


def test_the_stripe_event_stream_keeps_streaming_after_redis_comes_back(
    make_server: Any, proxy: TcpProxy
) -> None:
    # The platform's key: it may follow every event.
    server = make_server(bus_url=_through(proxy), api_key=API_KEY)
    bus = _bus(server)
    during, during_session = _opened(server)
    after, after_session = _opened(server)
    url = server.url.replace("http://", "ws://") + f"/v1/realtime/stripe?access_token={API_KEY}"

    async def received(ws: Any, event: dict[str, Any]) -> bool:
        # Other tests' servers share Redis's channels: their events may come through too.
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "event" and message["data"]["id"] == event["id"]:
                    return True

    async def scenario() -> None:
        async with connect(url) as ws:
            assert json.loads(await ws.recv())["type"] == "subscribed"
            went = await asyncio.to_thread(_outage, proxy, bus)
            # Redis cannot carry it, but this instance's own subscribers still get it.
            event = await asyncio.to_thread(_pay, server, during, during_session)
            assert await received(ws, event)
            await asyncio.to_thread(_back, proxy, went)
            await asyncio.to_thread(wait_until, lambda: bus.live, WITHIN)
            event = await asyncio.to_thread(_pay, server, after, after_session)
            assert await received(ws, event)

    asyncio.run(asyncio.wait_for(scenario(), 30))


async def _resync(sub: Subscription, live: bool, within: float) -> None:
    """Wait for a resync signal that came with the bus going ``live`` (or down)."""
    async with asyncio.timeout(within):
        while not (await sub.receive() is RESYNC and sub.live == live):
            pass


async def _message(sub: Subscription, within: float = 2) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while (item := await sub.receive()) is RESYNC:
            pass
        return item


def test_the_redis_bus_reconnects_and_signals_a_resync(proxy: TcpProxy) -> None:
    assert REDIS_URL is not None

    async def scenario() -> None:
        bus = RedisBus(_through(proxy), timeout=0.3, idle_seconds=0.3)
        other = RedisBus(REDIS_URL)
        await bus.start()
        await other.start()
        try:
            async with bus.subscribe("outage:a") as sub, other.subscribe("outage:b") as theirs:
                await other.publish("outage:a", {"n": 1})
                assert await _message(sub) == {"n": 1}

                # Cut: noticed at once, publishing refused at once (delivered here all the same).
                await asyncio.to_thread(proxy.down)
                await _resync(sub, live=False, within=1)
                started = time.monotonic()
                for topic in ("outage:a", "outage:b"):
                    with pytest.raises(BusUnavailable):
                        await bus.publish(topic, {"n": 2})
                assert time.monotonic() - started < 0.1
                assert await _message(sub) == {"n": 2}
                await asyncio.to_thread(proxy.up)
                await _resync(sub, live=True, within=WITHIN)
                # The other instance is told to read outage:b again; messages flow once more.
                await _resync(theirs, live=True, within=WITHIN)
                await other.publish("outage:a", {"n": 4})
                assert await _message(sub) == {"n": 4}

                # Silent: no error, no bytes. Publishing gives up after the timeout, and the
                # unanswered ping gives the connection away.
                await asyncio.to_thread(proxy.stall)
                started = time.monotonic()
                with pytest.raises((BusUnavailable, RedisTimeout)):
                    await bus.publish("outage:c", {"n": 5})
                assert time.monotonic() - started < 1
                await _resync(sub, live=False, within=2)
                await asyncio.to_thread(proxy.up)
                await _resync(sub, live=True, within=WITHIN)
                await other.publish("outage:a", {"n": 5})
                assert await _message(sub) == {"n": 5}
        finally:
            await bus.stop()
            await other.stop()

    asyncio.run(scenario())
