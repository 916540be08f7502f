"""``create_app(settings)``: wires settings, database, provider, bus, sandbox, routes and jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from qrcheckout import metrics
from qrcheckout.access import api as access_api
from qrcheckout.catalog import api as catalog_api
from qrcheckout.checkout import api as checkout_api
from qrcheckout.checkout import sessions_api
from qrcheckout.config import Settings
from qrcheckout.connect import api as connect_api
from qrcheckout.container import Container
from qrcheckout.dashboard import api as dashboard_api
from qrcheckout.graphql.api import Endpoint as GraphQLEndpoint
from qrcheckout.http import docs, errors, health, openapi
from qrcheckout.http import metrics as http_metrics
from qrcheckout.http.cors import AllowedOrigins, DynamicCORS
from qrcheckout.http.guards import plain_request_line
from qrcheckout.http.headers import SecurityHeaders
from qrcheckout.http.limits import BodyLimit
from qrcheckout.notifications import api as notifications_api
from qrcheckout.orders import api as orders_api
from qrcheckout.payments.paypal_api import LIVE_API, PayPalProvider
from qrcheckout.payments.provider import PaymentProvider
from qrcheckout.payments.providers import Providers
from qrcheckout.payments.stripe_api import StripeProvider
from qrcheckout.realtime import api as realtime_api
from qrcheckout.realtime.streams import Streams
from qrcheckout.web import api as web_api
from qrcheckout.webhooks import api as webhooks_api
from qrcheckout_sandbox.app import STATE_FILE, Sandbox
from qrcheckout_sandbox.paypal.app import STATE_FILE as PAYPAL_STATE_FILE
from qrcheckout_sandbox.paypal.app import PayPalSandbox

log = logging.getLogger(__name__)

SANDBOX_PATH = "/sandbox"
SANDBOX_KEY_FILE = ".qrcheckout-sandbox-api-key"
SECRET_FILE = ".qrcheckout-sandbox-webhook-secret"
MERCHANT_SECRET_FILE = ".qrcheckout-merchant-webhook-secret"
WEBHOOK_PATH = "/v1/webhooks/stripe"
PAYPAL_SANDBOX_PATH = "/paypal-sandbox"
PAYPAL_WEBHOOK_PATH = "/v1/webhooks/paypal"
# The PayPal app this service is to the mounted PayPal sandbox, and its webhook there.
PAYPAL_SANDBOX_CLIENT_ID = "qrcheckout-sandbox"
PAYPAL_SANDBOX_SECRET_FILE = ".qrcheckout-paypal-sandbox-secret"
PAYPAL_SANDBOX_WEBHOOK_ID = "WH-QRCHECKOUT-SANDBOX"
WEBHOOK_MAX_BODY = 1024 * 1024
# Another instance's change to a merchant's origins reaches this one's CORS within this.
ORIGINS_REFRESH_SECONDS = 30.0


def sandbox_webhook_secret(settings: Settings) -> str:
    """The configured secret, else one generated on first start and kept in ``data_dir``."""
    return settings.stripe_webhook_secret or _kept_secret(settings, SECRET_FILE)


def merchant_webhook_secret(settings: Settings) -> str:
    return settings.merchant_webhook_secret or _kept_secret(settings, MERCHANT_SECRET_FILE)


def sandbox_api_key(settings: Settings) -> str:
    """The one secret key the mounted sandbox takes: the configured one, else one generated on
    first start and kept in ``data_dir``."""
    return settings.sandbox_api_key or _kept_secret(settings, SANDBOX_KEY_FILE, "sk_test_")


def paypal_sandbox_secret(settings: Settings) -> str:
    """The client secret of the service's app at the mounted PayPal sandbox: generated on first
    start and kept in ``data_dir``."""
    return _kept_secret(settings, PAYPAL_SANDBOX_SECRET_FILE, "sandbox-")


def _kept_secret(settings: Settings, name: str, prefix: str = "whsec_") -> str:
    path = Path(settings.data_dir) / name
    if path.exists():
        return path.read_text().strip()
    for directory in reversed([d for d in (path.parent, *path.parent.parents) if not d.exists()]):
        directory.mkdir(mode=0o700, exist_ok=True)  # each one made owner-only, parents too
    secret = prefix + secrets.token_hex(24)
    try:
        # Created owner-only: the secret is never readable by others, not even for a moment.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    sandbox: Sandbox | None = None
    sandbox_key: str | None = None
    api_base: str | None
    if settings.uses_sandbox:
        webhook_secret = sandbox_webhook_secret(settings)
        sandbox_key = sandbox_api_key(settings)
        sandbox = Sandbox(
            public_base=settings.public_url + SANDBOX_PATH,
            state_path=Path(settings.data_dir) / STATE_FILE,
            business_name=settings.business_name,
            webhook_url=settings.sandbox_webhook_url or settings.public_url + WEBHOOK_PATH,
            webhook_secret=webhook_secret,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
            api_keys={sandbox_key},
        )
        api_key = sandbox_key
        api_base = settings.stripe_api_base or settings.public_url + SANDBOX_PATH
    else:
        if not settings.stripe_webhook_secret:
            raise ValueError("QRCHECKOUT_STRIPE_WEBHOOK_SECRET is required with a Stripe key")
        webhook_secret = settings.stripe_webhook_secret
        api_key = settings.stripe_secret_key or ""
        api_base = settings.stripe_api_base

    paypal_sandbox: PayPalSandbox | None = None
    paypal: tuple[str, str, str, str] | None = None  # client id, secret, webhook id, API base
    if settings.uses_paypal_sandbox:
        secret = paypal_sandbox_secret(settings)
        paypal_sandbox = PayPalSandbox(
            public_base=settings.public_url + PAYPAL_SANDBOX_PATH,
            state_path=Path(settings.data_dir) / PAYPAL_STATE_FILE,
            business_name=settings.business_name,
            credentials={PAYPAL_SANDBOX_CLIENT_ID: secret},
            webhook_url=settings.public_url + PAYPAL_WEBHOOK_PATH,
            webhook_id=PAYPAL_SANDBOX_WEBHOOK_ID,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
        )
        paypal = (
            PAYPAL_SANDBOX_CLIENT_ID,
            secret,
            PAYPAL_SANDBOX_WEBHOOK_ID,
            settings.paypal_api_base or settings.public_url + PAYPAL_SANDBOX_PATH,
        )
    elif settings.paypal_client_id and settings.paypal_client_secret and settings.paypal_webhook_id:
        paypal = (
            settings.paypal_client_id,
            settings.paypal_client_secret,
            settings.paypal_webhook_id,
            settings.paypal_api_base or LIVE_API,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Whatever started is stopped, in reverse, also when a later start fails.
        async with contextlib.AsyncExitStack() as started:
            providers: list[PaymentProvider] = [
                StripeProvider(
                    api_key,
                    webhook_secret,
                    api_base,
                    connect_webhook_secret=settings.stripe_connect_webhook_secret,
                )
            ]
            if paypal is not None:
                client_id, client_secret, webhook_id, paypal_base = paypal
                providers.append(
                    PayPalProvider(client_id, client_secret, webhook_id, api_base=paypal_base)
                )
            for provider in providers:
                started.push_async_callback(provider.aclose)
            container = await Container.start(
                settings, Providers(providers), merchant_webhook_secret(settings)
            )
            started.push_async_callback(container.stop)
            app.state.container = container
            # The merchants' origins join the configured ones for CORS, now and as they change.
            container.merchants.on_origins = app.state.allowed_origins.replace
            await container.merchants.announce_origins()
            for mounted in (sandbox, paypal_sandbox):
                if mounted is not None:
                    await mounted.start()
                    started.push_async_callback(mounted.stop)
            for what, job, interval in container.jobs():
                await started.enter_async_context(_running(_every(interval, what, job)))
            await started.enter_async_context(
                _running(container.notifier.run_forever(settings.expiry_interval_seconds))
            )
            await started.enter_async_context(
                _running(
                    _every(
                        ORIGINS_REFRESH_SECONDS,
                        "merchant origins",
                        container.merchants.announce_origins,
                        wait_first=True,  # announced just above
                    )
                )
            )
            yield

    app = FastAPI(
        title="qrcheckout",
        version=version("qrcheckout"),
        lifespan=lifespan,
        # Served from the package's own copies of Swagger UI and ReDoc (http/docs.py).
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(plain_request_line)],
    )
    app.state.sandbox = sandbox
    # Its event streams, ended cleanly when the server stops (http/server.py).
    app.state.streams = Streams()
    app.state.paypal_sandbox = paypal_sandbox
    app.state.sandbox_api_key = sandbox_key
    app.state.metrics_token_digest = http_metrics.token_digest(settings.metrics_token)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={WEBHOOK_PATH: WEBHOOK_MAX_BODY, PAYPAL_WEBHOOK_PATH: WEBHOOK_MAX_BODY},
    )
    # Browser origins allowed to call the API; whoever learns more (merchants) calls .replace().
    app.state.allowed_origins = AllowedOrigins([settings.public_url, *settings.cors_origin_list])
    app.add_middleware(DynamicCORS, origins=app.state.allowed_origins)
    # Outermost, so that every answer (a refused preflight, a 413) carries them.
    app.add_middleware(
        SecurityHeaders,
        docs_paths=[docs.DOCS_PATH, docs.REDOC_PATH],
        framing_only=[SANDBOX_PATH, PAYPAL_SANDBOX_PATH],
    )
    # Around everything: every answer is counted, refusals by the layers above included.
    app.add_middleware(http_metrics.RequestMetrics)
    app.include_router(access_api.router)
    app.include_router(connect_api.router)
    app.include_router(catalog_api.router)
    app.include_router(checkout_api.router)
    app.include_router(sessions_api.router)
    app.include_router(webhooks_api.router)
    app.include_router(orders_api.router)
    app.include_router(orders_api.card_charges)
    app.include_router(realtime_api.router)
    app.include_router(notifications_api.router)
    app.include_router(GraphQLEndpoint(introspection=settings.graphql_introspection).router)
    app.include_router(web_api.router)
    app.include_router(dashboard_api.router)
    app.include_router(health.router)
    app.include_router(http_metrics.router)
    app.include_router(docs.router)
    app.mount(docs.ASSETS_PATH, docs.ASSETS)

    if sandbox is not None:
        app.mount(SANDBOX_PATH, sandbox.app)
    if paypal_sandbox is not None:
        app.mount(PAYPAL_SANDBOX_PATH, paypal_sandbox.app)
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


async def _every(
    interval: float, what: str, job: Callable[[], Awaitable[object]], *, wait_first: bool = False
) -> None:
    loop = asyncio.get_running_loop()
    if wait_first:
        await asyncio.sleep(interval)
    planned = loop.time()
    while True:
        started = loop.time()
        metrics.job_lag.labels(what).set(max(0.0, started - planned))
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again", what)
        finished = loop.time()
        metrics.job_seconds.labels(what).observe(finished - started)
        planned = finished + interval
        await asyncio.sleep(interval)
