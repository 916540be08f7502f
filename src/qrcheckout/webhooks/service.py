"""Webhook intake: verify, store the raw event, process its changes once in one transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
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
# SQLite: the most deliveries stored and processed in one transaction, under its one write
# lock. PostgreSQL takes each delivery in a transaction of its own, up to as many at once as
# the connection pool keeps: several events in one transaction would hold their tokens', orders'
# and products' row locks together, in the order the events came, which another transaction
# may take the other way round (a deadlock).
SQLITE_BATCH = 32
POSTGRES_AT_ONCE = 20

# A settled event: its receipt, and the changes whose follow-ups are to run.
Settled = tuple[Receipt, list[Any]]


@dataclass
class _Pending:
    """A verified delivery waiting for its batch."""

    event: WebhookEvent
    payload: bytes
    settled: asyncio.Future[Settled]

    def resolve(self, outcome: Settled | BaseException) -> None:
        if self.settled.done():  # its caller went away; the event is settled all the same
            return
        if isinstance(outcome, BaseException):
            self.settled.set_exception(outcome)
        else:
            self.settled.set_result(outcome)


class WebhookIntake:
    """A provider's webhooks: verified, then stored raw once and their typed changes handed to
    the handlers registered for them, in one transaction (on SQLite, with the deliveries that
    arrived beside them). The answer waits for the commit: a 2xx means stored and processed."""

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
        self._waiting: list[_Pending] = []
        self._batches: set[asyncio.Task[None]] = set()
        self._batch, self._turns = (1, POSTGRES_AT_ONCE) if db.is_postgres else (SQLITE_BATCH, 1)

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
        try:
            receipt = await self._process(event, payload)
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
        """Process verified events stored but never settled: a handler asked for a retry, or
        the process stopped between storing and committing. Returns how many were replayed."""
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
        raw = payload.encode("utf-8")
        return await self._process(self.provider.read_webhook(raw), raw)

    async def _process(self, event: WebhookEvent, payload: bytes) -> Receipt:
        """Store the event and process it, together with the deliveries that arrive while the
        batch before them commits; then run its follow-ups."""
        pending = _Pending(event, payload, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        self._start_batches()
        receipt, changes = await pending.settled
        for change in changes:
            for follow_up in self.follow_ups.get(type(change), ()):
                try:
                    await follow_up(change)
                except Exception:
                    log.exception("after webhook %s (%s): %s failed", event.id, event.type, change)
        return receipt

    def _start_batches(self) -> None:
        """Start a batch of the waiting deliveries for each free turn: on SQLite, one batch of
        up to ``SQLITE_BATCH`` at a time; on PostgreSQL, each alone, many at once."""
        while self._waiting and len(self._batches) < self._turns:
            batch, self._waiting = self._waiting[: self._batch], self._waiting[self._batch :]
            task = asyncio.create_task(self._run(batch), name=f"{self.channel} webhooks")
            self._batches.add(task)
            task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._batches.discard(task)
        self._start_batches()

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            for pending, outcome in zip(batch, await self._settle(batch), strict=True):
                pending.resolve(outcome)
        finally:  # cancelled with the process: whoever still waits is told to retry
            stopped = RetryLater("webhook_processing_stopped", "The service is stopping.")
            for pending in batch:
                pending.resolve(stopped)

    async def _settle(self, batch: list[_Pending]) -> list[Settled | BaseException]:
        """Store and process ``batch`` in one transaction: one commit (one fsync) for all of
        them. If any of them fails, the transaction is rolled back and each is processed on
        its own, so that one bad event does not fail the others."""
        try:
            return await self._together(batch)
        except Exception as exc:
            if len(batch) == 1:
                return [await self._failed(batch[0], exc)]
            if isinstance(exc, OperationalError):  # the database, not an event: all retry
                log.warning("a batch of %d webhooks could not be stored: %s", len(batch), exc)
                retry = RetryLater("webhook_unstored", "The event could not be stored; retry.")
                return [retry] * len(batch)
            log.warning("a batch of %d webhooks failed (%r); each alone now", len(batch), exc)
        return [(await self._settle([pending]))[0] for pending in batch]

    async def _together(self, batch: list[_Pending]) -> list[Settled | BaseException]:
        async with self.units() as (session, outbox):
            await session.execute(self._storing(batch))
            settled = [await self._settle_one(session, outbox, p.event) for p in batch]
        for pending, (receipt, _) in zip(batch, settled, strict=True):
            if not receipt.duplicate:
                log.info(
                    "%s event %s (%s) stored and %s",
                    self.channel,
                    receipt.event_id,
                    pending.event.type,
                    receipt.status.value,
                )
        return list(settled)

    async def _failed(self, pending: _Pending, exc: Exception) -> Settled | BaseException:
        """The event stored as it arrived, for a replay or a redelivery; unless a handler
        asked for a retry (a ``DomainError``), recorded as failed, with the reason: one
        transaction."""
        event = pending.event
        try:
            async with self.db.transaction() as session:
                await session.execute(self._storing([pending]))
                if isinstance(exc, DomainError):
                    return exc
                log.error("webhook %s (%s) failed", event.id, event.type, exc_info=exc)
                # Its claim was rolled back with the rest: this try is counted here.
                error = f"{type(exc).__name__}: {exc}"
                await self._record_failure(session, event, error, attempts=StoredEvent.attempts + 1)
        except Exception:
            log.exception("webhook %s (%s) could not be stored", event.id, event.type)
        return RetryLater(
            "webhook_processing_failed", "The event could not be processed; retry later."
        )

    def _storing(self, deliveries: list[_Pending]) -> Any:
        """The statement that stores each delivery's event as it arrived, unless it is stored
        already; one row per event, though a batch may hold the same event twice."""
        rows = {
            d.event.id: {
                "provider": self.channel,
                "id": d.event.id,
                "type": d.event.type,
                "created": d.event.created,
                "status": EventStatus.RECEIVED.value,
                "payload": d.payload.decode("utf-8"),
                "received_at": utcnow(),
                "attempts": 0,
            }
            for d in deliveries
        }
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        return (
            insert(StoredEvent)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["provider", "id"])
        )

    async def _settle_one(
        self, session: AsyncSession, outbox: Outbox, event: WebhookEvent
    ) -> Settled:
        """Claim a stored event and apply its changes; whatever it raises, the caller's
        transaction is rolled back."""
        event_id = event.id
        # Claiming the row serialises concurrent deliveries: one processes, the rest find it
        # settled. A crash rolls the claim back, so a redelivery processes it.
        claimed = await session.execute(
            update(StoredEvent)
            .where(
                self._stored(event_id),
                StoredEvent.status.in_([EventStatus.RECEIVED.value, EventStatus.FAILED.value]),
            )
            .values(attempts=StoredEvent.attempts + 1)
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            stored = await session.get(StoredEvent, (self.channel, event_id))
            status = EventStatus(stored.status) if stored else EventStatus.PROCESSED
            return Receipt(event_id, status, duplicate=True), []
        try:
            changes = self._changes(event)
        except WebhookRejected as exc:
            # Signed and stored, but its object is not in the provider's shape: no retry of the
            # same event can read it, so it is settled as failed, with the reason, and answered
            # 2xx (a redelivery reads it again).
            log.error("webhook %s (%s) cannot be read: %s", event_id, event.type, exc)
            await self._record_failure(
                session, event, f"{exc.code}: {exc.message}", processed_at=utcnow()
            )
            return Receipt(event_id, EventStatus.FAILED, False, exc.message), []
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
        return Receipt(event_id, status, duplicate=False), changes

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

    async def _record_failure(
        self, session: AsyncSession, event: WebhookEvent, error: str, **more: Any
    ) -> None:
        """The stored event marked failed, with ``error`` and ``more`` columns."""
        # Its merchant sees it failed in the back office, and may replay it once fixed.
        owner = await self._owner_of(session, event)
        await session.execute(
            update(StoredEvent)
            .where(
                self._stored(event.id),
                # A duplicate that went through meanwhile stays processed.
                StoredEvent.status.in_([EventStatus.RECEIVED.value, EventStatus.FAILED.value]),
            )
            .values(
                status=EventStatus.FAILED.value,
                error=error[:2000],
                merchant_id=owner.merchant_id if owner else None,
                **more,
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
