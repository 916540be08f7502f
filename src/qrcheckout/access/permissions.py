"""The one permission table: per role, resource and action, which rows and which fields.

REST routes, the realtime channels and GraphQL all ask it through ``Access``; nothing else
decides who sees or changes what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from qrcheckout.access.roles import Principal, Role
from qrcheckout.errors import Forbidden, NotFound, Unauthenticated


class Resource(StrEnum):
    MERCHANT = "merchant"
    API_KEY = "api_key"
    PRODUCT = "product"
    TOKEN = "token"
    ORDER = "order"
    ENTITLEMENT = "entitlement"
    CARD_CHARGE = "card_charge"
    EVENT = "event"  # a provider's webhook event, on the realtime channel
    DELIVERY = "delivery"  # a merchant webhook delivery
    STRIPE_ACCOUNT = "stripe_account"  # a merchant's link to its own Stripe account
    PUBLISHABLE_KEY = "publishable_key"  # the key a buyer's app pays a merchant with
    PLATFORM_FEE = "platform_fee"  # what the platform takes of a merchant's payments
    STAFF_MEMBER = "staff_member"  # a back-office account


class Action(StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    CANCEL = "cancel"
    CHARGE = "charge"
    REFUND = "refund"
    SUBSCRIBE = "subscribe"
    REPLAY = "replay"  # process a stored event again, send a delivery again


class Rows(StrEnum):
    """Which rows a grant covers."""

    ALL = "all"
    MERCHANT = "merchant"  # the caller's own merchant's
    SHOP = "shop"  # the addressed shop's (a catalog anyone may read, a token anyone may start)
    OWN = "own"  # the signed-in buyer's
    CREATOR = "creator"  # whoever holds the capability returned at creation
    KNOWN_ID = "known_id"  # whoever knows the row's unguessable id (a QR code, a link)


@dataclass(frozen=True)
class Owners:
    """A resource's columns that say whose a row is (None: it has no such owner)."""

    merchant: str | None = "merchant_id"
    user: str | None = None
    # A column that may hold the buyer's email instead (matched only to a verified email).
    email: str | None = None


OWNERS: dict[Resource, Owners] = {
    Resource.MERCHANT: Owners(merchant="id"),
    Resource.API_KEY: Owners(),
    Resource.PRODUCT: Owners(),
    Resource.TOKEN: Owners(user="user_id"),
    Resource.ORDER: Owners(user="owner"),
    Resource.ENTITLEMENT: Owners(merchant=None, user="owner", email="owner"),
    Resource.CARD_CHARGE: Owners(merchant=None),
    Resource.EVENT: Owners(user="user_id"),
    Resource.DELIVERY: Owners(),
    Resource.STRIPE_ACCOUNT: Owners(),
    Resource.PUBLISHABLE_KEY: Owners(),
    Resource.PLATFORM_FEE: Owners(),
    Resource.STAFF_MEMBER: Owners(),
}


@dataclass(frozen=True)
class Grant:
    """Rows a role may act on, and the fields it may not see of them."""

    rows: Rows
    hides: frozenset[str] = frozenset()

    def view(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` without the fields this grant hides."""
        return {key: value for key, value in data.items() if key not in self.hides}


# What the phone, the QR page and anyone holding a link see: no buyer's identity.
PUBLIC_TOKEN = Grant(Rows.KNOWN_ID, frozenset({"customer_email", "user_id"}))
PUBLIC_ORDER = Grant(Rows.KNOWN_ID, frozenset({"customer_email", "owner"}))


def _g(*grants: Grant | Rows) -> tuple[Grant, ...]:
    return tuple(g if isinstance(g, Grant) else Grant(g) for g in grants)


R, A = Resource, Action
_BUYER_SHOPPING: dict[tuple[Resource, Action], tuple[Grant, ...]] = {
    (R.PRODUCT, A.LIST): _g(Rows.SHOP),
    (R.PRODUCT, A.READ): _g(Rows.SHOP),
    (R.TOKEN, A.CREATE): _g(Rows.SHOP),
    (R.TOKEN, A.READ): _g(PUBLIC_TOKEN),
    (R.TOKEN, A.SUBSCRIBE): _g(PUBLIC_TOKEN),
    (R.TOKEN, A.CANCEL): _g(Rows.CREATOR),
    (R.ORDER, A.CREATE): _g(Rows.SHOP),
    (R.ORDER, A.READ): _g(PUBLIC_ORDER),
    (R.ORDER, A.SUBSCRIBE): _g(PUBLIC_ORDER),
    (R.ORDER, A.CANCEL): _g(Rows.CREATOR),
    (R.PUBLISHABLE_KEY, A.READ): _g(Rows.ALL),
}

_MERCHANT: dict[tuple[Resource, Action], tuple[Grant, ...]] = {
    (R.MERCHANT, A.READ): _g(Rows.MERCHANT),
    (R.MERCHANT, A.LIST): _g(Rows.MERCHANT),
    (R.MERCHANT, A.UPDATE): _g(Rows.MERCHANT),
    (R.API_KEY, A.LIST): _g(Rows.MERCHANT),
    (R.API_KEY, A.CREATE): _g(Rows.MERCHANT),
    (R.API_KEY, A.CANCEL): _g(Rows.MERCHANT),
    (R.PRODUCT, A.LIST): _g(Rows.MERCHANT),
    (R.PRODUCT, A.READ): _g(Rows.MERCHANT),
    (R.PRODUCT, A.CREATE): _g(Rows.MERCHANT),
    (R.PRODUCT, A.UPDATE): _g(Rows.MERCHANT),
    (R.TOKEN, A.CREATE): _g(Rows.MERCHANT),
    (R.TOKEN, A.READ): _g(Rows.MERCHANT, PUBLIC_TOKEN),
    (R.TOKEN, A.SUBSCRIBE): _g(Rows.MERCHANT, PUBLIC_TOKEN),
    (R.TOKEN, A.LIST): _g(Rows.MERCHANT),
    (R.TOKEN, A.CANCEL): _g(Rows.MERCHANT, Rows.CREATOR),
    (R.ORDER, A.CREATE): _g(Rows.MERCHANT),
    (R.ORDER, A.READ): _g(Rows.MERCHANT, PUBLIC_ORDER),
    (R.ORDER, A.SUBSCRIBE): _g(Rows.MERCHANT, PUBLIC_ORDER),
    (R.ORDER, A.LIST): _g(Rows.MERCHANT),
    (R.ORDER, A.CANCEL): _g(Rows.MERCHANT),
    (R.ORDER, A.REFUND): _g(Rows.MERCHANT),
    (R.EVENT, A.SUBSCRIBE): _g(Rows.MERCHANT),
    (R.DELIVERY, A.LIST): _g(Rows.MERCHANT),
    (R.STRIPE_ACCOUNT, A.CREATE): _g(Rows.MERCHANT),
    (R.STRIPE_ACCOUNT, A.READ): _g(Rows.MERCHANT),
    (R.STRIPE_ACCOUNT, A.LIST): _g(Rows.MERCHANT),
    (R.STRIPE_ACCOUNT, A.CANCEL): _g(Rows.MERCHANT),
    (R.PUBLISHABLE_KEY, A.READ): _g(Rows.ALL),
    # An app's backend charges card tokens with the merchant's key (no order).
    (R.CARD_CHARGE, A.CREATE): _g(Rows.ALL),
}

# The back office: staff see and run the shop (sales, refunds, catalog, the webhook log); its
# owner also keeps its settings, keys, linked account and staff.
_STAFF: dict[tuple[Resource, Action], tuple[Grant, ...]] = {
    **{
        grant: rows
        for grant, rows in _MERCHANT.items()
        if grant[0] not in (R.API_KEY, R.STRIPE_ACCOUNT, R.CARD_CHARGE)
        and grant != (R.MERCHANT, A.UPDATE)
    },
    (R.EVENT, A.LIST): _g(Rows.MERCHANT),
    (R.EVENT, A.REPLAY): _g(Rows.MERCHANT),
    (R.DELIVERY, A.REPLAY): _g(Rows.MERCHANT),
    (R.STAFF_MEMBER, A.LIST): _g(Rows.MERCHANT),
}
_OWNER: dict[tuple[Resource, Action], tuple[Grant, ...]] = {
    **{grant: rows for grant, rows in _MERCHANT.items() if grant[0] is not R.CARD_CHARGE},
    **_STAFF,
    (R.MERCHANT, A.UPDATE): _g(Rows.MERCHANT),
    (R.STAFF_MEMBER, A.CREATE): _g(Rows.MERCHANT),
    (R.STAFF_MEMBER, A.CANCEL): _g(Rows.MERCHANT),
}

PERMISSIONS: dict[Role, dict[tuple[Resource, Action], tuple[Grant, ...]]] = {
    Role.ANONYMOUS: _BUYER_SHOPPING,
    Role.USER: {
        **_BUYER_SHOPPING,
        (R.TOKEN, A.READ): _g(Rows.OWN, PUBLIC_TOKEN),
        (R.TOKEN, A.LIST): _g(Rows.OWN),
        (R.TOKEN, A.CANCEL): _g(Rows.OWN, Rows.CREATOR),
        (R.TOKEN, A.SUBSCRIBE): _g(Rows.OWN, PUBLIC_TOKEN),
        (R.ORDER, A.READ): _g(Rows.OWN, PUBLIC_ORDER),
        (R.ORDER, A.SUBSCRIBE): _g(Rows.OWN, PUBLIC_ORDER),
        (R.ORDER, A.LIST): _g(Rows.OWN),
        (R.ORDER, A.CANCEL): _g(Rows.OWN, Rows.CREATOR),
        (R.ORDER, A.CHARGE): _g(Rows.OWN),
        (R.ENTITLEMENT, A.LIST): _g(Rows.OWN),
        (R.CARD_CHARGE, A.CREATE): _g(Rows.ALL),
        (R.EVENT, A.SUBSCRIBE): _g(Rows.OWN),
    },
    Role.MERCHANT: _MERCHANT,
    Role.OWNER: _OWNER,
    Role.STAFF: _STAFF,
    Role.ADMIN: {
        (resource, action): _g(Rows.ALL)
        for resource in Resource
        for action in Action
        if (resource, action) != (R.CARD_CHARGE, A.CREATE)  # an admin buys nothing
    }
    # A catalog is one shop's, also for the platform: the one it addresses.
    | {(R.PRODUCT, A.LIST): _g(Rows.SHOP)},
}


class Access:
    """One principal's view of the permission table."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def role(self) -> Role:
        return self.principal.role

    def grants(self, resource: Resource, action: Action) -> tuple[Grant, ...]:
        """The grants for this action; refused when the role has none."""
        found = PERMISSIONS[self.role].get((resource, action))
        if not found:
            if self.role is Role.ANONYMOUS:
                raise Unauthenticated(
                    "unauthorized", f"Sign in or send an API key to {action} a {resource}."
                )
            raise Forbidden("forbidden", f"A {self.role} may not {action} a {resource}.")
        return found

    def may(self, resource: Resource, action: Action) -> bool:
        return bool(PERMISSIONS[self.role].get((resource, action)))

    def check(
        self, resource: Resource, action: Action, row: Any, *, capability: bool = False
    ) -> Grant:
        """The grant that lets this principal act on ``row`` (found by its id); refused as
        not found when the row is another merchant's or buyer's, so its existence is not
        told, and as forbidden when it may see the row but not act on it."""
        grant = self.allows(resource, action, row, capability=capability)
        if grant is not None:
            return grant
        if self._sees(resource, row):
            if self.role is Role.ANONYMOUS:
                raise Unauthenticated(
                    "unauthorized", f"Sign in, or show the {resource}'s capability, to {action} it."
                )
            raise Forbidden("forbidden", f"You may not {action} this {resource}.")
        raise NotFound(f"{resource}_not_found", f"No such {resource.replace('_', ' ')}.")

    def listed(self, resource: Resource, row: Any) -> Grant:
        """The grant that lists ``row``; refused as not found otherwise, even where a known id
        would let it be read (the back office shows its own merchant's rows, no one else's)."""
        grant = self.allows(resource, Action.LIST, row)
        if grant is None:
            raise NotFound(f"{resource}_not_found", f"No such {resource.replace('_', ' ')}.")
        return grant

    def allows(
        self, resource: Resource, action: Action, row: Any, *, capability: bool = False
    ) -> Grant | None:
        """The grant that covers ``row`` (a model or a mapping), or None."""
        for grant in self.grants(resource, action):
            if self._covers(grant.rows, resource, row, capability):
                return grant
        return None

    def shop_for_new(self, resource: Resource) -> str:
        """The merchant a new row of ``resource`` belongs to."""
        grants = self.grants(resource, Action.CREATE)
        if any(g.rows in (Rows.MERCHANT, Rows.ALL) for g in grants):
            return self.principal.merchant_id or self.principal.shop
        return self.principal.shop

    def scope(self, resource: Resource, action: Action, model: Any) -> ColumnElement[bool]:
        """A WHERE clause keeping the rows of ``model`` this principal may list."""
        clauses = [
            self._clause(grant.rows, resource, model) for grant in self.grants(resource, action)
        ]
        return or_(*clauses) if len(clauses) > 1 else clauses[0]

    # -- rows ---------------------------------------------------------------------------------

    def _covers(self, rows: Rows, resource: Resource, row: Any, capability: bool) -> bool:
        owners = OWNERS[resource]
        p = self.principal
        match rows:
            case Rows.ALL | Rows.KNOWN_ID:
                return True
            case Rows.CREATOR:
                return capability
            case Rows.MERCHANT:
                return p.merchant_id is not None and _value(row, owners.merchant) == p.merchant_id
            case Rows.SHOP:
                return bool(_value(row, owners.merchant) == p.shop)
            case Rows.OWN:
                by_user = p.user_id is not None and _value(row, owners.user) == p.user_id
                by_email = p.email is not None and _value(row, owners.email) == p.email
                return by_user or by_email
        return False

    def _sees(self, resource: Resource, row: Any) -> bool:
        reads = PERMISSIONS[self.role].get((resource, Action.READ), ())
        return any(self._covers(g.rows, resource, row, False) for g in reads)

    def _clause(self, rows: Rows, resource: Resource, model: Any) -> ColumnElement[bool]:
        owners = OWNERS[resource]
        p = self.principal
        match rows:
            case Rows.ALL:
                return true()
            case Rows.MERCHANT if owners.merchant and p.merchant_id:
                return getattr(model, owners.merchant) == p.merchant_id  # type: ignore[no-any-return]
            case Rows.SHOP if owners.merchant:
                return getattr(model, owners.merchant) == p.shop  # type: ignore[no-any-return]
            case Rows.OWN if owners.user and p.user_id:
                mine = getattr(model, owners.user) == p.user_id
                if owners.email and p.email:
                    return or_(mine, getattr(model, owners.email) == p.email)
                return mine  # type: ignore[no-any-return]
        return false()


def _value(row: Any, attribute: str | None) -> Any:
    if attribute is None:
        return None
    if isinstance(row, Mapping):
        return row.get(attribute)
    return getattr(row, attribute, None)
