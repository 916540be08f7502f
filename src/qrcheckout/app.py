"""``create_app(settings)``: wires settings, database, provider, bus, sandbox, routes and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from qrcheckout.catalog import api as catalog_api
from qrcheckout.checkout import api as checkout_api
from qrcheckout.checkout import sessions_api
from qrcheckout.config import Settings
from qrcheckout.container import Container
from qrcheckout.http import errors
from qrcheckout.http.limits import BodyLimit
from qrcheckout.notifications import api as notifications_api
from qrcheckout.orders import api as orders_api
from qrcheckout.payments.stripe_api import StripeProvider
from qrcheckout.realtime import api as realtime_api
from qrcheckout.web import api as web_api
from qrcheckout.webhooks import api as webhooks_api
from qrcheckout_sandbox.app import STATE_FILE, Sandbox

log = logging.getLogger(__name__)

SANDBOX_PATH = "/sandbox"
SANDBOX_API_KEY = "sk_test_qrcheckout_sandbox"
SECRET_FILE = ".qrcheckout-sandbox-webhook-secret"
MERCHANT_SECRET_FILE = ".qrcheckout-merchant-webhook-secret"
WEBHOOK_PATH = "/v1/webhooks/stripe"
WEBHOOK_MAX_BODY = 1024 * 1024


def sandbox_webhook_secret(settings: Settings) -> str:
    """The configured secret, else one generated on first start and kept in ``data_dir``."""
    return settings.stripe_webhook_secret or _kept_secret(settings, SECRET_FILE)


def merchant_webhook_secret(settings: Settings) -> str:
    return settings.merchant_webhook_secret or _kept_secret(settings, MERCHANT_SECRET_FILE)


def _kept_secret(settings: Settings, name: str) -> str:
    path = Path(settings.data_dir) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + secrets.token_hex(24)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    sandbox: Sandbox | None = None
    api_base: str | None
    if settings.uses_sandbox:
        webhook_secret = sandbox_webhook_secret(settings)
        sandbox = Sandbox(
            public_base=settings.public_url + SANDBOX_PATH,
            state_path=Path(settings.data_dir) / STATE_FILE,
            business_name=settings.business_name,
            webhook_url=settings.sandbox_webhook_url or settings.public_url + WEBHOOK_PATH,
            webhook_secret=webhook_secret,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
        )
        api_key = SANDBOX_API_KEY
        api_base = settings.stripe_api_base or settings.public_url + SANDBOX_PATH
    else:
        if not settings.stripe_webhook_secret:
            raise ValueError("QRCHECKOUT_STRIPE_WEBHOOK_SECRET is required with a Stripe key")
        webhook_secret = settings.stripe_webhook_secret
        api_key = settings.stripe_secret_key or ""
        api_base = settings.stripe_api_base

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Whatever started is stopped, in reverse, also when a later start fails.
        async with contextlib.AsyncExitStack() as started:
            provider = StripeProvider(api_key, webhook_secret, api_base)
            started.push_async_callback(provider.aclose)
            container = await Container.start(settings, provider, merchant_webhook_secret(settings))
            started.push_async_callback(container.stop)
            app.state.container = container
            if sandbox is not None:
                await sandbox.start()
                started.push_async_callback(sandbox.stop)
            interval = settings.expiry_interval_seconds
            for what, job in container.jobs():
                await started.enter_async_context(_running(_every(interval, what, job)))
            await started.enter_async_context(_running(container.notifier.run_forever(interval)))
            yield

    app = FastAPI(title="qrcheckout", version="0.1.0", lifespan=lifespan)
    app.state.sandbox = sandbox
    errors.install(app)
    app.add_middleware(
        BodyLimit, default=settings.max_body_bytes, per_path={WEBHOOK_PATH: WEBHOOK_MAX_BODY}
    )
    app.include_router(catalog_api.router)
    app.include_router(checkout_api.router)
    app.include_router(sessions_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(orders_api.router)
    app.include_router(orders_api.card_charges)
    app.include_router(realtime_api.router)
    app.include_router(notifications_api.router)
    app.include_router(web_api.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "sandbox": sandbox is not None})

    if sandbox is not None:
        app.mount(SANDBOX_PATH, sandbox.app)
    return app


@asynccontextmanager
async def _running(job: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """A background job for as long as the app runs; cancelled, and let finish, when it stops."""
    task = asyncio.ensure_future(job)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _every(interval: float, what: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again", what)
        await asyncio.sleep(interval)
