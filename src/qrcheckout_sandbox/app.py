"""The built-in Stripe-compatible server: the payment API, a hosted pay page, signed webhooks.

It speaks Stripe's wire protocol (form-encoded requests, bearer ``sk_test_`` keys,
``Idempotency-Key``, ``Stripe-Account``, Stripe's error objects), so the official SDKs work
against it unchanged. Its state is kept in SQLite and survives a restart; of a card it keeps
what Stripe keeps, never the number or CVC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from qrcheckout_sandbox import (
    catalog,
    charges,
    checkout,
    connect,
    customers,
    endpoints,
    intents,
    methods,
    objects,
)
from qrcheckout_sandbox.base import SandboxServer
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.delivery import Attempt, Target, WebhookSender
from qrcheckout_sandbox.files import kept_key
from qrcheckout_sandbox.http import Api, Resource, api_path, paginate, respond
from qrcheckout_sandbox.oauth import OAuth
from qrcheckout_sandbox.objects import StripeAPIError
from qrcheckout_sandbox.pages import PayPage
from qrcheckout_sandbox.store import Store

log = logging.getLogger(__name__)

STATE_FILE = "qrcheckout-sandbox.db"
KEY_SUFFIX = ".key"


class Sandbox(SandboxServer):
    """State and routes of one sandbox; ``app`` is the ASGI app, ``start``/``stop`` its jobs.

    ``api_keys``: the only secret keys its API takes (and the OAuth access tokens it issued to
    their holder); None takes any ``sk_test_`` key, as a stand-alone sandbox for any app does.
    Its files (``state_path`` and a key kept beside it) are its owner's alone.
    """

    def __init__(
        self,
        *,
        public_base: str,
        state_path: Path | None = None,
        business_name: str = "Sandbox shop",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        retry_base_seconds: float = 1.0,
        max_attempts: int = 8,
        expiry_interval_seconds: float = 1.0,
        api_keys: Collection[str] | None = None,
    ) -> None:
        self.public_base = public_base.rstrip("/")
        self.api_keys = _checked_keys(api_keys)
        self.store = Store(state_path)
        self.platform = connect.platform_account(self.store, business_name)
        self.business_name = business_name
        self.sender = WebhookSender(
            retry_base_seconds=retry_base_seconds,
            max_attempts=max_attempts,
            on_attempt=self._record_attempt,
        )
        default = None
        if webhook_url is not None and webhook_secret is not None:
            default = Target(webhook_url, webhook_secret)
        # Keys the card fingerprints; kept apart from the state, which alone gives no card away.
        hash_key = (
            kept_key(state_path.with_name(state_path.name + KEY_SUFFIX))
            if state_path is not None
            else secrets.token_bytes(32)
        )
        self.engine = Engine(self.store, self.sender, default, hash_key)
        if methods.forget_card_numbers(self.store, hash_key):
            self.store.commit()
        checkout.schedule_open_sessions(self.engine)
        self._expiry_interval = expiry_interval_seconds
        self._expiry_task: asyncio.Task[None] | None = None
        self.app = self._build_app()

    async def start(self) -> None:
        await super().start()
        self._expiry_task = asyncio.create_task(self._expire_loop(), name="sandbox-expiry")

    async def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        await super().stop()

    # -- reading state (for the service and its tests) ---------------------------------------

    def line_items(self, session_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.store.extra(session_id)["line_items"]
        return items

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event, oldest first, across all accounts."""
        return [record.obj for record in self.store.all_of("event")]

    def ctx_for(self, object_id: str) -> Ctx:
        """A call on behalf of the account that owns ``object_id`` (the hosted page, jobs)."""
        record = self.store.record(object_id)
        return Ctx(self.engine, record.account if record else None)

    # -- jobs ---------------------------------------------------------------------------------

    def _record_attempt(self, attempt: Attempt) -> None:
        body = {"id": objects.new_id("whatt_"), "object": "webhook_delivery_attempt"}
        self.store.add("delivery", body | attempt.as_dict(), None)
        event = self.store.record(attempt.event_id)
        if attempt.succeeded and event is not None:  # as Stripe counts them down
            event.obj["pending_webhooks"] = max(0, event.obj["pending_webhooks"] - 1)
            self.store.saved(event.obj)
        self.store.commit()

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_interval)
            try:
                self.expire_due(int(time.time()))
            except Exception:
                log.exception("expiring checkout sessions failed")

    def expire_due(self, now: int) -> None:
        checkout.expire_due(self.engine, now)
        self.store.commit()

    # -- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="qrcheckout Stripe sandbox",
            lifespan=self.lifespan,
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
        )

        @app.exception_handler(StripeAPIError)
        async def _stripe_error(_: Request, exc: StripeAPIError) -> JSONResponse:
            return respond({"error": exc.body}, exc.status)

        @app.exception_handler(connect.OAuthError)
        async def _oauth_error(_: Request, exc: connect.OAuthError) -> JSONResponse:
            return JSONResponse(
                {"error": exc.code, "error_description": exc.description}, exc.status
            )

        @app.exception_handler(404)
        async def _not_found(request: Request, _: Exception) -> JSONResponse:
            return respond(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Unrecognized request URL "
                        f"({request.method}: {request.url.path}).",
                    }
                },
                404,
            )

        api = Api(self.engine, self.api_keys, self.platform["id"])
        api.mount(app, self._resources())
        app.add_api_route(
            "/v1/checkout/sessions/{oid}/line_items", self._line_items(api), methods=["GET"]
        )
        app.add_api_route("/v1/account", self._current_account(api), methods=["GET"])
        app.add_api_route("/deliveries", self._deliveries(api), methods=["GET"])
        oauth = OAuth(self)
        app.add_api_route("/oauth/authorize", oauth.show, methods=["GET"])
        app.add_api_route("/oauth/authorize", oauth.decide, methods=["POST"])
        app.add_api_route("/oauth/token", oauth.token, methods=["POST"])
        app.add_api_route("/oauth/deauthorize", oauth.deauthorize, methods=["POST"])
        pages = PayPage(self)
        app.add_api_route("/pay/{session_id}", pages.show, methods=["GET"])
        app.add_api_route("/pay/{session_id}", pages.pay, methods=["POST"])
        return app

    def _resources(self) -> list[Resource]:
        return [
            Resource(
                "/v1/products",
                "product",
                catalog.create_product,
                catalog.update_product,
                filters=("active",),
            ),
            Resource(
                "/v1/prices",
                "price",
                catalog.create_price,
                catalog.update_price,
                filters=("active", "currency", "product", "lookup_key", "type"),
            ),
            Resource(
                "/v1/customers",
                "customer",
                customers.create_customer,
                customers.update_customer,
                customers.delete_customer,
                filters=("email",),
                deleted_kind="deleted_customer",
            ),
            Resource("/v1/tokens", "token", methods.create_token, listable=False),
            Resource(
                "/v1/payment_methods",
                "payment_method",
                methods.create_payment_method,
                actions={
                    "attach": methods.attach_payment_method,
                    "detach": methods.detach_payment_method,
                },
                filters=("customer", "type"),
            ),
            Resource(
                "/v1/payment_intents",
                "payment_intent",
                intents.create_payment_intent,
                intents.update_payment_intent,
                actions={
                    "confirm": intents.confirm_payment_intent,
                    "capture": intents.capture_payment_intent,
                    "cancel": intents.cancel_payment_intent,
                },
                filters=("customer",),
            ),
            Resource(
                "/v1/charges",
                "charge",
                charges.create_charge,
                actions={"capture": charges.capture_charge},
                filters=("customer", "payment_intent"),
            ),
            Resource(
                "/v1/refunds", "refund", charges.create_refund, filters=("charge", "payment_intent")
            ),
            Resource(
                "/v1/checkout/sessions",
                "checkout.session",
                lambda ctx, params: checkout.create_session(ctx, params, self.public_base),
                actions={"expire": lambda ctx, _, oid: checkout.expire_session(ctx, oid)},
                filters=("customer", "payment_intent", "status", "client_reference_id"),
            ),
            Resource("/v1/events", "event", filters=("type",)),
            Resource(
                "/v1/webhook_endpoints",
                "webhook_endpoint",
                endpoints.create_endpoint,
                endpoints.update_endpoint,
                endpoints.delete_endpoint,
                deleted_kind="deleted_webhook_endpoint",
            ),
            Resource(
                "/v1/accounts",
                "account",
                connect.create_account,
                fetch=lambda ctx, oid: connect.get_account(ctx, oid, self.platform),
                shown=lambda record: (
                    bool(record.extra.get("connected")) and not record.extra.get("deauthorized")
                ),
            ),
            Resource("/v1/application_fees", "application_fee", filters=("charge",)),
        ]

    def _line_items(self, api: Api) -> Any:
        async def route(request: Request) -> Response:
            ctx, params = await api.read(request)
            items = checkout.line_items(ctx, request.path_params["oid"])
            return api.answer(ctx, params, paginate(api_path(request), items, params))

        return route

    def _current_account(self, api: Api) -> Any:
        async def route(request: Request) -> Response:
            ctx, params = await api.read(request)
            return api.answer(ctx, params, connect.current_account(ctx, params, self.platform))

        return route

    def _deliveries(self, api: Api) -> Any:
        """The delivery log: every attempt to deliver an event, newest first."""

        async def route(request: Request) -> Response:
            ctx, params = await api.read(request)
            wanted = {k: params[k] for k in ("event", "webhook_endpoint") if params.get(k)}
            found = [
                r.obj
                for r in self.store.find("delivery", None)
                if all(r.obj.get(k) == v for k, v in wanted.items())
            ]
            return api.answer(ctx, params, paginate(api_path(request), found, params))

        return route


def _checked_keys(api_keys: Collection[str] | None) -> frozenset[str] | None:
    if api_keys is None:
        return None
    if isinstance(api_keys, str):
        raise TypeError("api_keys is a collection of keys, not one key")
    keys = frozenset(api_keys)
    if not keys:
        raise ValueError("api_keys names no key: the sandbox would take no call")
    for key in keys:
        if not key.startswith(("sk_test_", "rk_test_")) or len(key) <= 12:
            raise ValueError("each of api_keys must be an sk_test_ or rk_test_ key")
    return keys
