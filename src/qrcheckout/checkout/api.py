"""Token routes: create, read, QR images, cancel, and live status over SSE and WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse

from qrcheckout.checkout import qr
from qrcheckout.checkout.schemas import TokenCreate, TokenOut
from qrcheckout.checkout.service import CheckoutService, token_topic
from qrcheckout.checkout.states import TERMINAL
from qrcheckout.errors import APIError

router = APIRouter(tags=["tokens"])

# Keeps idle connections (and the proxies between) from timing out.
KEEPALIVE_SECONDS = 15.0


def _service(request: Request) -> CheckoutService:
    service: CheckoutService = request.app.state.checkout
    return service


@router.post("/v1/tokens", status_code=201, response_model=TokenOut)
async def create_token(body: TokenCreate, request: Request) -> TokenOut:
    service = _service(request)
    return service.to_out(await service.create(body))


@router.get("/v1/tokens/{token_id}", response_model=TokenOut)
async def get_token(token_id: str, request: Request) -> TokenOut:
    service = _service(request)
    return service.to_out(await service.get(token_id))


@router.post("/v1/tokens/{token_id}/cancel", response_model=TokenOut)
async def cancel_token(token_id: str, request: Request) -> TokenOut:
    service = _service(request)
    return service.to_out(await service.cancel(token_id))


@router.get("/v1/tokens/{token_id}/qr.{fmt}")
async def token_qr(
    token_id: str,
    fmt: Literal["svg", "png"],
    request: Request,
    payload: Literal["url", "json"] = Query("url"),
) -> Response:
    service = _service(request)
    data = qr.payload(service.to_out(await service.get(token_id)), payload)
    if fmt == "svg":
        return Response(qr.svg(data), media_type="image/svg+xml")
    return Response(qr.png(data), media_type="image/png")


async def _states(service: CheckoutService, token_id: str) -> AsyncIterator[dict[str, Any]]:
    """The current state, then each change, ending after a terminal state.

    Subscribing before reading means no change can fall between the read and the watch.
    """
    async with service.bus.subscribe(token_topic(token_id)) as sub:
        current = service.message(await service.get(token_id))
        yield current
        while current["status"] not in TERMINAL:
            try:
                message = await asyncio.wait_for(sub.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield {}
                continue
            if message != current:
                current = message
                yield current


@router.get("/v1/tokens/{token_id}/events")
async def token_events(token_id: str, request: Request) -> StreamingResponse:
    service = _service(request)
    await service.get(token_id)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for state in _states(service, token_id):
            if not state:
                yield ": keepalive\n\n"
                continue
            yield f"event: token\ndata: {json.dumps(state)}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.websocket("/v1/tokens/{token_id}/ws")
async def token_ws(websocket: WebSocket, token_id: str) -> None:
    service: CheckoutService = websocket.app.state.checkout
    try:
        await service.get(token_id)
    except APIError:
        await websocket.close(code=4404, reason="token not found")
        return
    await websocket.accept()
    try:
        async for state in _states(service, token_id):
            if state:
                await websocket.send_json({"type": "token", "data": state})
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
