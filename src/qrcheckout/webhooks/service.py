"""Webhook intake: verify, store the raw event, process its changes once in one transaction."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout import metrics
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Owner
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, DomainError, Malformed, NotFound, RetryLater
from qrcheckout.payments.events import Mention, WebhookEvent
from qrcheckout.payments.provider import PaymentProvider, ProviderError, WebhookRejected
from qrcheckout.realtime.bus import Outbox
from qrcheckout.unit import UnitOfWork
from qrcheckout.webhooks.models import StoredEvent
from qrcheckout.webhooks.states import EventStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    event_id: str
    status: EventStatus
    duplicate: bool
    #: Why a settled event failed (its object could not be read).
    error: str | None = None


E = TypeVar("E")
# A handler applies a change and says whose row it touched (None: not one of ours).
Handler = Callable[[AsyncSession, Outbox, Any], Awaitable[Owner | None]]
# A follow-up acts on a change once the event's transaction has committed (a provider call).
FollowUp = Callable[[Any], Awaitable[object]]

# The type label of a delivery refused (or not checked) before its event could be read.
UNVERIFIED = "unverified"
# A stored event still unsettled this long after it arrived was cut off by a stop or a crash.
REPLAY_AFTER_SECONDS = 5
REPLAY_BATCH = 100


class WebhookIntake:
    """A provider's webhooks: verified, stored raw once, then their typed changes handed to
    the handlers registered for them, all in one transaction."""

    def __init__(self, db: Database, units: UnitOfWork, provider: PaymentProvider) -> None:
        self.db = db
        self.units = units
        self.provider = provider
        #: Every stored event is published here: ``{"id", "type", "created", "payload"}``.
        self.channel = provider.name
        self.handlers: dict[type[Any], list[Handler]] = {}
        self.follow_ups: dict[type[Any], list[FollowUp]] = {}
        #: Whose an event is that no handler applied (``payment_intent.created``, ...).
        self.owner_of: Callable[[AsyncSession, Mention], Awaitable[Owner | None]] | None = None

    def on(
        self,
        change: type[E],
        handler: Callable[[AsyncSession, Outbox, E], Awaitable[Owner | None]],
    ) -> None:
        """Run ``handler`` for each ``change`` of this type, after those registered before."""
        self.handlers.setdefault(change, []).append(handler)

    def then(self, change: type[E], follow_up: Callable[[E], Awaitable[object]]) -> None:
        """Run ``follow_up`` for each ``change`` of this type once the event that reported it is
        settled and committed; a failure is logged (a follow-up has its own retry)."""
        self.follow_ups.setdefault(change, []).append(follow_up)

    async def receive(self, payload: bytes, headers: Mapping[str, str]) -> Receipt:
        try:
            event = await self.provider.verify_webhook(payload, headers)
        except WebhookRejected as exc:
            self._count(UNVERIFIED, "rejected")
            raise Malformed(exc.code, exc.message) from exc
        except ProviderError as exc:  # the check could not run: the provider retries
            self._count(UNVERIFIED, "error")
            raise RetryLater("webhook_unverified", exc.message) from exc
        await self._store(event, payload)
        try:
            receipt = await self._process(event)
        except RetryLater:
            self._count(event.type, "error")
            raise
        self._count(event.type, "duplicate" if receipt.duplicate else receipt.status.value)
        return receipt

    def _count(self, event_type: str, outcome: str) -> None:
        # Only the types this provider reads are labels: any other string would be a new series.
        readable = event_type == UNVERIFIED or event_type in self.provider.event_types
        known = event_type if readable else "other"
        metrics.webhook_events.labels(self.channel, known, outcome).inc()

    async def apply(self, change: Any) -> None:
        """Apply one change this provider reported another way than by webhook (the answer to
        a call), through the same handlers, in one transaction."""
        change = self._stamped(change)
        async with self.units() as (session, outbox):
            for handler in self.handlers.get(type(change), ()):
                await handler(session, outbox, change)

    async def replay_stored(self) -> int:
        """Process verified events stored but never settled: the process stopped between
        storing and committing. Returns how many were replayed."""
        cutoff = utcnow() - timedelta(seconds=REPLAY_AFTER_SECONDS)
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(StoredEvent.id, StoredEvent.payload)
                    .where(
                        StoredEvent.provider == self.channel,
                        StoredEvent.status == EventStatus.RECEIVED.value,
                        StoredEvent.received_at <= cutoff,
                    )
                    .order_by(StoredEvent.received_at)
                    .limit(REPLAY_BATCH)
                )
            ).all()
        for event_id, payload in rows:
            try:
                await self._reprocess(payload)
            except (DomainError, WebhookRejected) as exc:
                log.warning("replaying event %s failed: %s", event_id, exc)
        return len(rows)

    async def replay(self, access: Access, event_id: str) -> Receipt:
        """Process a stored event of the caller's again, as its redelivery would: one that
        failed (a bug since fixed, a row that was missing), or one still unsettled."""
        async with self.db.sessions() as session:
            stored = await session.get(StoredEvent, (self.channel, event_id))
        if stored is None or access.allows(Resource.EVENT, Action.REPLAY, stored) is None:
            raise NotFound("event_not_found", f"No {self.channel} event {event_id!r}.")
        if stored.status not in (EventStatus.FAILED, EventStatus.RECEIVED):
            raise Conflict(
                "event_settled", f"This event was {stored.status} already; nothing to replay."
            )
        log.info("%s event %s replayed from the back office", self.channel, event_id)
        receipt = await self._reprocess(stored.payload)
        self._count(stored.type, "duplicate" if receipt.duplicate else receipt.status.value)
        return receipt

    async def _reprocess(self, payload: str) -> Receipt:
        """Process a stored event again, from its payload as it was verified."""
        return await self._process(self.provider.read_webhook(payload.encode("utf-8")))

    async def _store(self, event: WebhookEvent, payload: bytes) -> None:
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        statement = (
            insert(StoredEvent)
            .values(
                provider=self.channel,
                id=event.id,
                type=event.type,
                created=event.created,
                status=EventStatus.RECEIVED.value,
                payload=payload.decode("utf-8"),
                received_at=utcnow(),
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["provider", "id"])
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def _process(self, event: WebhookEvent) -> Receipt:
        event_id = event.id
        try:
            async with self.units() as (session, outbox):
                # Claiming the row serialises concurrent deliveries: one processes, the rest
                # find it settled. A crash rolls the claim back, so a redelivery processes it.
                claimed = await session.execute(
                    update(StoredEvent)
                    .where(
                        self._stored(event_id),
                        StoredEvent.status.in_(
                            [EventStatus.RECEIVED.value, EventStatus.FAILED.value]
                        ),
                    )
                    .values(attempts=StoredEvent.attempts + 1)
                )
                if claimed.rowcount == 0:  # type: ignore[attr-defined]
                    stored = await session.get(StoredEvent, (self.channel, event_id))
                    status = EventStatus(stored.status) if stored else EventStatus.PROCESSED
                    return Receipt(event_id, status, duplicate=True)
                try:
                    changes = self._changes(event)
                except WebhookRejected as exc:
                    # Signed and stored, but its object is not in the provider's shape: no
                    # retry of the same event can read it, so it is settled as failed, with
                    # the reason, and answered 2xx (a redelivery reads it again).
                    log.error("webhook %s (%s) cannot be read: %s", event_id, event.type, exc)
                    named = await self._owner_of(session, event)
                    await session.execute(
                        update(StoredEvent)
                        .where(self._stored(event_id))
                        .values(
                            status=EventStatus.FAILED.value,
                            processed_at=utcnow(),
                            error=f"{exc.code}: {exc.message}"[:2000],
                            merchant_id=named.merchant_id if named else None,
                        )
                    )
                    return Receipt(event_id, EventStatus.FAILED, False, exc.message)
                owner: Owner | None = None
                for change in changes:
                    for handler in self.handlers.get(type(change), ()):
                        owner = await handler(session, outbox, change) or owner
                status = EventStatus.PROCESSED if owner else EventStatus.IGNORED
                owner = owner or await self._owner_of(session, event)
                await session.execute(
                    update(StoredEvent)
                    .where(self._stored(event_id))
                    .values(
                        status=status.value,
                        processed_at=utcnow(),
                        error=None,
                        merchant_id=owner.merchant_id if owner else None,
                        user_id=owner.user_id if owner else None,
                    )
                )
                # Whose it is travels with it: the channel shows each watcher only its own.
                outbox.add(
                    self.channel,
                    {
                        "id": event.id,
                        "type": event.type,
                        "created": event.created,
                        "payload": event.payload,
                        "merchant_id": owner.merchant_id if owner else None,
                        "user_id": owner.user_id if owner else None,
                    },
                )
        except DomainError:
            raise
        except Exception as exc:
            log.exception("webhook %s (%s) failed", event_id, event.type)
            await self._record_failure(event, f"{type(exc).__name__}: {exc}")
            raise RetryLater(
                "webhook_processing_failed", "The event could not be processed; retry later."
            ) from exc
        for change in changes:
            for follow_up in self.follow_ups.get(type(change), ()):
                try:
                    await follow_up(change)
                except Exception:
                    log.exception("after webhook %s (%s): %s failed", event_id, event.type, change)
        log.info("%s event %s (%s) stored and %s", self.channel, event_id, event.type, status.value)
        return Receipt(event_id, status, duplicate=False)

    def _stored(self, event_id: str) -> Any:
        return (StoredEvent.provider == self.channel) & (StoredEvent.id == event_id)

    def _changes(self, event: WebhookEvent) -> list[Any]:
        return [self._stamped(c) for c in self.provider.changes(event)]

    def _stamped(self, change: Any) -> Any:
        """The change stamped with the provider it came from: a handler touches only rows of
        that provider's."""
        return dataclasses.replace(change, provider=self.provider.name)

    async def _owner_of(self, session: AsyncSession, event: WebhookEvent) -> Owner | None:
        """Whose rows an event names, when its handlers did not say (or failed)."""
        if self.owner_of is None:
            return None
        try:
            return await self.owner_of(session, self.provider.mentions(event))
        except (WebhookRejected, LookupError, TypeError, ValueError):
            log.warning("whose event %s is cannot be told", event.id, exc_info=True)
            return None

    async def _record_failure(self, event: WebhookEvent, error: str) -> None:
        # Its merchant sees it failed in the back office, and may replay it once fixed.
        async with self.db.sessions() as session:
            owner = await self._owner_of(session, event)
        async with self.db.transaction() as session:
            await session.execute(
                update(StoredEvent)
                .where(self._stored(event.id))
                .values(
                    status=EventStatus.FAILED.value,
                    error=error[:2000],
                    attempts=StoredEvent.attempts + 1,
                    merchant_id=owner.merchant_id if owner else None,
                )
            )


async def stored_events(
    db: Database, access: Access, status: EventStatus | None, limit: int
) -> list[StoredEvent]:
    """Every provider's events ``access`` may list, newest first (``status`` only, if given)."""
    query = select(StoredEvent).where(access.scope(Resource.EVENT, Action.LIST, StoredEvent))
    if status is not None:
        query = query.where(StoredEvent.status == status.value)
    async with db.sessions() as session:
        found = await session.scalars(
            query.order_by(StoredEvent.received_at.desc(), StoredEvent.id.desc()).limit(limit)
        )
        return list(found)
