"""Merchants paid into their own Stripe accounts: linking through Stripe's OAuth, unlinking, and
who is paid where (``payee``), with the platform's fee.

A merchant that never linked is paid on the platform's account. One whose newest link is live
is paid on that account; one whose newest link was unlinked (by the merchant, or by the
account's owner at Stripe) takes no new payments until it links again: its money never lands
on the platform's account by surprise.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Owner
from qrcheckout.access.secrets import digest
from qrcheckout.connect.models import LinkState, StripeAccount
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, Invalid, NotConfigured, NotFound, ProviderUnavailable
from qrcheckout.payments.events import AccountUnlinked
from qrcheckout.payments.provider import PaymentProvider, ProviderError, ProviderErrorKind
from qrcheckout.realtime.bus import Outbox

log = logging.getLogger(__name__)

# How long a merchant has to approve on Stripe's page before its link must start again.
STATE_TTL = timedelta(minutes=15)
CALLBACK_PATH = "/connect/stripe/callback"


@dataclass(frozen=True)
class Payee:
    """Where a merchant's payments go: ``account`` (None: the platform's own), and the
    platform's fee on them, basis points of the amount plus a fixed amount."""

    account: str | None
    fee_bps: int = 0
    fee_fixed: int = 0

    def fee(self, amount: int) -> int | None:
        """The platform's share of ``amount``, rounded half up; None on its own account."""
        if self.account is None:
            return None
        share = (amount * self.fee_bps + 5_000) // 10_000 + self.fee_fixed
        return min(share, amount) or None


@dataclass(frozen=True)
class Fees:
    """The platform's fee for merchants that have none of their own."""

    bps: int = 0
    fixed: int = 0


async def newest_link(session: AsyncSession, merchant_id: str) -> StripeAccount | None:
    return await session.scalar(
        select(StripeAccount)
        .where(StripeAccount.merchant_id == merchant_id)
        .order_by(StripeAccount.created_at.desc(), StripeAccount.id.desc())
        .limit(1)
    )


async def paid_on(session: AsyncSession, merchant_id: str) -> str | None:
    """The account a merchant's payments are made on now (None: the platform's): a provider
    event about its rows must come from there."""
    link = await newest_link(session, merchant_id)
    return link.account_id if link is not None else None


def unlinked(link: StripeAccount) -> Conflict:
    return Conflict(
        "stripe_account_unlinked",
        f"This merchant's Stripe account ({link.account_id}) was unlinked; it takes no "
        "payments until it links an account again.",
    )


class Links:
    def __init__(
        self,
        db: Database,
        provider: PaymentProvider,
        *,
        client_id: str | None,
        public_url: str,
        fees: Fees,
        platform_publishable_key: str | None = None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.client_id = client_id
        self.callback_url = public_url + CALLBACK_PATH
        self.fees = fees
        self.platform_publishable_key = platform_publishable_key

    # -- who is paid where --------------------------------------------------------------------

    async def payee(
        self, session: AsyncSession, merchant_id: str, provider: str | None = None
    ) -> Payee:
        """Where the merchant's new payments through ``provider`` (None: the provider accounts
        are linked at) go; refused while its newest link is unlinked, and through another
        provider while it is linked (that provider's money would land on the platform's)."""
        link = await newest_link(session, merchant_id)
        if link is None:
            return Payee(None)
        if link.unlinked_at is not None:
            raise unlinked(link)
        if provider is not None and provider != self.provider.name:
            raise Conflict(
                "provider_not_linked",
                f"This merchant is paid on its own Stripe account; payments through "
                f"{provider!r} cannot reach it.",
                field="provider",
            )
        merchant = await session.get(Merchant, merchant_id)
        bps = merchant.fee_bps if merchant is not None else None
        fixed = merchant.fee_fixed if merchant is not None else None
        return Payee(
            link.account_id,
            self.fees.bps if bps is None else bps,
            self.fees.fixed if fixed is None else fixed,
        )

    async def payee_of(self, merchant_id: str, provider: str | None = None) -> Payee:
        async with self.db.sessions() as session:
            return await self.payee(session, merchant_id, provider)

    async def publishable_key(self, access: Access, merchant_id: str) -> tuple[str, str | None]:
        """The key a buyer's app creates card tokens with for this merchant, and the account
        it is for (None: the platform's)."""
        access.check(Resource.PUBLISHABLE_KEY, Action.READ, {"merchant_id": merchant_id})
        async with self.db.sessions() as session:
            if await session.get(Merchant, merchant_id) is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            link = await newest_link(session, merchant_id)
        if link is None:
            if self.platform_publishable_key is None:
                raise NotFound(
                    "no_publishable_key",
                    "This merchant is paid on the platform's account, whose publishable key "
                    "is not configured (QRCHECKOUT_STRIPE_PUBLISHABLE_KEY).",
                )
            return self.platform_publishable_key, None
        if link.unlinked_at is not None:
            raise unlinked(link)
        if link.publishable_key is None:
            raise NotFound("no_publishable_key", "Stripe gave no publishable key for it.")
        return link.publishable_key, link.account_id

    # -- linking ------------------------------------------------------------------------------

    def _client_id(self) -> str:
        if self.client_id is None:
            raise NotConfigured(
                "connect_not_configured",
                "Linking Stripe accounts is not set up: set QRCHECKOUT_STRIPE_CONNECT_CLIENT_ID.",
            )
        return self.client_id

    async def start(self, access: Access, merchant_id: str) -> tuple[str, datetime]:
        """Where the merchant approves the link on Stripe, and until when that page works."""
        access.check(Resource.STRIPE_ACCOUNT, Action.CREATE, {"merchant_id": merchant_id})
        client_id = self._client_id()
        state = secrets.token_urlsafe(32)
        expires_at = utcnow() + STATE_TTL
        async with self.db.transaction() as session:
            if await session.get(Merchant, merchant_id) is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            await session.execute(delete(LinkState).where(LinkState.expires_at <= utcnow()))
            session.add(
                LinkState(digest=digest(state), merchant_id=merchant_id, expires_at=expires_at)
            )
        return self.provider.link_url(client_id, state, self.callback_url), expires_at

    async def finish(self, state: str, code: str) -> StripeAccount:
        """The OAuth callback: the state spent (once, in time), the code exchanged, the link
        kept for the merchant that started it."""
        async with self.db.transaction() as session:
            merchant_id = await session.scalar(
                delete(LinkState)
                .where(LinkState.digest == digest(state), LinkState.expires_at > utcnow())
                .returning(LinkState.merchant_id)
            )
        if merchant_id is None:
            raise Invalid(
                "invalid_state",
                "This link is unknown, used already or expired; start linking again.",
            )
        return await self._exchange(merchant_id, code)

    async def authorize(self, access: Access, code: str) -> StripeAccount:
        """A code the merchant's own front-end received from Stripe, exchanged for its link."""
        merchant_id = access.shop_for_new(Resource.STRIPE_ACCOUNT)
        access.check(Resource.STRIPE_ACCOUNT, Action.CREATE, {"merchant_id": merchant_id})
        self._client_id()
        return await self._exchange(merchant_id, code)

    async def _exchange(self, merchant_id: str, code: str) -> StripeAccount:
        try:
            linked = await self.provider.link_account(code)
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.UNAVAILABLE:
                raise ProviderUnavailable(
                    "provider_error", f"Stripe could not be reached: {exc.message}"
                ) from exc
            raise Invalid(
                exc.code, f"Stripe refused the authorization code: {exc.message}"
            ) from exc
        async with self.db.transaction() as session:
            # One linking at a time per merchant: the merchant's row is the lock.
            merchant = await session.get(Merchant, merchant_id, with_for_update=True)
            if merchant is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            taken = await session.scalar(
                select(StripeAccount.merchant_id).where(
                    StripeAccount.account_id == linked.account_id,
                    StripeAccount.merchant_id != merchant_id,
                    StripeAccount.unlinked_at.is_(None),
                )
            )
            if taken is not None:
                # Events name the account: two merchants on one would read each other's.
                raise Conflict(
                    "stripe_account_taken",
                    f"The Stripe account {linked.account_id} is linked to another merchant.",
                )
            now = utcnow()
            await session.execute(
                update(StripeAccount)
                .where(
                    StripeAccount.merchant_id == merchant_id, StripeAccount.unlinked_at.is_(None)
                )
                .values(unlinked_at=now, unlinked_by="relinked")
            )
            link = StripeAccount(
                id="sa_" + secrets.token_hex(12),
                merchant_id=merchant_id,
                account_id=linked.account_id,
                publishable_key=linked.publishable_key,
                scope=linked.scope,
                livemode=linked.livemode,
                created_at=now,
            )
            session.add(link)
        log.info("merchant %s linked Stripe account %s", merchant_id, linked.account_id)
        return link

    # -- reading ------------------------------------------------------------------------------

    async def get(self, access: Access, link_id: str) -> StripeAccount:
        async with self.db.sessions() as session:
            link = await session.get(StripeAccount, link_id)
        if link is None:
            raise NotFound("stripe_account_not_found", "No such Stripe account link.")
        access.check(Resource.STRIPE_ACCOUNT, Action.READ, link)
        return link

    async def all(self, access: Access) -> list[StripeAccount]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(StripeAccount)
                .where(access.scope(Resource.STRIPE_ACCOUNT, Action.LIST, StripeAccount))
                .order_by(StripeAccount.created_at.desc(), StripeAccount.id.desc())
            )
            return list(rows)

    # -- unlinking ----------------------------------------------------------------------------

    async def unlink(self, access: Access, link_id: str) -> StripeAccount:
        """Revoke the platform's access at Stripe, then mark the link gone."""
        link = await self.get(access, link_id)
        access.check(Resource.STRIPE_ACCOUNT, Action.CANCEL, link)
        if link.unlinked_at is not None:
            return link
        asked_at = utcnow()
        try:
            await self.provider.unlink_account(self._client_id(), link.account_id)
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.UNAVAILABLE:
                raise ProviderUnavailable(
                    "provider_error", f"Stripe could not be reached: {exc.message}"
                ) from exc
            # Already revoked at Stripe (by the account's owner): it is gone either way.
            log.info("unlinking %s at Stripe: %s", link.account_id, exc.message)
        async with self.db.transaction() as session:
            current = await session.get(StripeAccount, link_id, with_for_update=True)
            assert current is not None
            # Stripe's notice of this very revocation may have been handled first.
            gone_at = current.unlinked_at
            if gone_at is None or (current.unlinked_by == "stripe" and gone_at >= asked_at):
                current.unlinked_at = gone_at or utcnow()
                current.unlinked_by = "merchant"
        return current

    async def on_unlinked(
        self, session: AsyncSession, _: Outbox, change: AccountUnlinked
    ) -> Owner | None:
        """Stripe says the account's owner revoked the platform's access."""
        link = await session.scalar(
            select(StripeAccount)
            .where(StripeAccount.account_id == change.account, StripeAccount.unlinked_at.is_(None))
            .with_for_update()
        )
        if link is None:
            return None
        link.unlinked_at = utcnow()
        link.unlinked_by = "stripe"
        log.info("Stripe account %s of merchant %s was unlinked", link.account_id, link.merchant_id)
        return Owner(link.merchant_id)


def link_view(link: StripeAccount) -> dict[str, Any]:
    """A link as its merchant sees it: never a secret (none is kept)."""
    return {
        "id": link.id,
        "object": "stripe_account",
        "merchant": link.merchant_id,
        "stripe_user_id": link.account_id,
        "stripe_publishable_key": link.publishable_key,
        "scope": link.scope,
        "livemode": link.livemode,
        "created_at": link.created_at.isoformat(),
        "unlinked_at": link.unlinked_at.isoformat() if link.unlinked_at else None,
        "unlinked_by": link.unlinked_by,
    }
