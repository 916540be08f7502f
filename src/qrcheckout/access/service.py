"""Merchants and their API keys: created, listed, revoked, and keys checked."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.models import DEFAULT_MERCHANT, ApiKey, Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Principal, Role
from qrcheckout.access.schemas import PLATFORM_SET, MerchantCreate, MerchantSettings
from qrcheckout.access.secrets import digest
from qrcheckout.access.targets import check_webhook_urls
from qrcheckout.catalog.service import products_by_id
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, Invalid, NotFound, Unauthenticated

log = logging.getLogger(__name__)

KEY_PREFIX = "qrk_"
WEBHOOK_SECRET_PREFIX = "whsec_"
# ``last_used_at`` is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown this once and never stored."""

    key: ApiKey
    secret: str


class Merchants:
    def __init__(self, db: Database, *, private_webhooks_ok: bool = False) -> None:
        self.db = db
        #: Whether merchants' webhook URLs may point at private addresses (development only).
        self.private_webhooks_ok = private_webhooks_ok
        #: Told every merchant's allowed origins whenever they may have changed (CORS).
        self.on_origins: Callable[[set[str]], None] | None = None
        self._known: set[str] = set()

    async def announce_origins(self) -> set[str]:
        """Every origin some merchant allows, told to ``on_origins``: at start, after a change
        here, and now and then for changes another instance made."""
        async with self.db.sessions() as session:
            lists = await session.scalars(select(Merchant.allowed_origins))
            origins = {origin for allowed in lists for origin in allowed}
        if self.on_origins is not None:
            self.on_origins(origins)
        return origins

    # -- merchants ---------------------------------------------------------------------------

    async def ensure_default(
        self,
        name: str,
        api_key: str | None = None,
        admin_key: str | None = None,
        *,
        keys: bool = True,
    ) -> None:
        """The single shop stays zero-config: with no merchant yet, the default one is made.
        ``QRCHECKOUT_API_KEY`` is the default merchant's key and ``QRCHECKOUT_ADMIN_KEY`` the
        platform's, for as long as they are set to those values (kept in step only with
        ``keys``: the service does at start, a one-off command leaves them be)."""
        async with self.db.transaction() as session:
            if await session.scalar(select(Merchant.id).limit(1)) is None:
                session.add(
                    Merchant(
                        id=DEFAULT_MERCHANT,
                        name=name,
                        default_currency="usd",
                        allowed_origins=[],
                        webhook_urls=[],
                    )
                )
                await session.flush()
            if not keys:
                return
            if await session.get(Merchant, DEFAULT_MERCHANT) is not None:
                await _configured_key(session, DEFAULT_MERCHANT, "QRCHECKOUT_API_KEY", api_key)
            await _configured_key(session, None, "QRCHECKOUT_ADMIN_KEY", admin_key)

    async def get(self, access: Access, merchant_id: str) -> Merchant:
        async with self.db.sessions() as session:
            merchant = await session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
        access.check(Resource.MERCHANT, Action.READ, merchant)
        return merchant

    async def known(self, merchant_id: str) -> bool:
        """Whether a merchant exists; remembered once seen (merchants are never deleted)."""
        if merchant_id in self._known:
            return True
        async with self.db.sessions() as session:
            found = await session.get(Merchant, merchant_id) is not None
        if found:
            self._known.add(merchant_id)
        return found

    async def brand(self, merchant_id: str) -> Merchant | None:
        """A merchant's public face (name, logo, accent colour) for its pages; anyone sees it."""
        async with self.db.sessions() as session:
            return await session.get(Merchant, merchant_id)

    async def all(self, access: Access) -> list[Merchant]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(Merchant)
                .where(access.scope(Resource.MERCHANT, Action.LIST, Merchant))
                .order_by(Merchant.created_at, Merchant.id)
            )
            return list(rows)

    async def create(self, access: Access, new: MerchantCreate) -> Merchant:
        access.grants(Resource.MERCHANT, Action.CREATE)
        merchant_id = new.id
        fields = {
            "default_currency": "usd",
            "allowed_origins": [],
            "webhook_urls": [],
            **new.changes(),
        }
        fields.pop("id", None)
        self._check_webhook_urls(fields)
        # Its own signing secret, shown once in the answer; the default merchant's deliveries
        # keep the configured one (``QRCHECKOUT_MERCHANT_WEBHOOK_SECRET``) until it rotates.
        if merchant_id != DEFAULT_MERCHANT:
            fields["webhook_secret"] = new_webhook_secret()
        merchant = Merchant(id=merchant_id, **fields)
        try:
            async with self.db.transaction() as session:
                session.add(merchant)
        except IntegrityError as exc:
            raise Conflict("merchant_exists", f"A merchant {merchant_id!r} exists.") from exc
        await self.announce_origins()
        return merchant

    async def update(self, access: Access, merchant_id: str, changes: MerchantSettings) -> Merchant:
        fields = changes.changes()
        if fields.keys() & PLATFORM_SET:
            access.grants(Resource.PLATFORM_FEE, Action.UPDATE)
        self._check_webhook_urls(fields)
        async with self.db.transaction() as session:
            merchant = await session.get(Merchant, merchant_id, with_for_update=True)
            if merchant is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            access.check(Resource.MERCHANT, Action.UPDATE, merchant)
            product_id = fields.get("default_product_id")
            if product_id is not None and not await products_by_id(
                session, merchant_id, [str(product_id)]
            ):
                raise Invalid(
                    "unknown_product",
                    f"No product with id {product_id!r} on sale in this catalog.",
                    field="default_product_id",
                )
            for name, value in fields.items():
                setattr(merchant, name, value)
        if "allowed_origins" in fields:
            await self.announce_origins()
        return merchant

    async def rotate_webhook_secret(self, access: Access, merchant_id: str) -> str:
        """A new signing secret for the merchant's webhooks, returned this once; the old one
        signs nothing from now on (deliveries read the secret each time they are sent)."""
        secret = new_webhook_secret()
        async with self.db.transaction() as session:
            merchant = await session.get(Merchant, merchant_id, with_for_update=True)
            if merchant is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            access.check(Resource.MERCHANT, Action.UPDATE, merchant)
            merchant.webhook_secret = secret
        return secret

    def _check_webhook_urls(self, fields: dict[str, object]) -> None:
        urls = fields.get("webhook_urls")
        if isinstance(urls, list) and not self.private_webhooks_ok:
            check_webhook_urls([str(url) for url in urls])

    # -- keys --------------------------------------------------------------------------------

    async def create_key(self, merchant_id: str | None, name: str) -> NewKey:
        """A new key for a merchant, or for the platform when ``merchant_id`` is None (the
        CLI, run by whoever runs the service; the API checks ``may_manage_keys`` first)."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            if merchant_id is not None and await session.get(Merchant, merchant_id) is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            key = _key_row(merchant_id, name, secret)
            session.add(key)
        return NewKey(key, secret)

    @staticmethod
    def may_manage_keys(access: Access, merchant_id: str, action: Action) -> None:
        access.check(Resource.API_KEY, action, {"merchant_id": merchant_id})

    async def keys(self, merchant_id: str | None) -> list[ApiKey]:
        async with self.db.sessions() as session:
            owner = (
                ApiKey.merchant_id.is_(None)
                if merchant_id is None
                else ApiKey.merchant_id == merchant_id
            )
            rows = await session.scalars(select(ApiKey).where(owner).order_by(ApiKey.created_at))
            return list(rows)

    async def revoke_key(self, merchant_id: str | None, key_id: str) -> ApiKey:
        async with self.db.transaction() as session:
            key = await session.get(ApiKey, key_id, with_for_update=True)
            if key is None or key.merchant_id != merchant_id:
                raise NotFound("api_key_not_found", f"No API key {key_id!r}.")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
        return key

    async def active(self, secret: str) -> bool:
        """Whether a key is known and not revoked (read only: it is not a use of the key)."""
        async with self.db.sessions() as session:
            revoked = await session.execute(
                select(ApiKey.revoked_at).where(ApiKey.digest == digest(secret))
            )
            found = revoked.first()
        return found is not None and found[0] is None

    async def authenticate(self, secret: str, shop: str) -> Principal:
        """The merchant (or the platform) a key belongs to; refused when unknown or revoked."""
        wanted = digest(secret)
        async with self.db.sessions() as session:
            key = await session.scalar(select(ApiKey).where(ApiKey.digest == wanted))
        # Found by its SHA-256: the lookup's timing tells nothing of the secret, whose digest
        # no caller can steer byte by byte.
        if key is None or key.revoked_at:
            raise Unauthenticated("invalid_api_key", "The API key is not valid.")
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            async with self.db.transaction() as session:
                await session.execute(
                    update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
                )
        if key.merchant_id is None:
            return Principal(Role.ADMIN, shop=shop)
        return Principal(Role.MERCHANT, shop=key.merchant_id, merchant_id=key.merchant_id)


async def _configured_key(
    session: AsyncSession, merchant_id: str | None, name: str, secret: str | None
) -> None:
    """Keep the key a setting names: added when new, and the one it replaced revoked."""
    wanted = digest(secret) if secret else None
    configured = await session.scalars(
        select(ApiKey).where(
            ApiKey.name == name,
            ApiKey.revoked_at.is_(None),
            ApiKey.merchant_id.is_(None)
            if merchant_id is None
            else ApiKey.merchant_id == merchant_id,
        )
    )
    for key in configured:
        if key.digest != wanted:
            key.revoked_at = utcnow()
    if not secret or wanted is None:
        return
    known = await session.scalar(select(ApiKey).where(ApiKey.digest == wanted))
    if known is None:
        session.add(_key_row(merchant_id, name, secret))
    elif known.name == name and known.merchant_id == merchant_id and known.revoked_at:
        # Set again after it was unset (or replaced): the setting's key works again.
        log.warning("%s is set to a key revoked before: it works again", name)
        known.revoked_at = None


def new_webhook_secret() -> str:
    """``whsec_`` and 48 random hex digits (fits ``merchants.webhook_secret``)."""
    return WEBHOOK_SECRET_PREFIX + secrets.token_hex(24)


def _key_row(merchant_id: str | None, name: str, secret: str) -> ApiKey:
    return ApiKey(
        id="key_" + secrets.token_hex(8),
        merchant_id=merchant_id,
        name=name,
        digest=digest(secret),
        last4=secret[-4:],
        created_at=utcnow(),
    )
