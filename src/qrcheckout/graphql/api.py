"""``/v1/graphql``, Hasura's path: queries and mutations over HTTP POST, subscriptions over
WebSocket in both protocols Hasura speaks (``graphql-transport-ws`` and the legacy
``graphql-ws``), served by Ariadne.

A caller is who Hasura would take it for: ``x-hasura-admin-secret`` (a merchant's or the
platform's key), else ``Authorization: Bearer`` (a JWT with Hasura's claims, and
``x-hasura-role``, or an API key), else anonymous. A socket sends them in its
``connection_init`` payload (``{"headers": {...}}`` or the headers themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from ariadne import graphql
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLTransportWSHandler, GraphQLWSHandler
from ariadne.exceptions import WebSocketConnectionError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from qrcheckout.access.permissions import Access
from qrcheckout.access.roles import Principal
from qrcheckout.errors import DomainError, RateLimited, Unavailable
from qrcheckout.graphql import errors
from qrcheckout.graphql.schema import Context, DepthLimit, build
from qrcheckout.graphql.stores import Orders, Products, Store, Tokens
from qrcheckout.http.deps import (
    ROLE_HEADER,
    SHOP_HEADER,
    container,
    identify_as,
    parse_bearer,
    shop_of,
    still_holds,
)
from qrcheckout.http.ratelimit import client_ip, counting_failures, limiter
from qrcheckout.inputs import parse_json
from qrcheckout.ratelimit import Rule

PATH = "/v1/graphql"
ADMIN_SECRET_HEADER = "x-hasura-admin-secret"
# Tokens a query may hold: far more than any real document, far less than a hostile one.
MAX_TOKENS = 5000
# How often an open socket checks that its credential still holds.
RECHECK_SECONDS = 5.0
PRINCIPAL = "qrcheckout.principal"
CREDENTIAL = "qrcheckout.credential"
TASKS = "qrcheckout.tasks"
OBSERVERS = "qrcheckout.observers"

SCHEMA: GraphQLSchema = build()
QUIET = logging.getLogger("qrcheckout.graphql.refusals")
QUIET.propagate = False
QUIET.addHandler(logging.NullHandler())


def _parse(_: Any, data: dict[str, Any]) -> DocumentNode:
    return parse(data["query"], max_tokens=MAX_TOKENS)


def _stores(conn: HTTPConnection) -> dict[str, Store]:
    services = container(conn)
    return {"token": Tokens(services), "product": Products(services), "order": Orders(services)}


def _context(conn: HTTPConnection, principal: Principal) -> Context:
    async def limit(rule: Rule) -> None:
        await limiter(conn).hit(rule, client_ip(conn))

    return Context(Access(principal), _stores(conn), limit)


async def _principal(
    conn: HTTPConnection, headers: Mapping[str, str]
) -> tuple[Principal, str | None]:
    """Who asks, as Hasura would take it from these headers; and the credential it showed."""
    admin = headers.get(ADMIN_SECRET_HEADER)
    credential = admin.strip() or None if admin is not None else None
    if credential is None:
        credential = parse_bearer(headers.get("authorization"))
    if credential is None and conn.scope["type"] == "websocket":
        credential = conn.query_params.get("access_token") or None
    shop = shop_of(conn, headers.get(SHOP_HEADER))
    role = headers.get(ROLE_HEADER)
    found = await counting_failures(
        conn, lambda: identify_as(conn, shop, credential, role), sent=credential is not None
    )
    return found, credential


def _refused(exc: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    # Hasura answers refusals with 200 and errors; a rate limit or an outage keeps its status,
    # so that clients and proxies back off.
    status = 429 if isinstance(exc, RateLimited) else 503 if isinstance(exc, Unavailable) else 200
    return JSONResponse({"errors": [errors.domain_error(exc)]}, status, headers)


def _malformed(message: str, code: str = "invalid-json") -> JSONResponse:
    return JSONResponse({"errors": [errors.hasura_error(message, code)]}, 400)


async def _execute(request: Request, options: dict[str, Any]) -> JSONResponse:
    try:
        data = parse_json(await request.body())
    except ValueError:
        return _malformed("The body is not a JSON document.")
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return _malformed('Send {"query": "...", "variables"?: {...}}.', "bad-request")
    try:
        principal, _ = await _principal(request, request.headers)
    except DomainError as exc:
        return _refused(exc)
    _, result = await graphql(SCHEMA, data, context_value=_context(request, principal), **options)
    return JSONResponse(result)


class _Socket(WebSocket):
    """A GraphQL socket: a message that is not a JSON object closes it (4400), as both
    protocols say, instead of failing the connection."""

    async def receive_json(self, mode: str = "text") -> Any:
        message = await self.receive()
        self._raise_on_disconnect(message)
        try:
            data = json.loads(message.get("text") or message.get("bytes") or b"")
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            await self.close(code=4400, reason="Invalid message: not a JSON object.")
            raise WebSocketDisconnect(4400)
        return data


def _connection_headers(websocket: WebSocket, payload: Any) -> dict[str, str]:
    """The handshake's headers, overridden by those of the ``connection_init`` payload."""
    headers = {k.lower(): v for k, v in websocket.headers.items()}
    given = payload.get("headers", payload) if isinstance(payload, dict) else {}
    if isinstance(given, dict):
        headers |= {
            k.lower(): v for k, v in given.items() if isinstance(k, str) and isinstance(v, str)
        }
    return headers


async def _on_connect(websocket: WebSocket, payload: Any) -> None:
    try:
        principal, credential = await _principal(websocket, _connection_headers(websocket, payload))
    except DomainError as exc:
        raise WebSocketConnectionError(errors.domain_error(exc)) from exc
    websocket.scope[PRINCIPAL] = principal
    websocket.scope[CREDENTIAL] = credential
    if credential is not None:  # anonymous holds nothing that could stop holding
        _tasks(websocket).add(
            asyncio.ensure_future(_while_credential_holds(websocket, principal, credential))
        )


def _tasks(websocket: WebSocket) -> set[asyncio.Task[Any]]:
    """What runs for one socket besides its own loop; all of it ends with the socket."""
    tasks: set[asyncio.Task[Any]] = websocket.scope.setdefault(TASKS, set())
    return tasks


def _own_task(websocket: WebSocket) -> None:
    task = asyncio.current_task()
    if task is not None:
        _tasks(websocket).add(task)


async def _on_disconnect(websocket: WebSocket) -> None:
    current = asyncio.current_task()
    for task in _tasks(websocket) - {current}:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def _while_credential_holds(
    websocket: WebSocket, principal: Principal, credential: str | None
) -> None:
    """A revoked key or an expired JWT ends the socket (4401) within ``RECHECK_SECONDS``."""
    while await still_holds(websocket, principal, credential):  # noqa: ASYNC110
        await asyncio.sleep(RECHECK_SECONDS)
    with contextlib.suppress(Exception):  # the client may be gone already
        await websocket.close(code=4401, reason="The credential is no longer valid.")


def _socket_context(websocket: WebSocket, _: Any) -> Context:
    principal = websocket.scope.get(PRINCIPAL)
    if not isinstance(principal, Principal):  # the handlers refuse operations before ack
        raise GraphQLError("Send connection_init first.")
    return _context(websocket, principal)


class _TransportWS(GraphQLTransportWSHandler):
    async def handle_connection_init_timeout(
        self, websocket: WebSocket, client_context: Any
    ) -> None:
        _own_task(websocket)
        await super().handle_connection_init_timeout(websocket, client_context)

    async def handle_websocket_connection_init_message(
        self, websocket: WebSocket, message: dict[str, Any], client_context: Any
    ) -> None:
        if client_context.connection_init_received:
            await websocket.close(code=4429, reason="Too many initialisation requests.")
            return
        client_context.connection_init_received = True
        try:
            await _on_connect(websocket, message.get("payload"))
        except WebSocketConnectionError as exc:
            # graphql-ws: a refused connection_init closes with 4403 and the reason.
            await websocket.close(code=4403, reason=str(exc.payload["message"])[:120])
            return
        client_context.connection_acknowledged = True
        await websocket.send_json({"type": self.GQL_CONNECTION_ACK})

    async def handle_websocket_subscribe(
        self, websocket: WebSocket, data: Any, operation_id: str, client_context: Any
    ) -> None:
        try:
            await super().handle_websocket_subscribe(websocket, data, operation_id, client_context)
        except GraphQLError as exc:  # not an operation at all
            await websocket.send_json(
                {"type": self.GQL_ERROR, "id": operation_id, "payload": [errors.format_error(exc)]}
            )


class _LegacyWS(GraphQLWSHandler):
    # The library starts these as tasks of their own and leaves them running: each is
    # recorded, so that it ends with its operation or its socket.

    async def keep_websocket_alive(self, websocket: WebSocket) -> None:
        _own_task(websocket)
        await super().keep_websocket_alive(websocket)

    async def observe_async_results(
        self, websocket: WebSocket, results: Any, operation_id: str
    ) -> None:
        _own_task(websocket)
        websocket.scope.setdefault(OBSERVERS, {})[operation_id] = asyncio.current_task()
        await super().observe_async_results(websocket, results, operation_id)

    async def stop_websocket_operation(self, websocket: WebSocket, operation: Any) -> None:
        observer = websocket.scope.get(OBSERVERS, {}).pop(operation.id, None)
        if observer is not None and observer is not asyncio.current_task():
            observer.cancel()
            with contextlib.suppress(BaseException):
                await observer
        await super().stop_websocket_operation(websocket, operation)

    async def process_single_message(
        self, websocket: WebSocket, data: Any, operation_id: str, operations: dict[str, Any]
    ) -> None:
        try:
            await super().process_single_message(websocket, data, operation_id, operations)
        except GraphQLError as exc:
            await websocket.send_json(
                {"type": self.GQL_ERROR, "id": operation_id, "payload": errors.format_error(exc)}
            )


class Endpoint:
    """The GraphQL endpoint of one app: its HTTP route and its socket."""

    def __init__(self, *, introspection: bool) -> None:
        self.options: dict[str, Any] = {
            "query_parser": _parse,
            "validation_rules": [DepthLimit],
            "introspection": introspection,
            "error_formatter": errors.format_error,
            # Ariadne logs every error of every result; unexpected ones are logged where they
            # are formatted, refusals are answers, not faults.
            "logger": QUIET,
        }
        hooks = {"on_connect": _on_connect, "on_disconnect": _on_disconnect}
        self.sockets = {
            "graphql-transport-ws": GraphQL(
                SCHEMA,
                context_value=_socket_context,
                websocket_handler=_TransportWS(on_disconnect=_on_disconnect),
                **self.options,
            ),
            "graphql-ws": GraphQL(
                SCHEMA,
                context_value=_socket_context,
                websocket_handler=_LegacyWS(keepalive=15.0, **hooks),
                **self.options,
            ),
        }
        self.router = APIRouter(tags=["graphql"])
        self.router.add_api_route(
            PATH,
            self.execute,
            methods=["POST"],
            summary="GraphQL (Hasura-compatible): queries and mutations",
        )
        self.router.routes.append(WebSocketRoute(PATH, _Sockets(self)))

    async def execute(self, request: Request) -> JSONResponse:
        return await _execute(request, self.options)

    async def socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = _Socket(scope, receive, send)
        offered = scope.get("subprotocols") or []
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            if protocol in offered:
                await self.sockets[protocol].handle_websocket(websocket)
                return
        await websocket.accept()
        await websocket.close(
            code=4406, reason="Subprotocol not acceptable: graphql-transport-ws or graphql-ws."
        )


class _Sockets:
    """The socket as a plain ASGI app (a function would be handed Starlette's own WebSocket)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.endpoint.socket(scope, receive, send)
