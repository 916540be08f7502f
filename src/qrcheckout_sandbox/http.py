"""The sandbox's REST surface: authentication, accounts, idempotency, lists and ``expand[]``.

Each resource is declared once (its path, kind, operations and list filters); the routes are
made from the declarations, so every resource authenticates, paginates and expands alike.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from qrcheckout_sandbox import connect, objects
from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.forms import FormError, decode
from qrcheckout_sandbox.objects import StripeAPIError, invalid, no_such
from qrcheckout_sandbox.store import Record

IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
MAX_EXPAND_DEPTH = 4

Create = Callable[[Ctx, dict[str, Any]], dict[str, Any]]
Act = Callable[[Ctx, dict[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    """One REST resource: ``POST path``, ``GET path``, ``GET/POST/DELETE path/{id}``, actions."""

    path: str
    kind: str
    create: Create | None = None
    update: Act | None = None
    delete: Act | None = None
    actions: dict[str, Act] = field(default_factory=dict)
    filters: tuple[str, ...] = ()
    listable: bool = True
    deleted_kind: str | None = None
    # Overrides: how one object is fetched, and which records a list shows.
    fetch: Callable[[Ctx, str], dict[str, Any]] | None = None
    shown: Callable[[Record], bool] | None = None


class Api:
    """The REST routes of one sandbox; ``api_keys``: the secret keys it takes (None: any
    ``sk_test_`` or ``rk_test_`` key), besides the OAuth access tokens it issued."""

    def __init__(
        self, engine: Engine, api_keys: frozenset[str] | None = None, platform_id: str = ""
    ) -> None:
        self.engine = engine
        self.api_keys = api_keys
        #: The platform's own account id, which a ``Stripe-Account`` header may name.
        self.platform_id = platform_id

    @property
    def store(self) -> Any:
        return self.engine.store

    # -- wiring -------------------------------------------------------------------------------

    def mount(self, app: FastAPI, resources: list[Resource]) -> None:
        for resource in resources:
            self._mount(app, resource)

    def _mount(self, app: FastAPI, r: Resource) -> None:
        if r.create is not None:
            create = r.create

            async def create_route(request: Request) -> Response:
                return await self.write(request, create)

            app.add_api_route(r.path, create_route, methods=["POST"])
        if r.listable:

            async def list_route(request: Request) -> Response:
                ctx, params = await self.read(request)
                return self.answer(ctx, params, self.page(ctx, r, params, api_path(request)))

            app.add_api_route(r.path, list_route, methods=["GET"])

        async def retrieve_route(request: Request) -> Response:
            ctx, params = await self.read(request)
            return self.answer(ctx, params, self.retrieve(ctx, r, request.path_params["oid"]))

        app.add_api_route(r.path + "/{oid}", retrieve_route, methods=["GET"])
        for method, act in (("POST", r.update), ("DELETE", r.delete)):
            if act is not None:
                app.add_api_route(r.path + "/{oid}", self._acting(act), methods=[method])
        for name, act in r.actions.items():
            app.add_api_route(r.path + "/{oid}/" + name, self._acting(act), methods=["POST"])

    def _acting(self, act: Act) -> Callable[[Request], Any]:
        async def route(request: Request) -> Response:
            oid = str(request.path_params["oid"])
            return await self.write(request, lambda ctx, params: act(ctx, params, oid))

        return route

    # -- requests -----------------------------------------------------------------------------

    async def read(self, request: Request) -> tuple[Ctx, dict[str, Any]]:
        account = self.authenticate(request)
        raw = (
            (await request.body()).decode("utf-8", "replace")
            if request.method in ("POST", "DELETE")
            else request.url.query
        )
        try:
            params = decode(raw)
        except FormError as exc:
            raise invalid(exc.param, str(exc)) from exc
        ctx = Ctx(self.engine, account, request_id=objects.new_id("req_", 14))
        return ctx, params

    def authenticate(self, request: Request) -> str | None:
        """The account the call acts for: the platform (None), or a connected ``acct_``."""
        key = api_key(request.headers.get("authorization"))
        account = connect.account_for_token(self.engine.store, key)
        if account is None and connect.revoked(self.engine.store, key):
            raise StripeAPIError(
                401, "This access token has been revoked: the account was disconnected."
            )
        if account is None:
            check_key(key, self.api_keys)
        header = request.headers.get("stripe-account")
        if header and account is None and header == self.platform_id:
            # The platform naming itself acts as itself, as on Stripe (dj-stripe sends it).
            header = None
        if header:
            if account is not None and header != account:
                raise _no_access(header)
            if connect.connected(self.engine.store, header) is None:
                raise _no_access(header)
            account = header
        return account

    async def write(self, request: Request, op: Create) -> Response:
        """Run a POST, replaying its stored answer for a repeated ``Idempotency-Key``."""
        ctx, params = await self.read(request)
        key = request.headers.get("idempotency-key")
        ctx.idempotency_key = key
        if key is None:
            return self.run(ctx, params, op)
        # Keyed: the parameters may hold a card number, which an unkeyed hash would give away.
        fingerprint = hmac.new(
            self.engine.hash_key,
            f"{request.method} {request.url.path}\n{sorted(_flatten(params))}".encode(),
            hashlib.sha256,
        ).hexdigest()
        now = int(time.time())
        seen = self.store.replay(ctx.account, key, now - IDEMPOTENCY_TTL_SECONDS)
        if seen is not None:
            if seen.fingerprint != fingerprint:
                raise StripeAPIError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            return respond(seen.body, seen.status, ctx=ctx, replayed=True)
        response = self.run(ctx, params, op)
        body = response.body if isinstance(response, JSONResponse) else b"{}"
        self.store.remember(
            ctx.account, key, fingerprint, now, response.status_code, _json_of(bytes(body))
        )
        return response

    def run(self, ctx: Ctx, params: dict[str, Any], op: Create) -> Response:
        try:
            result = op(ctx, params)
        except StripeAPIError as exc:
            self.store.commit()  # a declined charge and its events are kept
            return respond({"error": exc.body}, exc.status, ctx=ctx)
        self.store.commit()
        return self.answer(ctx, params, result)

    def answer(self, ctx: Ctx, params: dict[str, Any], body: dict[str, Any]) -> Response:
        paths = p.strings(params, "expand")
        if paths:
            body = copy.deepcopy(body)
            for path in paths:
                if path.count(".") >= MAX_EXPAND_DEPTH:
                    raise invalid(
                        "expand", f"You cannot expand more than 4 levels of a property: {path}"
                    )
                self.expand(ctx, body, path.split("."), path)
        return respond(body, ctx=ctx)

    # -- objects ------------------------------------------------------------------------------

    def retrieve(self, ctx: Ctx, r: Resource, oid: str) -> dict[str, Any]:
        if r.fetch is not None:
            return r.fetch(ctx, oid)
        found = self.store.get(r.kind, oid, ctx.account)
        if found is None and r.deleted_kind and self.store.get(r.deleted_kind, oid, ctx.account):
            return {"id": oid, "object": r.kind, "deleted": True}
        if found is None:
            raise no_such(r.kind, oid)
        result: dict[str, Any] = found
        return result

    def page(self, ctx: Ctx, r: Resource, params: dict[str, Any], url: str) -> dict[str, Any]:
        wanted = {name: params[name] for name in r.filters if params.get(name)}
        types = p.strings(params, "types")

        def match(record: Record) -> bool:
            if r.shown is not None and not r.shown(record):
                return False
            if types and record.obj.get("type") not in types:
                return False
            return all(_as_param(record.obj.get(k)) == str(v) for k, v in wanted.items())

        found = [rec.obj for rec in self.store.find(r.kind, ctx.account, match)]
        return paginate(url, found, params)

    def expand(self, ctx: Ctx, node: Any, parts: list[str], path: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and node.get("object") == "list":
            for item in node["data"]:
                self.expand(ctx, item, rest, path)
            return
        if head == "line_items" and node.get("object") == "checkout.session":
            items = self.store.extra(node["id"])["line_items"]
            node["line_items"] = objects.list_object(
                f"/v1/checkout/sessions/{node['id']}/line_items", items
            )
        elif head not in node:
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        value = node[head]
        if isinstance(value, str):
            record = self.store.record(value)
            if record is not None and record.account in (ctx.account, None):
                node[head] = copy.deepcopy(record.obj)
            else:
                raise invalid("expand", f"This property cannot be expanded ({path}).")
        self.expand(ctx, node[head], rest, path)


def api_path(request: Request) -> str:
    """The path as the client's SDK names it, without the prefix the sandbox is mounted at."""
    return request.url.path.removeprefix(request.scope.get("root_path", "")) or "/"


def paginate(url: str, data: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Stripe's cursor pagination over ``data``, newest first."""
    limit = p.integer(params, "limit", low=1, high=100) or 10
    ids = [d["id"] for d in data]
    after, before = params.get("starting_after"), params.get("ending_before")
    if after:
        if after not in ids:
            raise invalid("starting_after", f"No such object: '{after}'")
        data = data[ids.index(after) + 1 :]
    elif before:
        if before not in ids:
            raise invalid("ending_before", f"No such object: '{before}'")
        end = ids.index(before)
        return objects.list_object(url, data[max(0, end - limit) : end], has_more=end > limit)
    return objects.list_object(url, data[:limit], has_more=len(data) > limit)


def api_key(header: str | None) -> str:
    if not header:
        raise StripeAPIError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() == "basic":  # ``curl -u sk_test_...:``, as Stripe's own examples do
        try:
            key = base64.b64decode(key, validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
        scheme = "bearer"
    if scheme.lower() != "bearer" or not key.startswith(("sk_test_", "rk_test_")) or len(key) <= 8:
        raise _invalid_key(key)
    return key


def check_key(key: str, allowed: Collection[str] | None) -> None:
    """Refuse ``key`` as Stripe refuses an unknown key, unless it is one of ``allowed``
    (None: any well-formed test key)."""
    if allowed is None:
        return
    given = key.encode()
    # Every key is compared, in constant time, so timing tells nothing of a near miss.
    if not sum(hmac.compare_digest(given, known.encode()) for known in allowed):
        raise _invalid_key(key)


def _invalid_key(key: str) -> StripeAPIError:
    shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else key
    return StripeAPIError(401, f"Invalid API Key provided: {shown}")


def _no_access(account: str) -> StripeAPIError:
    return StripeAPIError(
        403,
        f"The provided key does not have access to account '{account}' (or that account "
        "does not exist). Application access may have been revoked.",
        code="account_invalid",
    )


def respond(
    body: dict[str, Any], status: int = 200, *, ctx: Ctx | None = None, replayed: bool = False
) -> JSONResponse:
    """Stripe's answer: the call's ``Request-Id`` (events name it too), key echoed back."""
    request_id = ctx.request_id if ctx is not None and ctx.request_id else None
    headers = {
        "Request-Id": request_id or objects.new_id("req_", 14),
        "Stripe-Version": objects.API_VERSION,
    }
    if ctx is not None and ctx.idempotency_key:
        headers["Idempotency-Key"] = ctx.idempotency_key
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status, headers=headers)


def _as_param(value: Any) -> str:
    """A field's value as a form parameter spells it (``true``, not ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_of(body: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(body)
    return decoded


def _flatten(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in _flatten(v, f"{prefix}[{k}]")]
    if isinstance(node, list):
        return [pair for i, v in enumerate(node) for pair in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, str(node))]
