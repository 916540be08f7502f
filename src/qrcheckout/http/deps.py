"""Typed dependencies: routes receive services and callers through these, never by reaching
into ``app.state``."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, TypeVar, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from qrcheckout.auth import Buyer
from qrcheckout.catalog.service import Catalog
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.sessions import HostedSessions
from qrcheckout.config import Settings
from qrcheckout.container import Container
from qrcheckout.errors import Malformed, NotConfigured, Unauthenticated
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.payments import OrderPayments
from qrcheckout.orders.service import OrderService
from qrcheckout.realtime.bus import Bus
from qrcheckout.webhooks.service import WebhookIntake

MAX_IDEMPOTENCY_KEY = 200
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


# -- callers -----------------------------------------------------------------------------------


def bearer(conn: HTTPConnection) -> str | None:
    """The ``Authorization: Bearer`` credential, or None when none was sent."""
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("unauthorized", "Send the credential as 'Authorization: Bearer ...'.")
    return value.strip()


def optional_buyer(conn: HTTPConnection) -> Buyer | None:
    """The signed-in buyer, or None when no credential was sent; a bad one is refused."""
    token = bearer(conn)
    return None if token is None else container(conn).jwt.verify(token)


def signed_in(conn: HTTPConnection) -> Buyer:
    """The signed-in buyer; refused without a valid JWT."""
    found = optional_buyer(conn)
    if found is None:
        raise Unauthenticated("unauthorized", "Sign in: this needs 'Authorization: Bearer <JWT>'.")
    return found


def merchant(conn: HTTPConnection) -> None:
    """Passes only with the merchant's API key (``QRCHECKOUT_API_KEY``)."""
    api_key = container(conn).settings.api_key
    if not api_key:
        raise NotConfigured("auth_not_configured", "QRCHECKOUT_API_KEY is not set on this server.")
    token = bearer(conn)
    if token is None:
        raise Unauthenticated("unauthorized", "This needs 'Authorization: Bearer <API key>'.")
    if not holds_api_key(token, api_key):
        raise Unauthenticated("invalid_api_key", "The API key is not valid.")


def holds_api_key(given: str, api_key: str) -> bool:
    """``given`` is the API key, compared in constant time (as bytes: a header may carry any
    character)."""
    return hmac.compare_digest(given.encode(), api_key.encode())


OptionalBuyer = Annotated[Buyer | None, Depends(optional_buyer)]
SignedIn = Annotated[Buyer, Depends(signed_in)]
Merchant = Depends(merchant)


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
