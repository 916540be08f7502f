"""The body limit, driven as raw ASGI: what reaches the app, and the 413 a client sees instead."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from qrcheckout.http.limits import BodyLimit

Message = dict[str, Any]
LIMIT = 1024
WEBHOOK_PATH = "/v1/webhooks/stripe"
WEBHOOK_LIMIT = 4096


@dataclass
class App:
    """The app behind the limit: reads the whole body, as a route would, and answers 200."""

    calls: int = 0
    body: bytes | None = None
    after_body: Message | None = None

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        self.calls += 1
        if scope["type"] == "http":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self.body = b"".join(chunks)
            self.after_body = await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Exchange:
    """One request through the limit: what the client sent, what it got, and what was read."""

    sent: list[Message] = field(default_factory=list)
    unread: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def headers(self) -> dict[bytes, bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def scope(
    method: str = "POST", path: str = "/v1/orders", length: int | str | None = None
) -> Message:
    headers = [(b"host", b"shop.test"), (b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http", "method": method, "path": path, "headers": headers}


def chunks(*parts: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


def through(app: App, request_scope: Message, messages: list[Message]) -> Exchange:
    exchange = Exchange(unread=list(messages))

    async def receive() -> Message:
        if exchange.unread:
            return exchange.unread.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        exchange.sent.append(message)

    limited = BodyLimit(app, default=LIMIT, per_path={WEBHOOK_PATH: WEBHOOK_LIMIT})
    asyncio.run(limited(request_scope, receive, send))
    return exchange


def assert_too_large(exchange: Exchange, app: App, limit: int) -> None:
    assert exchange.status == 413
    assert app.calls == 0
    assert exchange.headers[b"content-type"] == b"application/json"
    assert int(exchange.headers[b"content-length"]) == len(exchange.body)
    error = json.loads(exchange.body)
    assert error == {
        "error": {
            "code": "payload_too_large",
            "message": f"The request body is larger than {limit} bytes.",
        }
    }


def test_a_body_under_the_limit_reaches_the_app_intact() -> None:
    app = App()
    body = json.dumps({"items": [{"product": "espresso", "quantity": 2}]}).encode()
    exchange = through(app, scope(length=len(body)), chunks(body))
    assert exchange.status == 200
    assert app.body == body


def test_a_chunked_body_without_a_length_reaches_the_app_whole() -> None:
    app = App()
    parts = (b'{"items": [', b'{"product": "tea", ', b'"quantity": 1}]}')
    exchange = through(app, scope(), chunks(*parts))
    assert exchange.status == 200
    assert app.body == b"".join(parts)


def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    app = App()
    exchange = through(app, scope(), chunks(b"a" * 1000, b"b" * (LIMIT - 1000)))
    assert exchange.status == 200
    assert app.body == b"a" * 1000 + b"b" * (LIMIT - 1000)


def test_the_app_still_hears_the_client_leave_after_reading_the_body() -> None:
    app = App()
    through(app, scope(), chunks(b"{}"))
    assert app.after_body == {"type": "http.disconnect"}


def test_an_empty_post_reaches_the_app() -> None:
    app = App()
    exchange = through(app, scope(length=0), chunks(b""))
    assert exchange.status == 200
    assert app.body == b""


def test_a_declared_length_over_the_limit_is_refused_before_the_app() -> None:
    app = App()
    body = b"x" * (LIMIT + 1)
    exchange = through(app, scope(length=len(body)), chunks(body[:600], body[600:]))
    assert_too_large(exchange, app, LIMIT)
    # What the client was still sending was read, so it sees the 413, not a reset.
    assert exchange.unread == []


def test_a_streamed_body_over_the_limit_is_refused_before_the_app() -> None:
    app = App()
    exchange = through(app, scope(), chunks(b"x" * 800, b"x" * 800, b"x" * 800, b"x" * 800))
    assert_too_large(exchange, app, LIMIT)
    assert exchange.unread == []


def test_a_body_longer_than_its_declared_length_is_refused() -> None:
    app = App()
    exchange = through(app, scope(length=10), chunks(b"x" * 10, b"x" * LIMIT))
    assert_too_large(exchange, app, LIMIT)


def test_a_client_that_leaves_mid_body_gets_nothing_and_reaches_no_app() -> None:
    app = App()
    started = {"type": "http.request", "body": b"x" * 100, "more_body": True}
    exchange = through(app, scope(), [started, {"type": "http.disconnect"}])
    assert exchange.sent == []
    assert app.calls == 0


def test_a_path_with_its_own_limit_accepts_more_than_the_default() -> None:
    app = App()
    event = b"e" * (WEBHOOK_LIMIT - 1)
    exchange = through(app, scope(path=WEBHOOK_PATH, length=len(event)), chunks(event))
    assert exchange.status == 200
    assert app.body == event


def test_a_path_with_its_own_limit_refuses_past_it_and_says_which() -> None:
    app = App()
    event = b"e" * (WEBHOOK_LIMIT + 1)
    exchange = through(app, scope(path=WEBHOOK_PATH), chunks(event[:2000], event[2000:]))
    assert_too_large(exchange, app, WEBHOOK_LIMIT)


def test_the_default_limit_holds_on_other_paths() -> None:
    app = App()
    body = b"x" * (LIMIT + 1)
    exchange = through(app, scope(path=WEBHOOK_PATH + "/other", length=len(body)), chunks(body))
    assert_too_large(exchange, app, LIMIT)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_with_a_body_are_limited_too(method: str) -> None:
    app = App()
    body = b"x" * (LIMIT + 1)
    exchange = through(app, scope(method=method, length=len(body)), chunks(body))
    assert_too_large(exchange, app, LIMIT)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_pass_untouched_whatever_they_carry(method: str) -> None:
    app = App()
    big = b"q" * (LIMIT * 3)
    exchange = through(app, scope(method=method, length=len(big)), chunks(big[:LIMIT], big[LIMIT:]))
    assert exchange.status == 200
    assert app.calls == 1
    assert app.body == big


@pytest.mark.parametrize(
    "connection",
    [{"type": "lifespan"}, {"type": "websocket", "path": "/v1/realtime", "headers": []}],
    ids=["lifespan", "websocket"],
)
def test_other_connections_pass_untouched(connection: Message) -> None:
    app = App()
    exchange = through(app, connection, [])
    assert app.calls == 1
    assert exchange.sent == []
