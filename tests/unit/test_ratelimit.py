"""The rate limiter: a moving window per (rule, key), a Retry-After that says when the oldest hit
leaves it, refused credentials checked before they are counted; in memory and in Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import ValidationError

from qrcheckout.config import Settings
from qrcheckout.errors import RateLimited
from qrcheckout.ratelimit import RateLimiter, Rule
from tests.conftest import REDIS_URL


def settings(**values: Any) -> Settings:
    return Settings(**values)


def run(scenario: Callable[[RateLimiter], Awaitable[None]], **values: Any) -> None:
    async def main() -> None:
        limiter = RateLimiter.from_settings(settings(**values))
        try:
            await scenario(limiter)
        finally:
            await limiter.close()

    asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("QRCHECKOUT_TEST_REDIS_URL is not set; Redis tests need a server")
        return REDIS_URL
    return "memory"


def test_a_rule_refuses_the_hit_past_its_amount_until_the_window_moves(store: str) -> None:
    key = str(uuid.uuid4())

    async def scenario(limiter: RateLimiter) -> None:
        for _ in range(2):
            await limiter.hit(Rule.TOKENS, key)
        with pytest.raises(RateLimited) as refused:
            await limiter.hit(Rule.TOKENS, key)
        assert refused.value.code == "rate_limited" and refused.value.retry_after == 1
        assert refused.value.details == {"retry_after": 1}
        await limiter.hit(Rule.TOKENS, key + "-other")  # counted per key
        await limiter.hit(Rule.SESSIONS, key)  # and per rule
        await asyncio.sleep(1.05)
        await limiter.hit(Rule.TOKENS, key)

    run(scenario, rate_limit_url=store, rate_limit_tokens="2/second")


def test_every_limit_of_a_rule_applies(store: str) -> None:
    key = str(uuid.uuid4())

    async def scenario(limiter: RateLimiter) -> None:
        await limiter.hit(Rule.SESSIONS, key)
        with pytest.raises(RateLimited) as refused:
            await limiter.hit(Rule.SESSIONS, key)
        assert 1 <= refused.value.retry_after <= 3600

    run(scenario, rate_limit_url=store, rate_limit_sessions="5/second;1/hour")


def test_refused_credentials_stop_the_next_check(store: str) -> None:
    client = str(uuid.uuid4())

    async def scenario(limiter: RateLimiter) -> None:
        for _ in range(3):
            await limiter.check_failures(client)
            await limiter.failed(client)
        with pytest.raises(RateLimited) as refused:
            await limiter.check_failures(client)
        assert refused.value.retry_after == 1
        await limiter.failed(client)  # counting past the limit never raises
        await limiter.check_failures(client + "-other")
        await asyncio.sleep(1.05)
        await limiter.check_failures(client)

    run(scenario, rate_limit_url=store, rate_limit_auth_failures="3/second")


def test_a_disabled_limiter_counts_nothing() -> None:
    async def scenario(limiter: RateLimiter) -> None:
        for _ in range(5):
            await limiter.hit(Rule.TOKENS, "k")
            await limiter.failed("k")
        await limiter.check_failures("k")

    run(
        scenario,
        rate_limit_enabled=False,
        rate_limit_tokens="1/minute",
        rate_limit_auth_failures="1/minute",
    )


def test_an_unreachable_store_lets_requests_pass() -> None:
    async def scenario(limiter: RateLimiter) -> None:
        started = time.monotonic()
        for _ in range(3):
            await limiter.hit(Rule.TOKENS, "k")
        await limiter.check_failures("k")
        assert time.monotonic() - started < 10

    # Nothing listens on port 1: a Redis outage must not stop payments.
    run(scenario, rate_limit_url="redis://127.0.0.1:1/0", rate_limit_tokens="1/minute")


def test_where_limits_are_counted() -> None:
    assert settings().rate_limit_storage == "memory"
    assert settings(bus_url="redis://cache:6379/0").rate_limit_storage == "redis://cache:6379/0"
    assert (
        settings(bus_url="redis://cache/0", rate_limit_url="redis://limits/1").rate_limit_storage
        == "redis://limits/1"
    )
    assert settings(bus_url="redis://cache/0", rate_limit_url="memory").rate_limit_storage == (
        "memory"
    )


@pytest.mark.parametrize("text", ["often", "10/fortnight", "0.5/second", ""])
def test_unreadable_limits_are_refused_at_start(text: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_tokens"):
        settings(rate_limit_tokens=text)


def test_an_unknown_store_is_refused() -> None:
    with pytest.raises(ValueError, match="QRCHECKOUT_RATE_LIMIT_URL"):
        RateLimiter.from_settings(settings(rate_limit_url="memcached://x"))
