"""A watch sent as Server-Sent Events: its states as named events, keepalives as comments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from qrcheckout.realtime import streams
from qrcheckout.realtime.watch import Watch, as_json, until_hangup

# How long a client waits before it connects again after the stream drops.
RETRY_MS = 2000
KEEPALIVE = b": keepalive\n\n"


class EventStream(StreamingResponse):
    """A stream that ends when its client leaves, without Starlette's task group per stream:
    the request's own task sends, and one plain task waits for the client to hang up."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with (
                streams.of(scope).open() as stream,
                until_hangup(receive, "http.disconnect"),
            ):
                await self.stream_response(send)
            if stream.ended:
                # The server is stopping: the stream ends, and its client connects again.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client left: servers of ASGI 2.4 say so by failing the send
        finally:
            if self.background is not None:
                await self.background()


def event_stream(
    watch: Watch,
    event: str,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
) -> StreamingResponse:
    """Each state of an opened ``watch`` as ``event``. With ``still_allowed``, asked before
    each state or keepalive, the stream ends with a ``signed-out`` event once it says no."""
    prefix = f"event: {event}\ndata: "

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        async for state in watch.states():
            if still_allowed is not None and not await still_allowed():
                yield b"event: signed-out\ndata: {}\n\n"
                return
            yield (prefix + as_json(state) + "\n\n").encode() if state else KEEPALIVE

    return EventStream(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Also closes the subscription when the client left before the stream began.
        background=BackgroundTask(watch.close),
    )
