"""The PayPal-compatible server: its state, its routes and its webhook deliveries.

It speaks PayPal's REST wire protocol (JSON bodies, OAuth 2 bearer tokens, ``PayPal-Request-Id``
idempotency, ``Prefer: return=representation``, PayPal's error bodies), so PayPal's official SDK
works against it unchanged. It shares the Stripe sandbox's store, webhook sender and page
layout; its state survives a restart when given a ``state_path``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from qrcheckout_sandbox.base import SandboxServer
from qrcheckout_sandbox.delivery import Attempt, WebhookSender
from qrcheckout_sandbox.paypal import orders, payments, webhooks
from qrcheckout_sandbox.paypal.auth import Clients, OAuthError
from qrcheckout_sandbox.paypal.core import DELIVERY, WEBHOOK, Call, World, new_id
from qrcheckout_sandbox.paypal.errors import Detail, PayPalError
from qrcheckout_sandbox.paypal.pages import ApprovalPage
from qrcheckout_sandbox.store import Store

STATE_FILE = "qrcheckout-paypal-sandbox.db"
#: PayPal keeps a ``PayPal-Request-Id`` for 6 hours.
REQUEST_ID_SECONDS = 6 * 60 * 60
MAX_REQUEST_ID = 108
MAX_BODY = 1_000_000

Handler = Callable[[Call, Request, dict[str, Any]], Any]


class PayPalSandbox(SandboxServer):
    """State and routes of one PayPal sandbox; ``app`` is the ASGI app.

    ``credentials``: the apps it serves (client id -> secret); None serves any. ``webhook_url``
    with ``webhook_id``: a webhook registered for each of those apps from the start, under that
    id (how the service that mounts the sandbox gets its events).
    """

    def __init__(
        self,
        *,
        public_base: str,
        state_path: Path | None = None,
        business_name: str = "Sandbox shop",
        credentials: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_id: str | None = None,
        retry_base_seconds: float = 1.0,
        max_attempts: int = 8,
    ) -> None:
        self.base = public_base.rstrip("/")
        self.business_name = business_name
        self.store = Store(state_path)
        self.clients = Clients(self.store, credentials)
        self.signer = webhooks.Signer(self.base)
        self.sender = WebhookSender(
            retry_base_seconds=retry_base_seconds,
            max_attempts=max_attempts,
            on_attempt=self._record_attempt,
            encode=webhooks.encode,
            sign=self.signer.headers,
        )
        self.world = World(
            self.store,
            self.base,
            self.sender,
            lambda client, event_type: webhooks.targets(self.store, client, event_type),
        )
        if webhook_url is not None and webhook_id is not None:
            if credentials is None:
                raise ValueError("a built-in webhook needs the credentials of the apps it is for")
            for client in credentials:
                self._register(client, webhook_id, webhook_url)
        self.store.commit()
        self.app = self._build_app()

    def _register(self, client: str, webhook_id: str, url: str) -> None:
        hook = webhooks.webhook(self.base, webhook_id, url, ["*"])
        record = self.store.record(webhook_id)
        if record is None:
            self.store.add(WEBHOOK, hook, client)
        elif record.kind == WEBHOOK and record.account == client:
            record.obj.update(hook)
            self.store.saved(record.obj)
        else:
            raise ValueError(f"webhook id {webhook_id} is taken")

    def call(self, client: str, request_id: str | None = None) -> Call:
        return Call(self.world, client, request_id)

    def _record_attempt(self, attempt: Attempt) -> None:
        body = {"id": new_id(), "object": "webhook_delivery_attempt"}
        self.store.add(DELIVERY, body | attempt.as_dict(), None)
        self.store.commit()

    # -- HTTP ---------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(
            title="qrcheckout PayPal sandbox",
            lifespan=self.lifespan,
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
        )

        @app.exception_handler(PayPalError)
        async def _paypal_error(_: Request, exc: PayPalError) -> JSONResponse:
            return JSONResponse(exc.body(), exc.status)

        @app.exception_handler(OAuthError)
        async def _oauth_error(_: Request, exc: OAuthError) -> JSONResponse:
            return JSONResponse(exc.body, exc.status)

        @app.exception_handler(404)
        async def _not_found(_: Request, __: Exception) -> JSONResponse:
            return JSONResponse(PayPalError(404).body(), 404)

        @app.exception_handler(405)
        async def _not_allowed(_: Request, __: Exception) -> JSONResponse:
            return JSONResponse(PayPalError(405).body(), 405)

        app.add_api_route("/v1/oauth2/token", self._token, methods=["POST"])
        orders_path = "/v2/checkout/orders"
        self._post(app, orders_path, self._create_order, created=True)
        self._get(app, orders_path + "/{oid}", lambda c, r, _: orders.get_order(c, _oid(r)))
        self._post(app, orders_path + "/{oid}/capture", self._capture_order, created=True)
        self._post(app, orders_path + "/{oid}/authorize", self._authorize_order, created=True)
        payments_path = "/v2/payments"
        self._get(
            app,
            payments_path + "/captures/{oid}",
            lambda c, r, _: payments.get_capture(c, _oid(r)),
        )
        self._post(
            app,
            payments_path + "/captures/{oid}/refund",
            lambda c, r, b: payments.refund_capture(c, _oid(r), b),
            created=True,
        )
        self._get(
            app, payments_path + "/refunds/{oid}", lambda c, r, _: payments.get_refund(c, _oid(r))
        )
        self._get(
            app,
            payments_path + "/authorizations/{oid}",
            lambda c, r, _: payments.get_authorization(c, _oid(r)),
        )
        self._post(
            app,
            payments_path + "/authorizations/{oid}/capture",
            lambda c, r, b: _shown(r, payments.capture_authorization(c, _oid(r), b)),
            created=True,
        )
        self._post(app, payments_path + "/authorizations/{oid}/void", self._void)
        hooks = "/v1/notifications/webhooks"
        self._post(app, hooks, lambda c, _, b: webhooks.create_webhook(c, b), created=True)
        self._get(app, hooks, lambda c, _, __: webhooks.list_webhooks(c))
        self._get(app, hooks + "/{oid}", lambda c, r, _: webhooks.get_webhook(c, _oid(r)))
        self._route(app, "DELETE", hooks + "/{oid}", self._delete_webhook)
        self._post(
            app,
            "/v1/notifications/verify-webhook-signature",
            lambda c, _, b: webhooks.verify(c, self.signer, b),
        )
        events = "/v1/notifications/webhooks-events"
        self._get(app, events, lambda c, r, _: webhooks.list_events(c, dict(r.query_params)))
        self._get(app, events + "/{oid}", lambda c, r, _: webhooks.get_event(c, _oid(r)))
        self._post(app, events + "/{oid}/resend", self._resend, status=202)
        app.add_api_route("/v1/notifications/certs/{cert}", self._certificate, methods=["GET"])
        page = ApprovalPage(self)
        app.add_api_route("/checkoutnow", page.show, methods=["GET"])
        app.add_api_route("/checkoutnow", page.decide, methods=["POST"])
        return app

    def _get(self, app: FastAPI, path: str, handler: Handler) -> None:
        self._route(app, "GET", path, handler)

    def _post(
        self, app: FastAPI, path: str, handler: Handler, *, created: bool = False, status: int = 200
    ) -> None:
        self._route(app, "POST", path, handler, status=201 if created else status)

    def _route(
        self, app: FastAPI, method: str, path: str, handler: Handler, *, status: int = 200
    ) -> None:
        parameter = _PARAMETERS.get(path, "id")
        operation = f"{method} {path}".replace("{oid}", "{" + parameter + "}")

        async def route(request: Request) -> Response:
            try:
                return await self._answer(request, handler, status)
            except PayPalError as error:
                return _json(error.body(operation), error.status)

        app.add_api_route(path, route, methods=[method])

    async def _answer(self, request: Request, handler: Handler, status: int) -> Response:
        client = self.clients.caller(request.headers.get("authorization"))
        request_id = request.headers.get("paypal-request-id")
        if request_id is not None and not 1 <= len(request_id) <= MAX_REQUEST_ID:
            raise PayPalError(
                400,
                Detail(
                    "INVALID_STRING_LENGTH",
                    f"PayPal-Request-Id is from 1 to {MAX_REQUEST_ID} characters.",
                    "PayPal-Request-Id",
                    location="header",
                ),
            )
        body = await _body(request) if request.method == "POST" else {}
        # From here to the answer nothing awaits: a retry with the same PayPal-Request-Id that
        # arrives meanwhile finds this one's answer, never runs the operation again.
        key = f"{request.method} {request.url.path}|{request_id}"
        remembered = request.method == "POST" and request_id is not None
        if remembered:
            replay = self.store.replay(client, key, int(time.time()) - REQUEST_ID_SECONDS)
            if replay is not None:
                # PayPal answers a repeated request with the first answer, as 200 OK.
                if replay.status == 204:
                    return Response(status_code=204)
                return _json(replay.body, 200 if replay.status == 201 else replay.status)
        result = handler(self.call(client, request_id), request, body)
        answered = 204 if result is None else status
        if remembered:
            self.store.remember(client, key, "", int(time.time()), answered, result)
        self.store.commit()
        return Response(status_code=204) if result is None else _json(result, answered)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        return _json(self.clients.issue(request.headers.get("authorization"), form), 200)

    async def _certificate(self, request: Request) -> Response:
        if self.signer.cert_url.rsplit("/", 1)[1] != request.path_params["cert"]:
            raise PayPalError(404)
        return Response(self.signer.pem, media_type="application/x-pem-file")

    def _create_order(self, call: Call, request: Request, body: dict[str, Any]) -> Any:
        return orders.create_order(call, body, _representation(request))

    def _capture_order(self, call: Call, request: Request, _: dict[str, Any]) -> Any:
        return orders.capture_order(call, _oid(request), _representation(request))

    def _authorize_order(self, call: Call, request: Request, _: dict[str, Any]) -> Any:
        return orders.authorize_order(call, _oid(request), _representation(request))

    def _void(self, call: Call, request: Request, _: dict[str, Any]) -> Any:
        authorization = payments.void_authorization(call, _oid(request))
        return authorization if _representation(request) else None

    def _delete_webhook(self, call: Call, request: Request, _: dict[str, Any]) -> None:
        webhooks.delete_webhook(call, _oid(request))

    def _resend(self, call: Call, request: Request, body: dict[str, Any]) -> Any:
        event = webhooks.get_event(call, _oid(request))
        self.world.deliver(event, webhooks.resend_targets(call, event, body))
        return event


# How PayPal's documents name each path's id, so that an error is described as they have it.
_PARAMETERS = {
    **{
        f"/v2/payments/authorizations/{{oid}}{action}": "authorization_id"
        for action in ("", "/capture", "/void")
    },
    "/v2/payments/captures/{oid}": "capture_id",
    "/v2/payments/captures/{oid}/refund": "capture_id",
    "/v2/payments/refunds/{oid}": "refund_id",
    "/v1/notifications/webhooks/{oid}": "webhook_id",
    "/v1/notifications/webhooks-events/{oid}": "event_id",
    "/v1/notifications/webhooks-events/{oid}/resend": "event_id",
}


def _oid(request: Request) -> str:
    return str(request.path_params["oid"])


def _representation(request: Request) -> bool:
    return "return=representation" in request.headers.get("prefer", "")


def _shown(request: Request, payment: dict[str, Any]) -> dict[str, Any]:
    """A payment as PayPal answers it: whole with ``Prefer: return=representation``, else its
    id, status and links."""
    if _representation(request):
        return payment
    return {key: payment[key] for key in ("id", "status", "links")}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayPalError(400, Detail("MALFORMED_REQUEST_JSON", "The request body is too large."))
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise PayPalError(
            400,
            Detail("MALFORMED_REQUEST_JSON", "The request JSON is not well formed."),
        )
    return body


def _json(body: Any, status: int) -> Response:
    return JSONResponse(body, status)
