"""Rate limits at the HTTP edge: who the client is, a dependency that counts a route's hits, and
the wrapper that counts refused credentials (``qrcheckout.ratelimit`` does the counting)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from qrcheckout.errors import Unauthenticated
from qrcheckout.ratelimit import RateLimiter, Rule

T = TypeVar("T")


def client_ip(conn: HTTPConnection) -> str:
    """The client's address; uvicorn (``proxy_headers``) has already put there the one a trusted
    proxy named in ``X-Forwarded-For``."""
    return conn.client.host if conn.client else "unknown"


def limiter(conn: HTTPConnection) -> RateLimiter:
    return cast(RateLimiter, conn.app.state.container.limiter)


def limited(rule: Rule) -> Any:
    """A route dependency counting one hit of ``rule`` by the client's address (429 past it)."""

    async def count(conn: HTTPConnection) -> None:
        await limiter(conn).hit(rule, client_ip(conn))

    return Depends(count)


async def counting_failures(
    conn: HTTPConnection, check: Callable[[], Awaitable[T]], *, sent: bool | None = None
) -> T:
    """``check()`` the credential a request carries, counting a refusal against the client's
    address; past the limit the request is refused before its credential is looked at. A
    request without a credential (``sent``; by default, without ``Authorization``) has none
    to guess with and is not counted."""
    if not (sent if sent is not None else "authorization" in conn.headers):
        return await check()
    rates, client = limiter(conn), client_ip(conn)
    await rates.check_failures(client)
    try:
        return await check()
    except Unauthenticated:
        await rates.failed(client)
        raise
