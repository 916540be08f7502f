"""``/v1/realtime/stripe``: every Stripe event the service accepted, over WebSocket, filtered
by a selector (``?selector=id = 'ch_...'``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from qrcheckout.http.deps import BusDep, Webhooks
from qrcheckout.realtime import selector

router = APIRouter(tags=["realtime"])

KEEPALIVE_SECONDS = 15.0


@router.websocket("/v1/realtime/stripe")
async def stripe_channel(
    websocket: WebSocket, bus: BusDep, intake: Webhooks, selector_text: str = ""
) -> None:
    text = websocket.query_params.get("selector", selector_text)
    try:
        wanted = selector.parse(text) if text else None
    except selector.SelectorError as exc:
        # Accepted first: a close before the handshake reaches the client as a bare 403.
        await websocket.accept()
        await websocket.close(code=4400, reason=f"bad selector: {exc}"[:120])
        return
    # Subscribed before the client is told so, so no event falls between the two.
    channel = intake.channel
    async with bus.subscribe(channel) as sub:
        try:
            await websocket.accept()
            await websocket.send_json(
                {"type": "subscribed", "channel": channel, "selector": text or None}
            )
            while True:
                try:
                    message = await asyncio.wait_for(sub.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await websocket.send_json({"type": "keepalive"})
                    continue
                if wanted is None or wanted.matches(message["payload"]):
                    await websocket.send_json(
                        {"type": "event", "channel": channel, "data": message}
                    )
        except WebSocketDisconnect:
            return
