"""The first design's three GraphQL documents, verbatim, and the Python ``gql`` client pointed at
a running server over HTTP and over WebSocket (either subprotocol)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from gql.transport.websockets import WebsocketsTransport

from tests.support.server import RunningServer

TOKEN_CREATED = """
subscription TokenCreated($id: uuid!) {
  token_by_pk(id: $id) {
    id
    status
  }
}
"""

UPDATE_TOKEN = """
mutation updateToken($id: uuid!, $status: String!) {
  update_token_by_pk(pk_columns: {id: $id}, _set: {status: $status}) {
    status
  }
}
"""

ADD_TOKEN = """
mutation addToken($id: uuid!, $status: String!) {
  insert_token(objects: {id: $id, status: $status}) {
    returning {
      id
      status
    }
  }
}
"""

TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL  # "graphql-ws"
PROTOCOLS = (TRANSPORT_WS, LEGACY_WS)


def endpoint(server: RunningServer, scheme: str = "http") -> str:
    return server.url.replace("http", scheme, 1) + "/v1/graphql"


def request(document: str, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(gql(document), variable_values=variables)


def execute(
    server: RunningServer, document: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    """The ``data`` of a query or mutation over HTTP; a GraphQL error raises
    ``TransportQueryError`` (its ``.errors`` are Hasura's)."""
    transport = HTTPXTransport(endpoint(server), headers=headers or {}, timeout=30)
    with Client(transport=transport) as session:
        result: dict[str, Any] = session.execute(request(document, **variables))
        return result


def errors_of(
    server: RunningServer, document: str, headers: dict[str, str] | None = None, **variables: Any
) -> list[dict[str, Any]]:
    """The errors a document is refused with."""
    try:
        execute(server, document, headers, **variables)
    except TransportQueryError as exc:
        assert exc.errors, exc
        return list(exc.errors)
    raise AssertionError("the document was not refused")


@contextlib.asynccontextmanager
async def subscription(
    server: RunningServer,
    document: str,
    protocol: str = TRANSPORT_WS,
    init_payload: dict[str, Any] | None = None,
    **variables: Any,
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """A subscription running in the background; each result's ``data`` lands in the queue
    (a GraphQL error lands as ``{"errors": [...]}``)."""
    transport = WebsocketsTransport(
        url=endpoint(server, "ws"), subprotocols=[protocol], init_payload=init_payload or {}
    )
    results: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with Client(transport=transport) as session:

        async def follow() -> None:
            try:
                async for data in session.subscribe(request(document, **variables)):
                    await results.put(data)
            except TransportQueryError as exc:
                await results.put({"errors": exc.errors})

        task = asyncio.create_task(follow())
        try:
            yield results
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def next_result(results: asyncio.Queue[dict[str, Any]], within: float = 10) -> Any:
    return await asyncio.wait_for(results.get(), within)
