"""The built-in Stripe-compatible server: the payment API, a hosted pay page, signed webhooks.

It speaks Stripe's wire protocol (form-encoded requests, bearer ``sk_test_`` keys,
``Idempotency-Key``, ``Stripe-Account``, Stripe's error objects), so the official SDKs work
against it unchanged. Its state is kept in SQLite and survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qrcheckout_sandbox import catalog, checkout, connect, endpoints, objects, payments
from qrcheckout_sandbox.cards import CardInputError, parse_card
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.delivery import Attempt, Target, WebhookSender
from qrcheckout_sandbox.forms import FormError, decode
from qrcheckout_sandbox.http import Api, Resource, api_key, api_path, paginate, respond
from qrcheckout_sandbox.money import display
from qrcheckout_sandbox.objects import StripeAPIError
from qrcheckout_sandbox.store import Store

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATE_FILE = "qrcheckout-sandbox.db"


class Sandbox:
    """State and routes of one sandbox; ``app`` is the ASGI app, ``start``/``stop`` its jobs."""

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
    ) -> None:
        self.public_base = public_base.rstrip("/")
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
        self.engine = Engine(self.store, self.sender, default)
        self._expiry_interval = expiry_interval_seconds
        self._expiry_task: asyncio.Task[None] | None = None
        self.app = self._build_app()

    async def start(self) -> None:
        await self.sender.start()
        self._expiry_task = asyncio.create_task(self._expire_loop(), name="sandbox-expiry")

    async def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        await self.sender.stop()
        self.store.close()

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # -- reading state (for the service and its tests) ---------------------------------------

    def object(self, object_id: str) -> dict[str, Any]:
        record = self.store.record(object_id)
        if record is None:
            raise KeyError(object_id)
        return record.obj

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
        for record in self.store.all_of("checkout.session"):
            session = record.obj
            if session["status"] == "open" and session["expires_at"] <= now:
                checkout.expire_session(self.ctx_for(session["id"]), session["id"])
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

        api = Api(self.engine)
        api.mount(app, self._resources())
        app.add_api_route(
            "/v1/checkout/sessions/{oid}/line_items", self._line_items(api), methods=["GET"]
        )
        app.add_api_route("/v1/account", self._current_account(api), methods=["GET"])
        app.add_api_route("/deliveries", self._deliveries(api), methods=["GET"])
        oauth = _OAuth(self)
        app.add_api_route("/oauth/authorize", oauth.show, methods=["GET"])
        app.add_api_route("/oauth/authorize", oauth.decide, methods=["POST"])
        app.add_api_route("/oauth/token", oauth.token, methods=["POST"])
        app.add_api_route("/oauth/deauthorize", oauth.deauthorize, methods=["POST"])
        pages = _PayPage(self)
        app.add_api_route("/pay/{session_id}", pages.show, methods=["GET"])
        app.add_api_route("/pay/{session_id}", pages.pay, methods=["POST"])
        return app

    def _resources(self) -> list[Resource]:
        p = payments
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
                p.create_customer,
                p.update_customer,
                p.delete_customer,
                filters=("email",),
                deleted_kind="deleted_customer",
            ),
            Resource("/v1/tokens", "token", p.create_token, listable=False),
            Resource(
                "/v1/payment_methods",
                "payment_method",
                p.create_payment_method,
                actions={"attach": p.attach_payment_method, "detach": p.detach_payment_method},
                filters=("customer", "type"),
            ),
            Resource(
                "/v1/payment_intents",
                "payment_intent",
                p.create_payment_intent,
                p.update_payment_intent,
                actions={
                    "confirm": p.confirm_payment_intent,
                    "capture": p.capture_payment_intent,
                    "cancel": p.cancel_payment_intent,
                },
                filters=("customer",),
            ),
            Resource(
                "/v1/charges",
                "charge",
                p.create_charge,
                actions={"capture": p.capture_charge},
                filters=("customer", "payment_intent"),
            ),
            Resource(
                "/v1/refunds", "refund", p.create_refund, filters=("charge", "payment_intent")
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
                shown=lambda record: bool(record.extra.get("connected")),
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


class _OAuth:
    """Connect's OAuth: a consent page, then an authorization code exchanged for an account."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def show(self, request: Request) -> Response:
        query = dict(request.query_params)
        problem = self._problem(query)
        return TEMPLATES.TemplateResponse(
            request,
            "connect.html",
            {"query": query, "problem": problem, "platform": self.sandbox.business_name},
            status_code=400 if problem else 200,
        )

    async def decide(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        problem = self._problem(form)
        if problem:
            return TEMPLATES.TemplateResponse(
                request,
                "connect.html",
                {"query": form, "problem": problem, "platform": self.sandbox.business_name},
                status_code=400,
            )
        answer: dict[str, str] = {}
        if form.get("decision") == "allow":
            answer["code"] = connect.authorize(
                self.sandbox.store,
                business_name=form.get("business_name") or None,
                email=form.get("email") or None,
                scope=form.get("scope") or "read_write",
                created=int(time.time()),
            )
            answer["scope"] = form.get("scope") or "read_write"
        else:
            answer["error"] = "access_denied"
            answer["error_description"] = "The user denied your request"
        if form.get("state"):
            answer["state"] = form["state"]
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return RedirectResponse(f"{form['redirect_uri']}{separator}{urlencode(answer)}", 303)

    @staticmethod
    def _problem(query: dict[str, str]) -> str | None:
        if not query.get("client_id", "").startswith("ca_"):
            return "The client_id is missing or is not a Connect client id (ca_...)."
        if query.get("response_type", "code") != "code":
            return "response_type must be code."
        if query.get("scope", "read_write") not in connect.SCOPES:
            return "scope must be read_write or read_only."
        redirect = urlsplit(query.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc:
            return "redirect_uri must be the http(s) URL the platform receives the code at."
        return None

    async def token(self, request: Request) -> Response:
        params = await self._params(request)
        return JSONResponse(connect.token(self.sandbox.store, params))

    async def deauthorize(self, request: Request) -> Response:
        params = await self._params(request)
        return JSONResponse(connect.deauthorize(self.sandbox.store, params))

    @staticmethod
    async def _params(request: Request) -> dict[str, Any]:
        try:
            params = decode((await request.body()).decode("utf-8", "replace"))
        except FormError as exc:
            raise connect.OAuthError("invalid_request", str(exc)) from exc
        secret = params.get("client_secret")
        if secret:
            api_key(f"Bearer {secret}")
        else:
            api_key(request.headers.get("authorization"))
        return params


SHIPPING_FIELDS = ("name", "line1", "city", "postal_code", "country")


class _PayPage:
    """The hosted checkout page: a plain HTML form that works without JavaScript."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _session(self, session_id: str) -> dict[str, Any] | None:
        record = self.sandbox.store.record(session_id)
        return record.obj if record is not None and record.kind == "checkout.session" else None

    async def show(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        return self._render(request, session, status=200 if session else 404)

    async def pay(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        if session is None:
            return self._render(request, None, status=404)
        if session["status"] != "open":
            return self._render(request, session, status=409)
        form = await request.form()
        names = ("number", "expiry", "cvc", "email", *(f"ship_{f}" for f in SHIPPING_FIELDS))
        fields = {k: str(form.get(k, "")).strip() for k in names}
        email = fields["email"] or (session.get("customer_email") or "")
        allowed = (session.get("shipping_address_collection") or {}).get("allowed_countries")
        shipping = None
        try:
            if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
                raise CardInputError("email", "Your email address is invalid.")
            if allowed:
                shipping = {f: fields[f"ship_{f}"] for f in SHIPPING_FIELDS}
                for name in SHIPPING_FIELDS:
                    if not shipping[name]:
                        raise CardInputError(f"ship_{name}", "Your shipping address is incomplete.")
                if shipping["country"] not in allowed:
                    raise CardInputError("ship_country", "We can't ship to that country.")
            card = parse_card(fields["number"], fields["expiry"], fields["cvc"], date.today())
        except CardInputError as exc:
            return self._render(
                request, session, error=exc.message, field=exc.field, values=fields, status=400
            )
        ctx = self.sandbox.ctx_for(session_id)
        decline = checkout.pay_session(ctx, session_id, card, email, shipping)
        self.sandbox.store.commit()
        if decline is not None:
            return self._render(
                request, session, error=decline.message, field="number", values=fields, status=402
            )
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
        return RedirectResponse(target, status_code=303)

    def _render(
        self,
        request: Request,
        session: dict[str, Any] | None,
        *,
        error: str = "",
        field: str = "",
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        items = self.sandbox.line_items(session["id"]) if session else []
        merchant = self.sandbox.business_name
        if session is not None:
            record = self.sandbox.store.record(session["id"])
            if record is not None and record.account is not None:
                account = self.sandbox.store.record(record.account)
                profile = (account.obj.get("business_profile") or {}) if account else {}
                merchant = profile.get("name") or merchant
        context = {
            "session": session,
            "items": items,
            "total": display(session["amount_total"], session["currency"]) if session else "",
            "money": display,
            "merchant": merchant,
            "countries": (
                (session.get("shipping_address_collection") or {}).get("allowed_countries")
                if session
                else None
            ),
            "error": error,
            "field": field,
            "values": values or {},
            "action": str(request.url.path),
        }
        return TEMPLATES.TemplateResponse(request, "pay.html", context, status_code=status)
