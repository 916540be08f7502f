"""Security headers on every response: a Content-Security-Policy whose per-request nonce admits
the pages' own inline script and style and nothing else, no framing, no MIME sniffing, and no
referrer sent to other sites (page paths carry token ids).

A pure ASGI middleware: it edits the response's start message and leaves the body alone, so
streamed answers (Server-Sent Events) stream as before. A header a route set itself is kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Templates read it as ``request.state.csp_nonce``.
NONCE_KEY = "csp_nonce"

PAGE_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'nonce-{nonce}'; "
    # Merchants' logos are served from their own sites.
    "img-src 'self' data: https:; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
# /docs and /redoc start Swagger UI and ReDoc (served by this service) with an inline script
# and style that FastAPI's pages do not let us nonce: those pages alone allow inline ones.
DOCS_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; "
    "img-src 'self' data:; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "frame-ancestors 'none'"
)
# What the app mounts but does not render (the sandbox's hosted pay page) keeps its own markup
# and is only kept from being framed.
FRAMING_POLICY = "frame-ancestors 'none'"

COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Collection[str] = (),
        framing_only: Collection[str] = (),
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.framing_only = tuple(framing_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = ((b"content-security-policy", self._policy(scope).encode()), *COMMON)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [(name, value) for name, value in added if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _policy(self, scope: Scope) -> str:
        path: str = scope["path"]
        if path in self.docs_paths:
            return DOCS_POLICY
        if any(path == prefix or path.startswith(prefix + "/") for prefix in self.framing_only):
            return FRAMING_POLICY
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        return PAGE_POLICY.format(nonce=nonce)
