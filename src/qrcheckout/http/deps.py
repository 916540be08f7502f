"""Typed dependencies: routes receive services and callers through these, never by reaching
into ``app.state``."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar, cast

import anyio
from fastapi import Depends, Query
from starlette.requests import HTTPConnection

from qrcheckout.access.buyers import LEEWAY_SECONDS, Buyer
from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.access.permissions import Access
from qrcheckout.access.roles import Principal, Role
from qrcheckout.access.schemas import MERCHANT_ID_PATTERN
from qrcheckout.access.service import Merchants
from qrcheckout.catalog.service import Catalog
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.sessions import HostedSessions
from qrcheckout.config import Settings
from qrcheckout.connect.service import Links
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
MAX_JWT_HEADER = 4096
MERCHANT_ID = re.compile(MERCHANT_ID_PATTERN)
T = TypeVar("T")


def container(conn: HTTPConnection) -> Container:
    return cast(Container, conn.app.state.container)


async def _services(conn: HTTPConnection) -> Container:
    # Async, as every dependency here: FastAPI sends a plain function to the thread pool.
    return container(conn)


Services = Annotated[Container, Depends(_services)]


def _part(get: Callable[[Container], T]) -> Callable[[Container], Awaitable[T]]:
    """A dependency giving one part of the container (``get`` is type-checked against it)."""

    async def dependency(c: Services) -> T:
        return get(c)

    return dependency


SettingsDep = Annotated[Settings, Depends(_part(lambda c: c.settings))]
CatalogDep = Annotated[Catalog, Depends(_part(lambda c: c.catalog))]
Tokens = Annotated[CheckoutService, Depends(_part(lambda c: c.tokens))]
Sessions = Annotated[HostedSessions, Depends(_part(lambda c: c.sessions))]
Orders = Annotated[OrderService, Depends(_part(lambda c: c.orders))]
Payments = Annotated[OrderPayments, Depends(_part(lambda c: c.order_payments))]
NotifierDep = Annotated[Notifier, Depends(_part(lambda c: c.notifier))]

BusDep = Annotated[Bus, Depends(_part(lambda c: c.bus))]
MerchantsDep = Annotated[Merchants, Depends(_part(lambda c: c.merchants))]
LinksDep = Annotated[Links, Depends(_part(lambda c: c.links))]


async def _intake(provider: str, c: Services) -> WebhookIntake:
    """The webhook intake of the provider a path names (``/v1/webhooks/{provider}``)."""
    intake = c.webhooks.get(provider)
    if intake is None:
        raise NotFound("provider_not_found", f"No payment provider {provider!r} is set up here.")
    return intake


Webhooks = Annotated[WebhookIntake, Depends(_intake)]


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
    return parse_bearer(header)


def parse_bearer(header: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header; None without one."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("unauthorized", "Send the credential as 'Authorization: Bearer ...'.")
    return value.strip()


def shop_of(conn: HTTPConnection, header: str | None = None) -> str:
    """The merchant a request addresses: ``Qrcheckout-Merchant`` (or ``header``, its value
    sent another way) or ``?merchant=``, else the default one."""
    shop = (
        header
        or conn.headers.get(SHOP_HEADER)
        or conn.query_params.get("merchant")
        or DEFAULT_MERCHANT
    )
    if not MERCHANT_ID.fullmatch(shop):
        raise NotFound("merchant_not_found", "No such merchant.")
    return shop


async def principal(conn: HTTPConnection) -> Principal:
    """``identify``, once per request, with refused credentials counted against the client's
    address: past ``rate_limit_auth_failures`` a request is refused (429) before its
    credential is checked."""
    cached = conn.scope.get("qrcheckout.principal")
    if isinstance(cached, Principal):
        return cached
    found = await counting_failures(conn, lambda: identify(conn))
    conn.scope["qrcheckout.principal"] = found
    return found


async def identify(conn: HTTPConnection) -> Principal:
    """Who asks: anonymous, a buyer (a JWT), a merchant or the platform (an API key). A
    credential that was sent and is wrong is refused, never taken as anonymous."""
    return await identify_as(conn, shop_of(conn), bearer(conn), conn.headers.get(ROLE_HEADER))


async def identify_as(
    conn: HTTPConnection, shop: str, credential: str | None, role: str | None
) -> Principal:
    """``identify`` for a credential, role and shop sent some other way (a GraphQL socket's
    ``connection_init``, Hasura's admin-secret header)."""
    services = container(conn)
    if shop != DEFAULT_MERCHANT and not await services.merchants.known(shop):
        raise NotFound("merchant_not_found", f"No merchant {shop!r}.")
    if credential is None:
        return Principal(Role.ANONYMOUS, shop=shop)
    if not _is_jwt(credential):
        return await services.merchants.authenticate(credential, shop)
    buyer = await anyio.to_thread.run_sync(services.jwt.verify, credential, role)
    if buyer.role is not Role.USER:
        return Principal(Role.ANONYMOUS, shop=shop, expires=buyer.expires)
    return Principal(
        Role.USER, shop=shop, user_id=buyer.subject, email=buyer.email, expires=buyer.expires
    )


async def still_holds(
    conn: HTTPConnection, caller: Principal, credential: str | None = None
) -> bool:
    """Whether the credential ``caller`` was identified by (the request's, unless given) is
    still good, for a connection that outlives its check: a key not revoked (no
    ``last_used_at`` written), a JWT not past its ``exp``."""
    if caller.role in (Role.MERCHANT, Role.ADMIN):
        credential = credential or bearer(conn)
        return credential is not None and await container(conn).merchants.active(credential)
    return caller.expires is None or time.time() < caller.expires + LEEWAY_SECONDS


def _is_jwt(credential: str) -> bool:
    """A JWT is three base64url parts whose first is a JSON header naming its algorithm; any
    other credential is an API key (which may hold dots too)."""
    head, dots = credential.partition(".")[0], credential.count(".")
    if dots != 2 or len(head) > MAX_JWT_HEADER:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


Caller = Annotated[Principal, Depends(principal)]


async def access(caller: Caller) -> Access:
    return Access(caller)


AccessDep = Annotated[Access, Depends(access)]


async def signed_in(conn: HTTPConnection) -> Buyer:
    """The signed-in buyer; refused without a valid JWT."""
    caller = await principal(conn)
    if caller.role is not Role.USER or caller.user_id is None:
        raise Unauthenticated("unauthorized", "Sign in: this needs 'Authorization: Bearer <JWT>'.")
    return Buyer(caller.user_id, caller.email)


SignedIn = Annotated[Buyer, Depends(signed_in)]


async def list_filters(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 10,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    created_gte: Annotated[datetime | None, Query()] = None,
    created_lt: Annotated[datetime | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> ListFilters:
    """A list's query: ``?status=&created_gte=&created_lt=&email=&limit=&starting_after=``; a
    time without a zone is UTC."""
    return ListFilters(limit, starting_after, status, _utc(created_gte), _utc(created_lt), email)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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


async def _idempotency_key(conn: HTTPConnection) -> str | None:
    return idempotency_key(conn)


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
