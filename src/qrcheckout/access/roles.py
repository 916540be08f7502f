"""The four roles, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"  # a buyer, signed in with a JWT
    MERCHANT = "merchant"  # a merchant's API key
    ADMIN = "admin"  # the platform's key
    OWNER = "owner"  # a merchant's owner, signed in to the back office
    STAFF = "staff"  # a merchant's staff member, signed in to the back office


@dataclass(frozen=True)
class Owner:
    """Whose a row is: a merchant's, and a signed-in buyer's when one made it."""

    merchant_id: str
    user_id: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who asks: ``merchant_id`` for a merchant's key, ``user_id`` for a buyer (``email`` only
    when its issuer verified it); ``shop`` is the merchant the request addresses (its own,
    for a merchant)."""

    role: Role
    shop: str
    merchant_id: str | None = None
    user_id: str | None = None
    email: str | None = None
    # When the credential stops being valid (a JWT's ``exp``), for connections that outlive it.
    expires: int | None = None
