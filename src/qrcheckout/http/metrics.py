"""Requests counted and timed by route (ASGI), and ``GET /metrics`` in Prometheus' format: for
the bearer of ``QRCHECKOUT_METRICS_TOKEN``, or, while none is set, for this machine only."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qrcheckout import metrics
from qrcheckout.access.secrets import digest, holds
from qrcheckout.errors import Forbidden, Unauthenticated
from qrcheckout.http.ratelimit import client_ip

router = APIRouter(include_in_schema=False)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class RequestMetrics:
    """Counts each HTTP answer by method, route template and status, and times it to its first
    byte (a stream's whole life would say nothing about how fast it answered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root = scope.get("root_path", "")
        status = 500  # an exception before any answer is answered 500 by the server
        took: float | None = None

        async def timed(message: Message) -> None:
            nonlocal status, took
            if message["type"] == "http.response.start":
                status, took = message["status"], time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            method, route = scope["method"], _route(scope, root)
            metrics.requests.labels(method, route, str(status)).inc()
            if took is not None:
                metrics.request_seconds.labels(method, route).observe(took)


def _route(scope: Scope, root: str) -> str:
    """The matched route's path template (never the path itself: ids would be labels), with
    the prefix of the app mounted around it (``/sandbox``) that routing added to the root."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    return str(scope.get("root_path", ""))[len(root) :] + path


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    token = request.app.state.metrics_token_digest
    if token is None:
        if client_ip(request) not in LOOPBACK:
            raise Forbidden(
                "metrics_forbidden",
                "Metrics are served to this machine only; set QRCHECKOUT_METRICS_TOKEN to "
                "scrape them from elsewhere.",
            )
    else:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not holds(given.strip(), token):
            raise Unauthenticated("invalid_credentials", "Send the metrics token as a bearer.")
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def token_digest(token: str | None) -> str | None:
    """What the app keeps of the metrics token: its digest."""
    return digest(token) if token else None
