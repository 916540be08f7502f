"""``/v1/realtime/{provider}``: every event of a provider's (``stripe``, ``paypal``) the service
accepted, over WebSocket, filtered by a selector (``?selector=id = 'ch_...'``)."""

from __future__ import annotations

import asyncio
import contextlib

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Principal
from qrcheckout.errors import DomainError, Unauthenticated, Unavailable
from qrcheckout.http.deps import BusDep, Webhooks, principal, still_holds
from qrcheckout.realtime import selector

router = APIRouter(tags=["realtime"])

KEEPALIVE_SECONDS = 15.0
# How often an open stream checks that its credential still holds.
RECHECK_SECONDS = 5.0
# Whose an event is: used to filter it, not shown.
OWNERSHIP = ("merchant_id", "user_id")


@router.websocket("/v1/realtime/{provider}")
async def provider_channel(
    websocket: WebSocket, bus: BusDep, intake: Webhooks, selector_text: str = ""
) -> None:
    """A merchant's key sees its own events; a buyer's JWT the events of its own checkouts;
    the platform's key all. Send it in ``Authorization`` or ``?access_token=``."""
    try:
        access = Access(await principal(websocket))
        access.grants(Resource.EVENT, Action.SUBSCRIBE)
    except DomainError as exc:
        # Accepted first: a close before the handshake reaches the client as a bare 403.
        await websocket.accept()
        code = 4401 if isinstance(exc, Unauthenticated) else 4403
        await websocket.close(code=code, reason=exc.message[:120])
        return
    text = websocket.query_params.get("selector", selector_text)
    try:
        wanted = selector.parse(text) if text else None
    except selector.SelectorError as exc:
        # Accepted first: a close before the handshake reaches the client as a bare 403.
        await websocket.accept()
        await websocket.close(code=4400, reason=f"bad selector: {exc}"[:120])
        return
    if not await bus.ping():
        # These events reach a watcher only over the bus: without it, say so (a 503 at the
        # handshake) rather than accept and stay silent.
        raise Unavailable(
            "bus_unavailable", "Live events cannot be followed right now; try again shortly."
        )
    # Subscribed before the client is told so, so no event falls between the two.
    channel = intake.channel
    async with bus.subscribe(channel) as sub, anyio.create_task_group() as tasks:
        await websocket.accept()
        await websocket.send_json(
            {"type": "subscribed", "channel": channel, "selector": text or None}
        )
        # The client sends nothing; reading is how its leaving is noticed at once.
        tasks.start_soon(_until_closed, websocket, tasks.cancel_scope)
        tasks.start_soon(_while_credential_holds, websocket, access.principal, tasks.cancel_scope)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        message = await sub.get()
                except TimeoutError:
                    await websocket.send_json({"type": "keepalive"})
                    continue
                if access.allows(Resource.EVENT, Action.SUBSCRIBE, message) is None:
                    continue
                if wanted is None or wanted.matches(message["payload"]):
                    shown = {k: v for k, v in message.items() if k not in OWNERSHIP}
                    await websocket.send_json({"type": "event", "channel": channel, "data": shown})
        tasks.cancel_scope.cancel()


async def _while_credential_holds(
    websocket: WebSocket, caller: Principal, stream: anyio.CancelScope
) -> None:
    """A revoked key or an expired token ends the stream (4401) within ``RECHECK_SECONDS``."""
    while await still_holds(websocket, caller):  # noqa: ASYNC110 (a check every few seconds)
        await anyio.sleep(RECHECK_SECONDS)
    with contextlib.suppress(Exception):  # the client may be gone already
        await websocket.close(code=4401, reason="The credential is no longer valid.")
    stream.cancel()


async def _until_closed(websocket: WebSocket, stream: anyio.CancelScope) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
    stream.cancel()
