"""The built-in Stripe-compatible server: Checkout Sessions, a hosted pay page, signed webhooks.

It speaks Stripe's wire protocol (form-encoded requests, bearer ``sk_test_`` keys,
``Idempotency-Key``, Stripe's error objects), so the official SDKs work against it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qrcheckout.money import format_amount
from qrcheckout.sandbox import objects
from qrcheckout.sandbox.cards import CardInputError, parse_card
from qrcheckout.sandbox.delivery import WebhookSender
from qrcheckout.sandbox.forms import FormError, decode
from qrcheckout.sandbox.objects import StripeAPIError, invalid, missing, no_such

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Stripe's window for a Checkout Session's expires_at, in seconds after creation.
EXPIRES_MIN, EXPIRES_MAX, EXPIRES_DEFAULT = 30 * 60, 24 * 60 * 60, 24 * 60 * 60
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
MAX_LINE_ITEMS = 100
MAX_AMOUNT = 99_999_999


class Sandbox:
    """State and routes of one sandbox; ``app`` is the ASGI app, ``start``/``stop`` its jobs."""

    def __init__(
        self,
        *,
        public_base: str,
        webhook_url: str | None,
        webhook_secret: str,
        retry_base_seconds: float = 1.0,
        max_attempts: int = 8,
        expiry_interval_seconds: float = 1.0,
    ) -> None:
        self.public_base = public_base.rstrip("/")
        self.sessions: dict[str, dict[str, Any]] = {}
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._idempotency: dict[str, tuple[str, int, int, dict[str, Any]]] = {}
        self._expiry_interval = expiry_interval_seconds
        self._expiry_task: asyncio.Task[None] | None = None
        self.sender = WebhookSender(
            url=webhook_url,
            secret=webhook_secret,
            retry_base_seconds=retry_base_seconds,
            max_attempts=max_attempts,
        )
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

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # -- state changes -----------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        event = objects.event(
            event_type, dict(obj), request_id=request_id, idempotency_key=idempotency_key
        )
        self.events.append(event)
        self.sender.send(event)
        return event

    def create_session(
        self, params: dict[str, Any], request_id: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        if params.get("mode") is None:
            raise missing("mode")
        if params["mode"] != "payment":
            raise invalid("mode", "Only mode=payment is supported by the sandbox.")
        if not params.get("success_url"):
            raise missing("success_url")
        for url_param in ("success_url", "cancel_url"):
            if url_param in params and not _is_url(params[url_param]):
                raise invalid(url_param, f"Not a valid URL: {url_param}")
        raw_items = params.get("line_items")
        if not raw_items:
            raise missing("line_items")
        if not isinstance(raw_items, list) or len(raw_items) > MAX_LINE_ITEMS:
            raise invalid("line_items", "line_items must be a list of at most 100 items.")
        now = int(time.time())
        currency: str | None = None
        priced: list[tuple[int, int, str, str | None]] = []
        for index, raw in enumerate(raw_items):
            prefix = f"line_items[{index}]"
            if not isinstance(raw, dict):
                raise invalid(prefix, f"Invalid {prefix}.")
            data = raw.get("price_data")
            if not isinstance(data, dict):
                raise missing(f"{prefix}[price_data]")
            item_currency = str(data.get("currency") or "").lower()
            if len(item_currency) != 3 or not item_currency.isalpha():
                raise invalid(f"{prefix}[price_data][currency]", "Invalid currency.")
            if currency is not None and item_currency != currency:
                raise invalid(
                    f"{prefix}[price_data][currency]", "All line items must use the same currency."
                )
            currency = item_currency
            unit_amount = _int(
                data.get("unit_amount"), f"{prefix}[price_data][unit_amount]", 0, MAX_AMOUNT
            )
            quantity = _int(raw.get("quantity"), f"{prefix}[quantity]", 1, 999_999)
            product = data.get("product_data")
            if not isinstance(product, dict) or not product.get("name"):
                raise missing(f"{prefix}[price_data][product_data][name]")
            priced.append((unit_amount, quantity, str(product["name"]), product.get("description")))
        assert currency is not None
        expires_at = now + EXPIRES_DEFAULT
        if params.get("expires_at") is not None:
            expires_at = _int(params["expires_at"], "expires_at", 0, 2**40)
            if not now + EXPIRES_MIN <= expires_at <= now + EXPIRES_MAX:
                raise invalid(
                    "expires_at",
                    "The `expires_at` timestamp must be between 30 "
                    "minutes and 24 hours from Checkout Session creation.",
                )
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise invalid("metadata", "Invalid hash")
        session_id = objects.new_id("cs_test_", 58)
        items = [
            objects.line_item(
                currency=currency,
                unit_amount=unit,
                quantity=qty,
                name=name,
                description=desc,
                product_id=objects.new_id("prod_", 14),
                created=now,
            )
            for unit, qty, name, desc in priced
        ]
        session = objects.checkout_session(
            session_id=session_id,
            url=f"{self.public_base}/pay/{session_id}",
            params=params | {"metadata": metadata},
            currency=currency,
            amount_subtotal=sum(i["amount_total"] for i in items),
            expires_at=expires_at,
            created=now,
        )
        self.sessions[session_id] = session
        self.line_items[session_id] = items
        return session

    def expire_session(self, session_id: str, *, request_id: str | None = None) -> dict[str, Any]:
        session = self._session(session_id)
        if session["status"] != "open":
            raise StripeAPIError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired, '
                f'but this Checkout Session has a status of "{session["status"]}".',
            )
        session["status"] = "expired"
        session["url"] = None
        self.emit("checkout.session.expired", session, request_id=request_id)
        return session

    def pay_session(self, session_id: str, email: str) -> dict[str, Any]:
        session = self._session(session_id)
        session["status"] = "complete"
        session["payment_status"] = "paid"
        session["payment_intent"] = objects.new_id("pi_")
        session["customer_details"] = {
            "address": None,
            "email": email,
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
            "business_name": None,
            "individual_name": None,
        }
        session["url"] = None
        self.emit("checkout.session.completed", session)
        return session

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_interval)
            now = int(time.time())
            for session in list(self.sessions.values()):
                if session["status"] == "open" and session["expires_at"] <= now:
                    self.expire_session(session["id"])

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise no_such("checkout.session", session_id, "session")
        return session

    # -- HTTP --------------------------------------------------------------------------------

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
            return JSONResponse({"error": exc.body}, exc.status)

        @app.exception_handler(404)
        async def _not_found(request: Request, _: Exception) -> JSONResponse:
            return JSONResponse(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Unrecognized request URL "
                        f"({request.method}: {request.url.path}).",
                    }
                },
                404,
            )

        api = _StripeRoutes(self)
        app.add_api_route("/v1/checkout/sessions", api.create_session, methods=["POST"])
        app.add_api_route("/v1/checkout/sessions", api.list_sessions, methods=["GET"])
        app.add_api_route("/v1/checkout/sessions/{session_id}", api.get_session, methods=["GET"])
        app.add_api_route(
            "/v1/checkout/sessions/{session_id}/expire", api.expire_session, methods=["POST"]
        )
        app.add_api_route(
            "/v1/checkout/sessions/{session_id}/line_items", api.list_line_items, methods=["GET"]
        )
        app.add_api_route("/v1/events", api.list_events, methods=["GET"])
        app.add_api_route("/v1/events/{event_id}", api.get_event, methods=["GET"])
        pages = _PayPage(self)
        app.add_api_route(
            "/pay/{session_id}", pages.show, methods=["GET"], response_class=HTMLResponse
        )
        app.add_api_route(
            "/pay/{session_id}", pages.pay, methods=["POST"], response_class=HTMLResponse
        )
        return app


class _StripeRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def create_session(self, request: Request) -> Response:
        return await self._call(request, self.sandbox.create_session)

    async def list_sessions(self, request: Request) -> Response:
        params = await self._read(request)
        data = sorted(self.sandbox.sessions.values(), key=lambda s: s["created"], reverse=True)
        return _json(_page(request.url.path, data, params))

    async def get_session(self, request: Request, session_id: str) -> Response:
        await self._read(request)
        return _json(self.sandbox._session(session_id))

    async def expire_session(self, request: Request, session_id: str) -> Response:
        return await self._call(
            request, lambda p, rid, key: self.sandbox.expire_session(session_id, request_id=rid)
        )

    async def list_line_items(self, request: Request, session_id: str) -> Response:
        params = await self._read(request)
        self.sandbox._session(session_id)
        return _json(_page(request.url.path, self.sandbox.line_items[session_id], params))

    async def list_events(self, request: Request) -> Response:
        params = await self._read(request)
        data = list(reversed(self.sandbox.events))
        if params.get("type"):
            data = [e for e in data if e["type"] == params["type"]]
        return _json(_page(request.url.path, data, params))

    async def get_event(self, request: Request, event_id: str) -> Response:
        await self._read(request)
        for event in self.sandbox.events:
            if event["id"] == event_id:
                return _json(event)
        raise no_such("event", event_id)

    async def _read(self, request: Request) -> dict[str, Any]:
        _authenticate(request.headers.get("authorization"))
        raw = (
            (await request.body()).decode("utf-8", "replace")
            if request.method == "POST"
            else request.url.query
        )
        try:
            return decode(raw)
        except FormError as exc:
            raise invalid(exc.param, str(exc)) from exc

    async def _call(
        self,
        request: Request,
        action: Callable[[dict[str, Any], str, str | None], dict[str, Any]],
    ) -> Response:
        """Run a POST, replaying its stored answer for a repeated ``Idempotency-Key``."""
        params = await self._read(request)
        request_id = objects.new_id("req_", 14)
        key = request.headers.get("idempotency-key")
        if key is None:
            return _run(action, params, request_id, None)
        fingerprint = hashlib.sha256(
            f"{request.url.path}\n{sorted(_flatten(params))}".encode()
        ).hexdigest()
        store = self.sandbox._idempotency
        now = int(time.time())
        for stale in [k for k, v in store.items() if v[1] < now - IDEMPOTENCY_TTL_SECONDS]:
            del store[stale]
        if key in store:
            seen, _, status, body = store[key]
            if seen != fingerprint:
                raise StripeAPIError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            return _json(body, status, replayed=True)
        response = _run(action, params, request_id, key)
        if response.status_code < 500:
            store[key] = (fingerprint, now, response.status_code, _body_of(response))
        return response


def _run(
    action: Callable[[dict[str, Any], str, str | None], dict[str, Any]],
    params: dict[str, Any],
    request_id: str,
    key: str | None,
) -> JSONResponse:
    try:
        return _json(action(params, request_id, key))
    except StripeAPIError as exc:
        return JSONResponse({"error": exc.body}, exc.status)


class _PayPage:
    """The hosted checkout page: a plain HTML form that works without JavaScript."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def show(self, request: Request, session_id: str) -> Response:
        session = self.sandbox.sessions.get(session_id)
        if session is None:
            return self._render(request, None, status=404)
        return self._render(request, session)

    async def pay(self, request: Request, session_id: str) -> Response:
        session = self.sandbox.sessions.get(session_id)
        if session is None:
            return self._render(request, None, status=404)
        if session["status"] != "open":
            return self._render(request, session, status=409)
        form = await request.form()
        fields = {k: str(form.get(k, "")) for k in ("number", "expiry", "cvc", "email")}
        email = fields["email"].strip() or (session.get("customer_email") or "")
        try:
            card = parse_card(fields["number"], fields["expiry"], fields["cvc"], date.today())
            if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
                raise CardInputError("email", "Your email address is invalid.")
        except CardInputError as exc:
            return self._render(
                request, session, error=exc.message, field=exc.field, values=fields, status=400
            )
        if card.decline is not None:
            return self._render(
                request,
                session,
                error=card.decline.message,
                field="number",
                values=fields,
                status=402,
            )
        self.sandbox.pay_session(session_id, email)
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
        items = self.sandbox.line_items.get(session["id"], []) if session else []
        context = {
            "session": session,
            "items": items,
            "total": format_amount(session["amount_total"], session["currency"]) if session else "",
            "money": format_amount,
            "error": error,
            "field": field,
            "values": values or {},
            "action": str(request.url.path),
        }
        return TEMPLATES.TemplateResponse(request, "pay.html", context, status_code=status)


def _authenticate(header: str | None) -> None:
    if not header:
        raise StripeAPIError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith("sk_test_") or len(key) <= 8:
        shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else key
        raise StripeAPIError(401, f"Invalid API Key provided: {shown}")


def _int(value: Any, param: str, low: int, high: int) -> int:
    if value is None or value == "":
        raise missing(param)
    try:
        number = int(str(value))
    except ValueError:
        raise invalid(param, f"Invalid integer: {value}") from None
    if not low <= number <= high:
        raise invalid(param, f"{param} must be between {low} and {high}.")
    return number


def _is_url(value: Any) -> bool:
    parts = urlsplit(str(value))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _flatten(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _flatten(v, f"{prefix}[{k}]")]
    if isinstance(node, list):
        return [pair for i, v in enumerate(node) for pair in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, str(node))]


def _page(url: str, data: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    limit = _int(params.get("limit", 10), "limit", 1, 100)
    ids = [d["id"] for d in data]
    if params.get("starting_after") in ids:
        data = data[ids.index(params["starting_after"]) + 1 :]
    elif params.get("ending_before") in ids:
        end = ids.index(params["ending_before"])
        data = data[max(0, end - limit) : end]
    return objects.list_object(url, data[:limit], has_more=len(data) > limit)


def _json(body: dict[str, Any], status: int = 200, *, replayed: bool = False) -> JSONResponse:
    headers = {"Request-Id": objects.new_id("req_", 14), "Stripe-Version": objects.API_VERSION}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status, headers=headers)


def _body_of(response: JSONResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body
