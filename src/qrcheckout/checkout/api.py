"""Token routes: create, read, QR images, cancel, and live status over SSE and WebSocket."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Cookie, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response, StreamingResponse

from qrcheckout.checkout import qr
from qrcheckout.checkout.schemas import (
    CancelRequest,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
)
from qrcheckout.checkout.service import CheckoutService, token_topic
from qrcheckout.checkout.states import TERMINAL
from qrcheckout.errors import NotFound
from qrcheckout.http.deps import CANCEL_COOKIE, AccessDep, BusDep, Filters, Tokens
from qrcheckout.http.ratelimit import limited
from qrcheckout.ratelimit import Rule
from qrcheckout.realtime.bus import Bus
from qrcheckout.realtime.sse import event_stream
from qrcheckout.realtime.watch import Watch, as_json, until_hangup

router = APIRouter(tags=["tokens"])

# Keeps idle connections (and the proxies between) from timing out.
KEEPALIVE_SECONDS = 15.0


@router.post(
    "/v1/tokens",
    status_code=201,
    response_model=TokenCreated,
    dependencies=[limited(Rule.TOKENS)],
)
async def create_token(body: TokenCreate, tokens: Tokens, access: AccessDep) -> dict[str, Any]:
    """A new token; ``cancel_secret`` (shown this once) lets its creator cancel it."""
    token, cancel_secret = await tokens.create(access, body)
    # Its creator sees all it sent.
    return tokens.to_out(token).model_dump(mode="json") | {"cancel_secret": cancel_secret}


@router.get("/v1/tokens", response_model=TokenList, response_model_exclude_unset=True)
async def list_tokens(tokens: Tokens, access: AccessDep, filters: Filters) -> dict[str, Any]:
    """A merchant's tokens, or a signed-in buyer's; newest first, a page at a time."""
    rows, has_more = await tokens.page(access, filters)
    return {"object": "list", "data": rows, "has_more": has_more}


@router.get("/v1/tokens/{token_id}", response_model=TokenOut, response_model_exclude_unset=True)
async def get_token(token_id: str, tokens: Tokens, access: AccessDep) -> dict[str, Any]:
    return await tokens.read(access, token_id)


@router.post(
    "/v1/tokens/{token_id}/cancel", response_model=TokenOut, response_model_exclude_unset=True
)
async def cancel_token(
    token_id: str,
    tokens: Tokens,
    access: AccessDep,
    body: CancelRequest | None = None,
    kept: Annotated[str | None, Cookie(alias=CANCEL_COOKIE)] = None,
) -> dict[str, Any]:
    """By the token's merchant or owner, or with the ``cancel_secret`` it was created with
    (in the body, or in the cookie the shop page set)."""
    secret = body.cancel_secret if body and body.cancel_secret else kept
    return await tokens.cancel(access, token_id, secret)


# A token's code never changes while the service keeps its public URL: clients keep it a day.
QR_CACHE_CONTROL = "public, max-age=86400"


@router.get("/v1/tokens/{token_id}/qr.{fmt}")
async def token_qr(
    token_id: str,
    fmt: Literal["svg", "png"],
    tokens: Tokens,
    request: Request,
    payload: Literal["url", "json"] = Query("url"),
) -> Response:
    data = qr.payload(tokens.to_out(await tokens.get(token_id)), payload)
    image = qr.svg(data) if fmt == "svg" else qr.png(data)
    tag = '"' + hashlib.sha256(image).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": QR_CACHE_CONTROL}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    media = "image/svg+xml" if fmt == "svg" else "image/png"
    return Response(image, media_type=media, headers=headers)


class _Watch(Watch):
    """One watcher of a token: its state first, then each change, ending after a terminal
    state; an unknown token raises 404 at ``open`` and leaves nothing open."""

    def __init__(self, service: CheckoutService, bus: Bus, token_id: str, transport: str) -> None:
        async def read() -> dict[str, Any]:
            return service.message(await service.get(token_id))

        super().__init__(
            bus,
            token_topic(token_id),
            read,
            lambda state: state["status"] in TERMINAL,
            poll_seconds=service.settings.watch_poll_seconds,
            # A WebSocket is kept open by the server's pings: its watcher wakes only for news.
            keepalive_seconds=KEEPALIVE_SECONDS if transport == "sse" else None,
            transport=transport,
        )


@router.get("/v1/tokens/{token_id}/events")
async def token_events(token_id: str, tokens: Tokens, bus: BusDep) -> StreamingResponse:
    watch = _Watch(tokens, bus, token_id, "sse")
    await watch.open()  # 404 before the stream starts
    return event_stream(watch, "token")


@router.websocket("/v1/tokens/{token_id}/ws")
async def token_ws(websocket: WebSocket, token_id: str, tokens: Tokens, bus: BusDep) -> None:
    watch = _Watch(tokens, bus, token_id, "websocket")
    try:
        await watch.open()
    except NotFound:
        await websocket.close(code=4404, reason="token not found")
        return

    try:
        await websocket.accept()
        async with until_hangup(websocket.receive, "websocket.disconnect"):
            async for state in watch.states():
                if state:
                    await websocket.send_text('{"type": "token", "data": ' + as_json(state) + "}")
            await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
    finally:
        await watch.close()
