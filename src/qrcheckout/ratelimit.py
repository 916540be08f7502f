"""Rate limits: how often one client, or anyone at one thing, may do what costs money or invites
guessing. Counted in memory, or in Redis so that every instance shares the same counts.

A moving window: never more than a rule's amount in any window of its length, and a refusal
knows exactly when the oldest counted hit leaves the window (its ``retry_after``). A fixed
window would let twice the amount through around a window's edge.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Coroutine, Mapping, Sequence
from enum import StrEnum
from typing import Any

import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from qrcheckout.config import Settings
from qrcheckout.errors import RateLimited

log = logging.getLogger(__name__)

KEY_PREFIX = "qrcheckout-limits"
# A Redis that does not answer within this is taken as down...
STORE_TIMEOUT_SECONDS = 1.0
# ...and left alone this long, so that an outage costs one wait, not one per request.
STORE_PAUSE_SECONDS = 5.0


class Rule(StrEnum):
    """What is counted; each is configured by the setting ``rate_limit_<rule>``."""

    TOKENS = "tokens"
    SCANS_PER_TOKEN = "scans_per_token"
    SCANS_PER_IP = "scans_per_ip"
    SESSIONS = "sessions"
    AUTH_FAILURES = "auth_failures"
    SIGN_IN = "sign_in"


_TOO_MANY: dict[str, str] = {
    Rule.TOKENS: "Too many checkouts were created from this address",
    Rule.SCANS_PER_TOKEN: "This checkout was opened too many times",
    Rule.SCANS_PER_IP: "Too many checkouts were opened from this address",
    Rule.SESSIONS: "Too many checkout sessions were requested from this address",
    Rule.AUTH_FAILURES: "Too many refused credentials came from this address",
    Rule.SIGN_IN: "Too many wrong passwords were tried for this account",
}


class RateLimiter:
    """Hits counted per (rule, key); a rule without limits (or a disabled limiter) counts
    nothing. When the shared store cannot be reached, requests pass (and it is logged): a
    Redis outage must not stop payments. After a failure the store is not asked again for
    ``STORE_PAUSE_SECONDS``."""

    def __init__(
        self,
        rules: Mapping[str, Sequence[RateLimitItem]],
        storage: Storage | None = None,
        pool: redis.asyncio.ConnectionPool | None = None,
    ) -> None:
        self.rules = dict(rules)
        self.storage = storage or MemoryStorage()
        self.window = MovingWindowRateLimiter(self.storage)
        self._pool = pool
        self._paused_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        if not settings.rate_limit_enabled:
            return cls({})
        rules: dict[str, list[RateLimitItem]] = {
            rule: parse_many(getattr(settings, f"rate_limit_{rule}")) for rule in Rule
        }
        url = settings.rate_limit_storage
        if url == "memory":
            return cls(rules)
        uri = _limits_uri(url)
        pool = redis.asyncio.ConnectionPool.from_url(
            url,
            socket_connect_timeout=STORE_TIMEOUT_SECONDS,
            socket_timeout=STORE_TIMEOUT_SECONDS,
        )
        # The pool is ours, so ``close`` can close it; limits builds its client on it.
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            uri,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=KEY_PREFIX,
            **options,
        )
        return cls(rules, storage, pool)

    async def hit(self, rule: str, key: str) -> None:
        """Count one hit of ``rule`` by ``key``; RateLimited (the hit not counted) when it would
        be one too many."""
        for item in self.rules.get(rule, ()):
            if not await self._guarded(self.window.hit(item, rule, key)):
                raise await self._refusal(rule, item, key)

    async def check_failures(self, key: str, rule: Rule = Rule.AUTH_FAILURES) -> None:
        """RateLimited when ``key`` (a client, an account) had too many credentials refused
        lately: checked before a credential is, so that guessing stops even with a right guess."""
        for item in self.rules.get(rule, ()):
            if not await self._guarded(self.window.test(item, rule, key)):
                raise await self._refusal(rule, item, key)

    async def failed(self, key: str, rule: Rule = Rule.AUTH_FAILURES) -> None:
        """Count one refused credential from ``key``."""
        for item in self.rules.get(rule, ()):
            await self._guarded(self.window.hit(item, rule, key))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def _guarded(self, check: Coroutine[Any, Any, bool]) -> bool:
        if time.monotonic() < self._paused_until:
            check.close()
            return True
        try:
            return bool(await check)
        except StorageError as exc:
            self._paused_until = time.monotonic() + STORE_PAUSE_SECONDS
            log.warning(
                "rate limits cannot be counted for %s s, letting requests pass: %s",
                STORE_PAUSE_SECONDS,
                exc,
            )
            return True

    async def _refusal(self, rule: str, item: RateLimitItem, key: str) -> RateLimited:
        try:
            stats = await self.window.get_window_stats(item, rule, key)
            wait = math.ceil(stats.reset_time - time.time())
        except StorageError:
            wait = item.get_expiry()
        retry_after = max(1, wait)
        why = _TOO_MANY.get(rule, "Too many requests")
        return RateLimited(
            "rate_limited",
            f"{why}; try again in {retry_after} second{'' if retry_after == 1 else 's'}.",
            retry_after=retry_after,
        )


def _limits_uri(url: str) -> str:
    """``limits``' spelling of a Redis URL (``async+redis://``, ``async+redis+unix://``)."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    if url.startswith(("redis://", "rediss://")):
        return "async+" + url
    raise ValueError(f"QRCHECKOUT_RATE_LIMIT_URL must be 'memory' or a redis:// URL, not {url!r}")
