"""Token routes: create, read, QR images, cancel, and live status over SSE and WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from qrcheckout.checkout import qr
from qrcheckout.checkout.schemas import TokenCreate, TokenOut
from qrcheckout.checkout.service import CheckoutService, token_topic
from qrcheckout.checkout.states import TERMINAL
from qrcheckout.errors import NotFound
from qrcheckout.http.deps import BusDep, Tokens
from qrcheckout.realtime.bus import Bus

router = APIRouter(tags=["tokens"])

# Keeps idle connections (and the proxies between) from timing out.
KEEPALIVE_SECONDS = 15.0


@router.post("/v1/tokens", status_code=201, response_model=TokenOut)
async def create_token(body: TokenCreate, tokens: Tokens) -> TokenOut:
    return tokens.to_out(await tokens.create(body))


@router.get("/v1/tokens/{token_id}", response_model=TokenOut)
async def get_token(token_id: str, tokens: Tokens) -> TokenOut:
    return tokens.to_out(await tokens.get(token_id))


@router.post("/v1/tokens/{token_id}/cancel", response_model=TokenOut)
async def cancel_token(token_id: str, tokens: Tokens) -> TokenOut:
    return tokens.to_out(await tokens.cancel(token_id))


@router.get("/v1/tokens/{token_id}/qr.{fmt}")
async def token_qr(
    token_id: str,
    fmt: Literal["svg", "png"],
    tokens: Tokens,
    payload: Literal["url", "json"] = Query("url"),
) -> Response:
    data = qr.payload(tokens.to_out(await tokens.get(token_id)), payload)
    if fmt == "svg":
        return Response(qr.svg(data), media_type="image/svg+xml")
    return Response(qr.png(data), media_type="image/png")


class _Watch:
    """One watcher of a token: subscribed before the token is read, so no change falls
    between the read and the watch; the current state first, then each change, ending
    after a terminal state."""

    def __init__(self, service: CheckoutService, bus: Bus, token_id: str) -> None:
        self.service = service
        self.token_id = token_id
        self.sub = bus.subscribe(token_topic(token_id))
        self.current: dict[str, Any] = {}

    async def open(self) -> None:
        """Subscribe and read the token; an unknown token raises 404 and leaves nothing open."""
        await self.sub.__aenter__()
        try:
            self.current = self.service.message(await self.service.get(self.token_id))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self.sub.__aexit__(None, None, None)

    async def states(self) -> AsyncIterator[dict[str, Any]]:
        """The states to send; ``{}`` asks for a keepalive."""
        try:
            yield self.current
            while self.current["status"] not in TERMINAL:
                try:
                    message = await asyncio.wait_for(self.sub.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield {}
                    continue
                if message != self.current:
                    self.current = message
                    yield message
        finally:
            await self.close()


@router.get("/v1/tokens/{token_id}/events")
async def token_events(token_id: str, tokens: Tokens, bus: BusDep) -> StreamingResponse:
    watch = _Watch(tokens, bus, token_id)
    await watch.open()  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for state in watch.states():
            if not state:
                yield ": keepalive\n\n"
                continue
            yield f"event: token\ndata: {json.dumps(state)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Also closes the subscription when the client left before the stream began.
        background=BackgroundTask(watch.close),
    )


@router.websocket("/v1/tokens/{token_id}/ws")
async def token_ws(websocket: WebSocket, token_id: str, tokens: Tokens, bus: BusDep) -> None:
    watch = _Watch(tokens, bus, token_id)
    try:
        await watch.open()
    except NotFound:
        await websocket.close(code=4404, reason="token not found")
        return
    try:
        await websocket.accept()
        async for state in watch.states():
            if state:
                await websocket.send_json({"type": "token", "data": state})
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
    finally:
        await watch.close()
