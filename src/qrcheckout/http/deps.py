"""Typed dependencies: routes receive services and callers through these, never by reaching
into ``app.state``."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar, cast

import anyio
from fastapi import Depends, Query
from starlette.requests import HTTPConnection

from qrcheckout.access.buyers import Buyer
from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.access.permissions import Access
from qrcheckout.access.roles import Principal, Role
from qrcheckout.access.service import Merchants
from qrcheckout.catalog.service import Catalog
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.sessions import HostedSessions
from qrcheckout.config import Settings
from qrcheckout.container import Container
from qrcheckout.errors import Malformed, NotFound, Unauthenticated
from qrcheckout.http.ratelimit import counting_failures
from qrcheckout.listing import MAX_PAGE, ListFilters
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.payments import OrderPayments
from qrcheckout.orders.service import OrderService
from qrcheckout.realtime.bus import Bus
from qrcheckout.webhooks.service import WebhookIntake

MAX_IDEMPOTENCY_KEY = 200
MERCHANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
T = TypeVar("T")


def container(conn: HTTPConnection) -> Container:
    return cast(Container, conn.app.state.container)


Services = Annotated[Container, Depends(container)]


def _part(get: Callable[[Container], T]) -> Callable[[Container], T]:
    """A dependency giving one part of the container (``get`` is type-checked against it)."""

    def dependency(c: Services) -> T:
        return get(c)

    return dependency


SettingsDep = Annotated[Settings, Depends(_part(lambda c: c.settings))]
CatalogDep = Annotated[Catalog, Depends(_part(lambda c: c.catalog))]
Tokens = Annotated[CheckoutService, Depends(_part(lambda c: c.tokens))]
Sessions = Annotated[HostedSessions, Depends(_part(lambda c: c.sessions))]
Orders = Annotated[OrderService, Depends(_part(lambda c: c.orders))]
Payments = Annotated[OrderPayments, Depends(_part(lambda c: c.order_payments))]
NotifierDep = Annotated[Notifier, Depends(_part(lambda c: c.notifier))]
Webhooks = Annotated[WebhookIntake, Depends(_part(lambda c: c.webhooks))]
BusDep = Annotated[Bus, Depends(_part(lambda c: c.bus))]
MerchantsDep = Annotated[Merchants, Depends(_part(lambda c: c.merchants))]


# -- callers -----------------------------------------------------------------------------------

SHOP_HEADER = "qrcheckout-merchant"
# Holds a token's cancel capability for the browser that made it (the shop page).
CANCEL_COOKIE = "qrcheckout_cancel"
ROLE_HEADER = "x-hasura-role"


def bearer(conn: HTTPConnection) -> str | None:
    """The ``Authorization: Bearer`` credential, or None when none was sent. A WebSocket may
    send it as ``?access_token=`` instead: browsers cannot set its headers."""
    header = conn.headers.get("authorization")
    if header is None and conn.scope["type"] == "websocket":
        token = conn.query_params.get("access_token")
        return token.strip() or None if token is not None else None
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("unauthorized", "Send the credential as 'Authorization: Bearer ...'.")
    return value.strip()


def _shop(conn: HTTPConnection) -> str:
    """The merchant a request addresses: ``Qrcheckout-Merchant`` or ``?merchant=``, else the
    default one."""
    shop = conn.headers.get(SHOP_HEADER) or conn.query_params.get("merchant") or DEFAULT_MERCHANT
    if not MERCHANT_ID.fullmatch(shop):
        raise NotFound("merchant_not_found", "No such merchant.")
    return shop


async def principal(conn: HTTPConnection) -> Principal:
    """``_principal``, with refused credentials counted against the client's address: past
    ``rate_limit_auth_failures`` a request is refused (429) before its credential is checked."""
    return await counting_failures(conn, lambda: _principal(conn))


async def _principal(conn: HTTPConnection) -> Principal:
    """Who asks: anonymous, a buyer (a JWT), a merchant or the platform (an API key). A
    credential that was sent and is wrong is refused, never taken as anonymous."""
    cached = conn.scope.get("qrcheckout.principal")
    if isinstance(cached, Principal):
        return cached
    services = container(conn)
    shop = _shop(conn)
    credential = bearer(conn)
    if credential is None:
        found = Principal(Role.ANONYMOUS, shop=shop)
    elif credential.count(".") == 2:  # a JWT: header.payload.signature
        buyer = await anyio.to_thread.run_sync(
            services.jwt.verify, credential, conn.headers.get(ROLE_HEADER)
        )
        found = (
            Principal(Role.USER, shop=shop, user_id=buyer.subject, email=buyer.email)
            if buyer.role is Role.USER
            else Principal(Role.ANONYMOUS, shop=shop)
        )
    else:
        found = await services.merchants.authenticate(credential, shop)
    conn.scope["qrcheckout.principal"] = found
    return found


Caller = Annotated[Principal, Depends(principal)]


async def access(caller: Caller) -> Access:
    return Access(caller)


AccessDep = Annotated[Access, Depends(access)]


async def optional_buyer(caller: Caller) -> Buyer | None:
    """The signed-in buyer, or None when no credential was sent; a bad one is refused."""
    if caller.role is not Role.USER or caller.user_id is None:
        return None
    return Buyer(caller.user_id, caller.email)


async def signed_in(conn: HTTPConnection) -> Buyer:
    """The signed-in buyer; refused without a valid JWT."""
    found = await optional_buyer(await principal(conn))
    if found is None:
        raise Unauthenticated("unauthorized", "Sign in: this needs 'Authorization: Bearer <JWT>'.")
    return found


def holds_api_key(given: str, api_key: str) -> bool:
    """``given`` is the API key, compared in constant time (as bytes: a header may carry any
    character)."""
    return hmac.compare_digest(given.encode(), api_key.encode())


OptionalBuyer = Annotated[Buyer | None, Depends(optional_buyer)]
SignedIn = Annotated[Buyer, Depends(signed_in)]


def list_filters(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    created_gte: Annotated[datetime | None, Query()] = None,
    created_lt: Annotated[datetime | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> ListFilters:
    """A list's query: ``?status=&created_gte=&created_lt=&email=&limit=&starting_after=``."""
    return ListFilters(limit, starting_after, status, created_gte, created_lt, email)


Filters = Annotated[ListFilters, Depends(list_filters)]


def idempotency_key(conn: HTTPConnection) -> str | None:
    """The caller's ``Idempotency-Key``: a retried request with it does its work once."""
    key = conn.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Malformed(
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters.",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
