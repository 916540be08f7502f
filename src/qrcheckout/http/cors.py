"""CORS: which browser origins may call the API, and the middleware that answers them.

The origins change while the app runs (each merchant lists its own), so they are held by one
``AllowedOrigins`` that the middleware asks per request; Starlette's ``CORSMiddleware`` does the
protocol, told by ``is_allowed_origin`` which origins to let through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Send

from qrcheckout.access import origins as access_origins

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Hasura-Role",
    "Qrcheckout-Merchant",
)
# Response headers a page may read besides the safelisted ones: when to retry after a 429.
EXPOSED_HEADERS = ("Retry-After",)


def origin_of(url: str) -> str:
    """The origin (``scheme://host[:port]``, as a browser sends it) of a URL or an origin;
    ValueError when it has none."""
    found = access_origins.origin_of(url)
    if found is None:
        raise ValueError(f"not an http(s) origin: {url!r}")
    return found


class AllowedOrigins:
    """The origins browsers may call the API from: the configured ones (the public URL's and
    ``QRCHECKOUT_CORS_ORIGINS``) always, plus those ``replace`` was last given (the merchants').
    The set is swapped whole, so a request sees either the old one or the new one."""

    def __init__(self, configured: Iterable[str] = ()) -> None:
        self._configured = frozenset(origin_of(origin) for origin in configured)
        self._origins = self._configured

    def allows(self, origin: str) -> bool:
        return origin in self._origins

    def replace(self, origins: Iterable[str]) -> None:
        """Allow ``origins`` (besides the configured ones) instead of what was given before;
        ValueError, and nothing changed, when one is not an http(s) origin."""
        self._origins = self._configured | {origin_of(origin) for origin in origins}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._origins))


class DynamicCORS(CORSMiddleware):
    """Starlette's CORS, asking ``AllowedOrigins`` per request. An origin not allowed gets no
    CORS header at all (only ``Vary: Origin``); its preflight is answered 400."""

    def __init__(self, app: ASGIApp, origins: AllowedOrigins) -> None:
        # No credentials mode: the API takes its credentials in Authorization, never cookies.
        super().__init__(
            app,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )
        self.origins = origins

    def is_allowed_origin(self, origin: str) -> bool:
        return self.origins.allows(origin)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if (
            message["type"] == "http.response.start"
            and origin is not None
            and not self.is_allowed_origin(origin)
        ):
            # Starlette would still add its expose header; a refused origin learns nothing.
            message.setdefault("headers", [])
            MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)
