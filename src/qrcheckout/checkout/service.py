"""Checkout tokens: catalog pricing, scanning into a provider session, the lifecycle."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from qrcheckout import metrics
from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import PUBLIC_TOKEN, Access, Action, Grant, Resource
from qrcheckout.access.roles import Owner
from qrcheckout.access.secrets import digest, holds
from qrcheckout.catalog.service import PricedCart, price_cart, refuse_capacity
from qrcheckout.checkout.models import LIVE_ENDING, LIVE_INDEX, Payment, Token, TokenItem
from qrcheckout.checkout.schemas import ItemOut, TokenCreate, TokenOut
from qrcheckout.checkout.states import (
    TOKEN_PAYMENT_TRANSITIONS,
    TOKEN_TRANSITIONS,
    TokenKind,
    TokenPaymentStatus,
    TokenStatus,
)
from qrcheckout.config import Settings
from qrcheckout.connect.service import Links, Payee, paid_on
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, DomainError, Gone, Invalid, NotFound, ProviderUnavailable
from qrcheckout.lifecycle import advance
from qrcheckout.listing import ListFilters, Query
from qrcheckout.money import format_amount
from qrcheckout.payments.events import (
    CheckoutApproved,
    CheckoutEvent,
    CheckoutExpired,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutProcessing,
    PaymentDeclined,
)
from qrcheckout.payments.provider import (
    CheckoutSession,
    LineItem,
    PaymentProvider,
    ProviderError,
    SessionRequest,
)
from qrcheckout.payments.providers import Providers
from qrcheckout.realtime.bus import Outbox
from qrcheckout.unit import UnitOfWork

log = logging.getLogger(__name__)

# Seconds kept between a session's requested expiry and the provider's earliest allowed one.
EXPIRY_MARGIN = 10
# An approved session still not completed this long after its approval is completed by the job
# (the completion right after the approval failed, or the process stopped).
COMPLETE_AFTER_SECONDS = 5
# How many approved sessions the job completes a tick, and how often it tries each.
COMPLETE_BATCH = 100
COMPLETE_TRIES = 10
# Applies a provider change as its webhook would (the container routes it to the intake).
Settle = Callable[[CheckoutEvent], Awaitable[None]]
CANCEL_PREFIX = "tcs_"
# Tokens expired a tick, and in one transaction.
EXPIRE_BATCH = 1000
EXPIRE_AT_ONCE = 50
# A token's failure code while its last attempt was declined (it still waits for a payment).
DECLINED = "payment_declined"
DECLINED_MESSAGE = "The card was declined."
# A session whose money is taken or on its way: a decline of an earlier try is old news.
_MOVED_ON = frozenset(
    {TokenPaymentStatus.APPROVED, TokenPaymentStatus.PROCESSING, TokenPaymentStatus.PAID}
)


def token_topic(token_id: str) -> str:
    return f"token:{token_id}"


#: Every token change, as a notice of whose token it was (``{"id", "merchant_id", "user_id"}``):
#: for watchers of a list of tokens, who read their list again when one of theirs changed.
TOKENS_TOPIC = "tokens"


def not_payable(token: Token) -> DomainError:
    """Why a scanned token can no longer be paid: it ended one way or another."""
    if token.status == TokenStatus.INVALID:
        return Gone("token_expired", "This checkout has expired.")
    code, message = {
        TokenStatus.SUCCESS: ("token_paid", "This checkout is already paid."),
        TokenStatus.CANCELLED: ("token_cancelled", "This checkout was cancelled."),
        TokenStatus.FAILED: ("token_failed", "The payment for this checkout failed."),
    }[TokenStatus(token.status)]
    return Conflict(code, message)


class CheckoutService:
    def __init__(
        self,
        db: Database,
        units: UnitOfWork,
        providers: Providers,
        settings: Settings,
        links: Links,
    ) -> None:
        self.db = db
        self.units = units
        self.providers = providers
        self.settings = settings
        self.links = links
        #: How a completed session's outcome is applied; set by whoever routes provider events.
        self.settle: Settle | None = None

    # -- reading -----------------------------------------------------------------------------

    def to_out(self, token: Token) -> TokenOut:
        base = f"{self.settings.public_url}"
        return TokenOut(
            id=token.id,
            merchant=token.merchant_id,
            user_id=token.user_id,
            kind=TokenKind(token.kind),
            status=TokenStatus(token.status),
            created_at=token.created_at,
            end_at=token.end_at,
            amount_total=token.amount_total,
            currency=token.currency,
            amount_display=format_amount(token.amount_total, token.currency),
            items=[ItemOut.model_validate(item) for item in token.items],
            customer_email=token.customer_email,
            url=f"{base}/t/{token.id}",
            qr_svg_url=f"{base}/v1/tokens/{token.id}/qr.svg",
            qr_png_url=f"{base}/v1/tokens/{token.id}/qr.png",
            provider=token.provider,
            session_id=token.session_id,
            stripe_session_id=token.session_id if token.provider == "stripe" else None,
            paid_at=token.paid_at,
            paid_count=token.paid_count,
            failure_code=token.failure_code,
            failure_message=token.failure_message,
        )

    def announce(self, outbox: Outbox, token: Token) -> None:
        """Tell the token's watchers its new state, and the watchers of lists whose it is."""
        outbox.add(token_topic(token.id), self.message(token))
        outbox.add(
            TOKENS_TOPIC,
            {"id": token.id, "merchant_id": token.merchant_id, "user_id": token.user_id},
        )

    def message(self, token: Token) -> dict[str, Any]:
        """The token as its watchers see it: the public view, told to anyone holding its id."""
        return self.view(token, PUBLIC_TOKEN)

    def view(self, token: Token, grant: Grant) -> dict[str, Any]:
        return grant.view(self.to_out(token).model_dump(mode="json"))

    async def get(self, token_id: str) -> Token:
        async with self.db.sessions() as session:
            return await _load(session, token_id)

    async def read(
        self, access: Access, token_id: str, action: Action = Action.READ
    ) -> dict[str, Any]:
        """The token as ``access`` may see it."""
        token = await self.get(token_id)
        return self.view(token, access.check(Resource.TOKEN, action, token))

    async def page(self, access: Access, filters: ListFilters) -> tuple[list[dict[str, Any]], bool]:
        """The tokens ``access`` may list, newest first, a page at a time."""
        async with self.db.sessions() as session:
            rows, has_more = await filters.page(session, access, Resource.TOKEN, Token)
        return [self.view(token, grant) for token, grant in rows], has_more

    async def select(self, access: Access, query: Query) -> list[dict[str, Any]]:
        """The tokens ``access`` may list that ``query`` keeps, as it may see them."""
        async with self.db.sessions() as session:
            rows = await query.rows(session, access, Resource.TOKEN, Token)
        return [self.view(token, grant) for token, grant in rows]

    # -- creating ----------------------------------------------------------------------------

    async def create(self, access: Access, request: TokenCreate) -> tuple[Token, str]:
        """A new token, and the capability to cancel it (returned this once). Without items it
        sells one of the merchant's default item; with an ``id`` (a uuid) it takes that id."""
        return (await self.create_many(access, [request]))[0]

    async def create_many(
        self, access: Access, requests: list[TokenCreate]
    ) -> list[tuple[Token, str]]:
        """``create`` for each request, all in one transaction: all are made, or none."""
        merchant_id = access.shop_for_new(Resource.TOKEN)
        ids = [str(request.id or uuid.uuid4()) for request in requests]
        if len(set(ids)) < len(ids):
            raise Invalid("duplicate_id", "Two of the new tokens have the same id.", field="id")
        made: list[tuple[Token, str]] = []
        try:
            async with self.units() as (session, outbox):
                # Refused while unlinked, or through a provider its linked account is not at.
                for provider in {self.providers.chosen(r.provider).name for r in requests}:
                    await self.links.payee(session, merchant_id, provider)
                for token_id, request in zip(ids, requests, strict=True):
                    if request.id is not None and await session.get(Token, token_id) is not None:
                        raise _taken(token_id)
                    items = [(i.product_id, i.quantity) for i in request.items or ()]
                    cart = await price_cart(
                        session, merchant_id, items or await _default_item(session, merchant_id)
                    )
                    if cart.amount <= 0:
                        raise Invalid("zero_amount", "A checkout must have something to pay.")
                    refuse_capacity(cart)
                    ttl = (
                        request.ttl_seconds
                        or {
                            TokenKind.DYNAMIC: self.settings.dynamic_ttl_seconds,
                            TokenKind.TEMPORARY: self.settings.temporary_ttl_seconds,
                            TokenKind.STATIC: None,
                        }[request.kind]
                    )
                    cancel_secret = CANCEL_PREFIX + secrets.token_urlsafe(24)
                    token = self.add_token(
                        session,
                        Owner(merchant_id, access.principal.user_id),
                        request.kind,
                        cart,
                        ttl,
                        request.customer_email,
                        provider=self.providers.chosen(request.provider).name,
                        cancel_digest=digest(cancel_secret),
                        token_id=token_id,
                        outbox=outbox,
                    )
                    made.append((token, cancel_secret))
        except IntegrityError as exc:  # an id inserted meanwhile by a concurrent request
            raise Conflict("token_exists", "A token with one of these ids exists.") from exc
        return made

    def add_token(
        self,
        session: AsyncSession,
        owner: Owner,
        kind: TokenKind,
        cart: PricedCart,
        ttl_seconds: int | None,
        customer_email: str | None,
        *,
        provider: str,
        cancel_digest: str | None = None,
        token_id: str | None = None,
        outbox: Outbox | None = None,
    ) -> Token:
        """A new live token for a priced cart, added to the caller's transaction (and
        announced through its ``outbox``)."""
        now = utcnow()
        token = Token(
            id=token_id or str(uuid.uuid4()),
            merchant_id=owner.merchant_id,
            user_id=owner.user_id,
            cancel_digest=cancel_digest,
            kind=kind.value,
            status=TokenStatus.INPROGRESS.value,
            created_at=now,
            updated_at=now,
            end_at=now + timedelta(seconds=ttl_seconds) if ttl_seconds else None,
            amount_total=cart.amount,
            currency=cart.currency,
            customer_email=customer_email,
            provider=provider,
            paid_count=0,
            items=[
                TokenItem(
                    **line.sold(position),
                    description=line.product.description,
                )
                for position, line in enumerate(cart.lines)
            ],
            payments=[],
        )
        session.add(token)
        if outbox is not None:
            self.announce(outbox, token)
        return token

    # -- scanning ----------------------------------------------------------------------------

    async def scan(
        self, token_id: str, before_new_session: Callable[[], Awaitable[None]] | None = None
    ) -> str:
        """The hosted payment page URL for a live token; opens a provider session when needed,
        after ``before_new_session`` (a rate limit: each new session is a billable call) passed."""
        token = await self.get(token_id)
        if _is_due(token, utcnow()):
            await self.expire([token.id])
            token = await self.get(token_id)
        if token.status != TokenStatus.INPROGRESS:
            raise not_payable(token)
        provider = self.providers.of(token.provider)
        if token.kind != TokenKind.STATIC:
            for payment in token.payments:
                if payment.status in _UNDER_WAY:
                    return payment.url
            # A new key after a rejected payment; the same key for repeated or concurrent scans.
            key = f"qrcheckout-token-{token.id}-session-{len(token.payments)}"
        else:
            key = f"qrcheckout-token-{token.id}-scan-{uuid.uuid4()}"
        payee = await self.links.payee_of(token.merchant_id, token.provider)
        if before_new_session is not None:
            await before_new_session()
        try:
            provider_session = await provider.create_checkout_session(
                self._session_request(provider, token, key, payee)
            )
        except ProviderError as exc:
            log.warning("provider refused a session for token %s: %s", token.id, exc.message)
            raise ProviderUnavailable(
                "provider_error", f"The payment provider refused: {exc.message}"
            ) from exc
        if not provider_session.url:
            raise ProviderUnavailable(
                "provider_error", "The payment provider gave no payment page."
            )
        async with self.units() as (session, outbox):
            token = await _load(session, token_id, lock=True)
            live = token.status == TokenStatus.INPROGRESS
            if live:
                await _ensure_payment(
                    session, token, provider_session.id, provider_session.url, payee.account
                )
                token.session_id = provider_session.id
                self.announce(outbox, token)
        if not live:
            await self._expire_sessions([(token.provider, provider_session.id, payee.account)])
            raise not_payable(token)
        return provider_session.url

    def _session_request(
        self, provider: PaymentProvider, token: Token, key: str, payee: Payee
    ) -> SessionRequest:
        expires_at = None
        if token.end_at is not None:
            earliest, latest = provider.session_expiry_window
            now = int(time.time())
            # The provider's floor can be later than a short token's end; the expiry job then
            # closes the session when the token ends.
            expires_at = min(
                max(int(token.end_at.timestamp()), now + earliest + EXPIRY_MARGIN),
                now + latest - EXPIRY_MARGIN,
            )
        base = self.settings.public_url
        done = f"{base}/t/{token.id}/done"
        if provider.session_id_placeholder is not None:
            done += f"?session_id={provider.session_id_placeholder}"
        return SessionRequest(
            line_items=tuple(
                LineItem(i.name, i.unit_amount, i.quantity, i.description) for i in token.items
            ),
            currency=token.currency,
            success_url=done,
            cancel_url=f"{base}/t/{token.id}/back",
            idempotency_key=key,
            customer_email=token.customer_email,
            expires_at=expires_at,
            client_reference_id=token.id,
            metadata={"token_id": token.id},
            account=payee.account,
            application_fee=payee.fee(token.amount_total),
        )

    # -- cancelling and expiring -------------------------------------------------------------

    async def cancel(
        self, access: Access, token_id: str, cancel_secret: str | None = None
    ) -> dict[str, Any]:
        """Cancel a live token: its owner, its merchant, or whoever holds the capability."""

        def allowed(token: Token) -> Grant:
            capability = holds(cancel_secret, token.cancel_digest)
            return access.check(Resource.TOKEN, Action.CANCEL, token, capability=capability)

        token, grant = await self._cancel(token_id, allowed)
        return self.view(token, grant)

    async def end(self, token_id: str) -> None:
        """Cancel a token for the order it sells, which ended."""
        await self._cancel(token_id, lambda _: PUBLIC_TOKEN)

    async def _cancel(
        self, token_id: str, allowed: Callable[[Token], Grant]
    ) -> tuple[Token, Grant]:
        async with self.units() as (session, outbox):
            token = await _load(session, token_id, lock=True)
            grant = allowed(token)
            if not _move(token, TokenStatus.CANCELLED):
                raise Conflict(
                    "token_not_cancellable",
                    f"A token in status {token.status} cannot be cancelled.",
                )
            token.failure_code = "cancelled"
            token.failure_message = "The checkout was cancelled."
            open_sessions = _open_sessions(token)
            self.announce(outbox, token)
        await self._expire_sessions(open_sessions)
        return token, grant

    async def expire_due(self) -> int:
        """Turn live tokens past their end ``invalid``, the oldest ``EXPIRE_BATCH`` a tick
        (the next tick takes the rest); returns how many."""
        async with self.db.sessions() as session:
            # Live tokens only, by their end: neither sold nor static ones are walked.
            sweep = self.db.due("tokens", LIVE_INDEX, LIVE_ENDING, "end_at", EXPIRE_BATCH)
            due = await session.scalars(sweep, {"now": utcnow()})
            ids = list(due)
        expired = 0
        # A transaction a few at a time: the writes of a thousand tokens ending in the same
        # second never hold the database (SQLite's one writer) long enough to delay a request.
        for start in range(0, len(ids), EXPIRE_AT_ONCE):
            expired += await self.expire(ids[start : start + EXPIRE_AT_ONCE])
        return expired

    async def expire(self, token_ids: list[str]) -> int:
        open_sessions: list[OpenSession] = []
        expired = 0
        async with self.units() as (session, outbox):
            # One locked read for the lot (their items and sessions in one query each).
            tokens = await session.scalars(
                select(Token)
                .where(Token.id.in_(token_ids))
                .order_by(Token.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            for token in tokens:
                if _is_due(token, utcnow()) and _move(token, TokenStatus.INVALID):
                    token.failure_code = "expired"
                    token.failure_message = "The checkout expired before it was paid."
                    open_sessions += _open_sessions(token)
                    self.announce(outbox, token)
                    expired += 1
        await self._expire_sessions(open_sessions)
        return expired

    async def _expire_sessions(self, sessions: list[OpenSession]) -> None:
        for name, session_id, account in sessions:
            provider = self.providers.get(name)
            if provider is None or not provider.supports_session_expiry:
                continue  # it runs out by its own expiry; a late payment is refunded
            try:
                await provider.expire_checkout_session(session_id, account)
            except ProviderError as exc:
                # Already completed or expired at the provider: its webhook settles the payment.
                log.info("could not expire session %s: %s", session_id, exc.message)

    # -- provider events ---------------------------------------------------------------------

    async def on_checkout_event(
        self, session: AsyncSession, outbox: Outbox, change: CheckoutEvent
    ) -> Owner | None:
        """Apply a hosted session's change to its token; whose it is, None when not ours (nor
        from the account its session was opened on)."""
        payment = await session.get(Payment, change.session_id)
        if payment is not None and (payment.provider, payment.account_id) != (
            change.provider,
            change.account,
        ):
            log.warning("session %s: an event from another provider or account", payment.id)
            return None
        token_id = payment.token_id if payment is not None else change.reference
        token = await _find(session, token_id, lock=True) if token_id else None
        if token is None or token.provider != change.provider:
            return None
        if payment is None:
            if await paid_on(session, token.merchant_id) != change.account:
                log.warning("token %s: an event from another account is ignored", token.id)
                return None
            payment = await _ensure_payment(
                session, token, change.session_id, change.url or "", change.account
            )
        before = (token.status, token.paid_count, token.failure_code)
        match change:
            case CheckoutApproved():
                _move_payment(payment, TokenPaymentStatus.APPROVED)
            case CheckoutProcessing():
                _move_payment(payment, TokenPaymentStatus.PROCESSING)
            case CheckoutPaid():
                _settle(outbox, token, payment, change)
            case CheckoutFailed():
                if _move_payment(payment, TokenPaymentStatus.FAILED):
                    _end(
                        token,
                        TokenStatus.FAILED,
                        "payment_failed",
                        "The payment did not go through.",
                    )
            case CheckoutExpired():
                if _move_payment(payment, TokenPaymentStatus.EXPIRED):
                    _end(
                        token,
                        TokenStatus.INVALID,
                        "session_expired",
                        "The payment page expired before it was paid.",
                    )
        if payment.payment_intent is None and change.payment_id is not None:
            payment.payment_intent = change.payment_id
        if (token.status, token.paid_count, token.failure_code) != before:
            self.announce(outbox, token)
        return token_owner(token)

    async def on_payment_declined(
        self, session: AsyncSession, outbox: Outbox, declined: PaymentDeclined
    ) -> Owner | None:
        """A buyer's attempt was refused: the token's watchers are told (the QR page says so)
        while it waits for another try. Only a token with a session on that provider and
        account hears it; a decline that arrives after its payment went through on another
        try, or over a graver failure, changes nothing."""
        if not _valid_id(declined.reference):
            return None
        token = await session.scalar(
            select(Token)
            .where(Token.id == declined.reference)
            .options(raiseload(Token.payments))
            .with_for_update()
        )
        if token is None:
            return None
        sessions = (
            await session.execute(
                select(Payment.status, Payment.payment_intent).where(
                    Payment.token_id == token.id,
                    Payment.provider == declined.provider,
                    Payment.account_id.is_(None)
                    if declined.account is None
                    else Payment.account_id == declined.account,
                )
            )
        ).all()
        if not sessions:
            return None
        settled = any(
            intent == declined.payment_id and status in _MOVED_ON for status, intent in sessions
        )
        graver = token.failure_code not in (None, DECLINED)
        if token.status == TokenStatus.INPROGRESS and not settled and not graver:
            # What the buyer's bank said stays with the provider's event: anyone holding the
            # code sees the QR page.
            token.failure_code = DECLINED
            token.failure_message = DECLINED_MESSAGE
            self.announce(outbox, token)
        return token_owner(token)

    # -- completing approved sessions (a provider that takes the money only when asked) --------

    async def complete(self, approved: CheckoutApproved) -> None:
        """Take the money the buyer approved, while the token can still be paid (after the
        approval's event has committed)."""
        await self._complete(approved.provider, approved.session_id)

    async def returned(
        self,
        token_id: str,
        session_id: str | None,
        before_call: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """The buyer came back from the provider's page, naming the session it paid or
        approved there (``session_id``): complete it (a provider that takes the money when
        asked) or read its outcome (one that took it already), and any session known approved,
        should their events not have done it yet. ``before_call`` runs (and may refuse) before
        the provider is asked."""
        async with self.db.sessions() as session:
            token = await _find(session, token_id)
            if token is None or token.status != TokenStatus.INPROGRESS:
                return
            if token.provider not in self.providers:
                return
            waiting = [
                p.id
                for p in token.payments
                if p.status == TokenPaymentStatus.APPROVED
                or (p.id == session_id and p.status == TokenPaymentStatus.OPEN)
            ]
        if waiting and before_call is not None:
            await before_call()
        for waiting_id in waiting:
            await self._complete(token.provider, waiting_id)

    async def complete_approved(self) -> int:
        """Complete every approved session of a live token whose completion has not landed
        (the provider was unreachable then, or the process stopped), oldest first; returns
        how many were tried. Each try that fails waits as long again."""
        cutoff = utcnow() - timedelta(seconds=COMPLETE_AFTER_SECONDS)
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Payment.provider, Payment.id)
                    .join(Token, Token.id == Payment.token_id)
                    .where(
                        Payment.status == TokenPaymentStatus.APPROVED.value,
                        Payment.updated_at <= cutoff,
                        Payment.provider.in_(list(self.providers)),
                        Token.status == TokenStatus.INPROGRESS.value,
                    )
                    .order_by(Payment.updated_at)
                    .limit(COMPLETE_BATCH)
                )
            ).all()
        for provider, session_id in rows:
            await self._complete(provider, session_id)
        return len(rows)

    async def _complete(self, provider_name: str, session_id: str) -> None:
        try:
            await self.take(provider_name, session_id)
        except ProviderError as exc:
            log.warning("completing session %s failed: %s", session_id, exc.message)
            await self._tried(session_id, exc)

    async def _tried(self, session_id: str, exc: ProviderError) -> None:
        """Count a failed completion: the job tries again after ``COMPLETE_AFTER_SECONDS``;
        after ``COMPLETE_TRIES`` the approval is given up as failed (the provider's own
        expiry ends it there)."""
        async with self.units() as (session, outbox):
            payment = await session.get(Payment, session_id, with_for_update=True)
            if payment is None or payment.status != TokenPaymentStatus.APPROVED:
                return
            payment.completion_tries += 1
            payment.updated_at = utcnow()
            if payment.completion_tries < COMPLETE_TRIES:
                return
            token = await _find(session, payment.token_id, lock=True)
            if token is not None and _move_payment(payment, TokenPaymentStatus.FAILED):
                payment.problem = f"could not be completed: {exc.message}"[:2000]
                _end(token, TokenStatus.FAILED, "payment_failed", "The payment could not be taken.")
                self.announce(outbox, token)

    async def take(self, provider_name: str, session_id: str) -> CheckoutSession | None:
        """Complete a session of ``provider_name``'s for its live token and apply its outcome
        (paid, settling, or failed); None when there is no such session of a live token (ended
        before the money was taken: the buyer's approval lapses at the provider). Raises
        ``ProviderError``."""
        async with self.db.sessions() as session:
            payment = await session.get(Payment, session_id)
            if payment is None or payment.provider != provider_name:
                return None
            token = await _find(session, payment.token_id)
        if (
            token is None
            or payment.status not in _COMPLETABLE
            or token.status != TokenStatus.INPROGRESS
        ):
            return None
        provider = self.providers.of(provider_name)
        result = await provider.complete_checkout_session(
            session_id, f"qrcheckout-complete-{session_id}", payment.account_id
        )
        outcome = _outcome(
            result, token.id, provider_name, payment.account_id, asked=provider.needs_completion
        )
        if self.settle is not None and outcome is not None:
            await self.settle(outcome)
        return result


def _outcome(
    result: CheckoutSession, token_id: str, provider: str, account: str | None, *, asked: bool
) -> CheckoutEvent | None:
    """What completing a session did: paid; completed with the money still settling; or
    ended without it (``asked``, the provider was asked to take it and refused: failed;
    otherwise the session ran out). None: not paid or approved yet, nothing changed."""
    common: dict[str, Any] = {
        "provider": provider,
        "account": account,
        "session_id": result.id,
        "reference": token_id,
        "payment_id": result.payment_intent,
        "url": result.url,
    }
    if result.payment_status == "paid":
        return CheckoutPaid(**common, amount=result.amount_total, currency=result.currency or "")
    if result.status == "complete":
        return CheckoutProcessing(**common)
    if result.status == "expired":
        return CheckoutFailed(**common) if asked else CheckoutExpired(**common)
    return None


# A provider session that may still take the buyer's money, and one waiting to be completed.
_UNDER_WAY = frozenset(
    {TokenPaymentStatus.OPEN, TokenPaymentStatus.APPROVED, TokenPaymentStatus.PROCESSING}
)
_COMPLETABLE = frozenset({TokenPaymentStatus.OPEN, TokenPaymentStatus.APPROVED})
# (provider, session id, linked account) of a session to close.
OpenSession = tuple[str, str, str | None]


def token_owner(token: Token) -> Owner:
    """Whose a token is."""
    return Owner(token.merchant_id, token.user_id)


def _settle(outbox: Outbox, token: Token, payment: Payment, paid: CheckoutPaid) -> None:
    paid_amount, paid_currency = paid.amount, paid.currency
    if paid_amount != token.amount_total or paid_currency != token.currency:
        if _move_payment(payment, TokenPaymentStatus.REJECTED):
            payment.problem = (
                f"paid {paid_amount} {paid_currency or '?'}, "
                f"expected {token.amount_total} {token.currency}"
            )
            token.failure_code = "amount_mismatch"
            token.failure_message = f"A payment did not match this checkout: {payment.problem}."
            log.error("token %s: %s", token.id, payment.problem)
        return
    if not _move_payment(payment, TokenPaymentStatus.PAID):
        return
    now = utcnow()
    if token.kind == TokenKind.STATIC and token.status == TokenStatus.INPROGRESS:
        token.paid_count += 1
        token.paid_at = now
        if token.failure_code == DECLINED:  # the try after a decline went through
            token.failure_code = token.failure_message = None
        _confirmed(outbox, token, payment)
    elif _move(token, TokenStatus.SUCCESS):
        token.paid_count += 1
        token.paid_at = now
        token.failure_code = token.failure_message = None
        _confirmed(outbox, token, payment)
    else:
        # Money that landed after the token ended is kept on record, and given back.
        payment.problem = f"paid after the token was {token.status}"
        token.failure_code = "late_payment"
        token.failure_message = f"A payment arrived after this checkout was {token.status}."
        log.error("token %s: %s", token.id, payment.problem)


def _confirmed(outbox: Outbox, token: Token, payment: Payment) -> None:
    said = (token.id, format_amount(payment.amount_total, payment.currency), token.provider)
    paid = (token.provider, payment.currency, payment.amount_total)
    payment_id = payment.id

    def counted() -> None:
        log.info("token %s paid: %s through %s (%s)", *said, payment_id)
        metrics.paid(*paid)

    outbox.once_committed(counted)


def _end(token: Token, target: TokenStatus, code: str, message: str) -> None:
    """End a single-payment token because its one payment ended; static tokens live on."""
    if token.kind != TokenKind.STATIC and _move(token, target):
        token.failure_code = code
        token.failure_message = message


def _move(token: Token, target: TokenStatus) -> bool:
    return advance(token, TOKEN_TRANSITIONS, target)


def _move_payment(payment: Payment, target: TokenPaymentStatus) -> bool:
    return advance(payment, TOKEN_PAYMENT_TRANSITIONS, target)


def _is_due(token: Token, now: datetime) -> bool:
    return (
        token.status == TokenStatus.INPROGRESS and token.end_at is not None and token.end_at <= now
    )


def _open_sessions(token: Token) -> list[OpenSession]:
    return [(p.provider, p.id, p.account_id) for p in token.payments if p.status in _COMPLETABLE]


async def _ensure_payment(
    session: AsyncSession, token: Token, session_id: str, url: str, account: str | None
) -> Payment:
    payment = await session.get(Payment, session_id)
    if payment is None:
        payment = Payment(
            id=session_id,
            token_id=token.id,
            status=TokenPaymentStatus.OPEN.value,
            url=url,
            amount_total=token.amount_total,
            currency=token.currency,
            provider=token.provider,
            account_id=account,
            created_at=utcnow(),
        )
        session.add(payment)
        token.payments.append(payment)
    return payment


def _valid_id(token_id: str) -> bool:
    try:
        return str(uuid.UUID(token_id)) == token_id
    except ValueError:
        return False


async def _find(session: AsyncSession, token_id: str, *, lock: bool = False) -> Token | None:
    if not _valid_id(token_id):
        return None
    query = select(Token).where(Token.id == token_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def _load(session: AsyncSession, token_id: str, *, lock: bool = False) -> Token:
    token = await _find(session, token_id, lock=lock)
    if token is None:
        raise NotFound("token_not_found", f"No checkout token with id {token_id!r}.")
    return token


def _taken(token_id: str) -> Conflict:
    return Conflict("token_exists", f"A token with id {token_id!r} exists.", field="id")


async def _default_item(session: AsyncSession, merchant_id: str) -> list[tuple[str, int]]:
    """One of the merchant's default item, for a token made without items."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None or merchant.default_product_id is None:
        raise Invalid(
            "items_required",
            "Name the items to pay for: this merchant has no default item.",
            field="items",
        )
    return [(merchant.default_product_id, 1)]
