"""A watch sent as Server-Sent Events: its states as named events, keepalives as comments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from qrcheckout.realtime.watch import Watch

# How long a client waits before it connects again after the stream drops.
RETRY_MS = 2000


def event_stream(
    watch: Watch,
    event: str,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
) -> StreamingResponse:
    """Each state of an opened ``watch`` as ``event``. With ``still_allowed``, asked before
    each state or keepalive, the stream ends with a ``signed-out`` event once it says no."""

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        async for state in watch.states():
            if still_allowed is not None and not await still_allowed():
                yield "event: signed-out\ndata: {}\n\n"
                return
            yield f"event: {event}\ndata: {json.dumps(state)}\n\n" if state else ": keepalive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Also closes the subscription when the client left before the stream began.
        background=BackgroundTask(watch.close),
    )
