"""Signed webhook delivery, retried with exponential backoff: each provider's sandbox gives its
own encoding and signature headers (Stripe's by default)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
# Attempts the sender keeps at hand; the full log is the store's (``on_attempt`` files it).
RECENT_ATTEMPTS = 1000


@dataclass(frozen=True)
class Target:
    """Where an event goes: a URL and the secret its deliveries are signed with."""

    url: str
    secret: str
    endpoint: str | None = None  # the webhook endpoint's id; None for the built-in target


@dataclass
class Attempt:
    event_id: str
    url: str
    attempt: int
    at: int
    status_code: int | None
    error: str | None
    endpoint: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "url": self.url,
            "webhook_endpoint": self.endpoint,
            "attempt": self.attempt,
            "created": self.at,
            "status_code": self.status_code,
            "error": self.error,
            "succeeded": self.succeeded,
        }


def stripe_headers(payload: str, target: Target, now: int) -> dict[str, str]:
    """Stripe's signature header and user agent for one delivery attempt."""
    return {
        "Stripe-Signature": stripe_signature(payload, target.secret, now),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


def stripe_encoding(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2)


@dataclass
class WebhookSender:
    """Delivers events in the background; ``log`` holds the latest attempts, oldest first.

    ``encode`` turns an event into the body sent; ``sign`` gives each attempt's headers (its
    signature) from that body, the target and the attempt's time.
    """

    retry_base_seconds: float = 1.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0
    on_attempt: Callable[[Attempt], None] | None = None
    log_size: int = RECENT_ATTEMPTS
    transport: httpx.AsyncBaseTransport | None = None  # a MockTransport keeps tests offline
    encode: Callable[[dict[str, Any]], str] = stripe_encoding
    sign: Callable[[str, Target, int], dict[str, str]] = stripe_headers
    log: deque[Attempt] = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_size)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_seconds, transport=self.transport)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    def send(self, event: dict[str, Any], target: Target) -> None:
        """Deliver ``event`` to ``target`` in the background; returns at once."""
        payload = self.encode(event)
        task = asyncio.create_task(self._deliver(event["id"], payload, target))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event_id: str, payload: str, target: Target) -> None:
        assert self._client is not None, "WebhookSender.start() was not called"
        for attempt in range(1, self.max_attempts + 1):
            status_code: int | None = None
            error: str | None = None
            now = int(time.time())
            try:
                response = await self._client.post(
                    target.url,
                    content=payload.encode(),
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        **self.sign(payload, target, now),
                    },
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            record = Attempt(
                event_id, target.url, attempt, now, status_code, error, target.endpoint
            )
            self.log.append(record)
            if self.on_attempt is not None:
                self.on_attempt(record)
            if record.succeeded:
                return
            delay = min(self.retry_base_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            log.info(
                "webhook %s to %s attempt %d failed (%s); retrying in %.1fs",
                event_id,
                target.url,
                attempt,
                error or status_code,
                delay,
            )
            if attempt < self.max_attempts:
                await asyncio.sleep(delay)
        log.warning("webhook %s to %s gave up after %d attempts", event_id, target.url, attempt)


def stripe_signature(payload: str, secret: str, timestamp: int) -> str:
    """Stripe's ``Stripe-Signature``: ``t=...,v1=`` HMAC-SHA256 of ``"{t}.{payload}"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
