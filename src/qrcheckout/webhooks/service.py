"""Webhook intake: verify, store the raw event, process it once in one transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout.checkout.service import CheckoutService
from qrcheckout.db import utcnow
from qrcheckout.errors import DomainError, Malformed, RetryLater
from qrcheckout.payments.provider import WebhookSignatureError
from qrcheckout.realtime.bus import Outbox
from qrcheckout.webhooks.models import StripeEvent

log = logging.getLogger(__name__)


class EventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


@dataclass(frozen=True)
class Receipt:
    event_id: str
    status: EventStatus
    duplicate: bool


Handler = Callable[[AsyncSession, Outbox, dict[str, Any]], Awaitable[bool]]


SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)
#: Every stored event is published here: ``{"id", "type", "created", "payload"}``.
STRIPE_CHANNEL = "stripe"
# A stored event still unsettled this long after it arrived was cut off by a stop or a crash.
REPLAY_AFTER_SECONDS = 5
REPLAY_BATCH = 100


class WebhookService:
    def __init__(self, checkout: CheckoutService) -> None:
        self.checkout = checkout
        self.db = checkout.db
        self.handlers: dict[str, list[Handler]] = {}
        self.on(SESSION_EVENTS, self._session_event)

    def on(self, event_types: tuple[str, ...], handler: Handler) -> None:
        """Run ``handler`` for these event types, after the handlers already registered."""
        for event_type in event_types:
            self.handlers.setdefault(event_type, []).append(handler)

    async def receive(self, payload: bytes, signature: str | None) -> Receipt:
        try:
            event = self.checkout.provider.verify_webhook(payload, signature)
        except WebhookSignatureError as exc:
            raise Malformed("invalid_signature", f"Webhook signature rejected: {exc}") from exc
        except ValueError as exc:
            raise Malformed("invalid_json", "The webhook body is not valid JSON.") from exc
        event_id, event_type = _identify(event)
        created = event.get("created")
        await self._store(
            event_id, event_type, created if isinstance(created, int) else None, payload
        )
        return await self._process(event_id, event_type, event)

    async def replay_stored(self) -> int:
        """Process verified events stored but never settled: the process stopped between
        storing and committing. Returns how many were replayed."""
        cutoff = utcnow() - timedelta(seconds=REPLAY_AFTER_SECONDS)
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(StripeEvent.id, StripeEvent.type, StripeEvent.payload)
                    .where(
                        StripeEvent.status == EventStatus.RECEIVED.value,
                        StripeEvent.received_at <= cutoff,
                    )
                    .order_by(StripeEvent.received_at)
                    .limit(REPLAY_BATCH)
                )
            ).all()
        for event_id, event_type, payload in rows:
            try:
                await self._process(event_id, event_type, json.loads(payload))
            except DomainError as exc:
                log.warning("replaying event %s failed: %s", event_id, exc.message)
        return len(rows)

    async def _store(
        self, event_id: str, event_type: str, created: int | None, payload: bytes
    ) -> None:
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        statement = (
            insert(StripeEvent)
            .values(
                id=event_id,
                type=event_type,
                created=created,
                status=EventStatus.RECEIVED.value,
                payload=payload.decode("utf-8"),
                received_at=utcnow(),
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        async with self.db.transaction() as session:
            await session.execute(statement)

    async def _process(self, event_id: str, event_type: str, event: dict[str, Any]) -> Receipt:
        try:
            async with self.checkout.unit() as (session, outbox):
                # Claiming the row serialises concurrent deliveries: one processes, the rest
                # find it settled. A crash rolls the claim back, so a redelivery processes it.
                claimed = await session.execute(
                    update(StripeEvent)
                    .where(
                        StripeEvent.id == event_id,
                        StripeEvent.status.in_(
                            [EventStatus.RECEIVED.value, EventStatus.FAILED.value]
                        ),
                    )
                    .values(attempts=StripeEvent.attempts + 1)
                )
                if claimed.rowcount == 0:  # type: ignore[attr-defined]
                    stored = await session.get(StripeEvent, event_id)
                    status = EventStatus(stored.status) if stored else EventStatus.PROCESSED
                    return Receipt(event_id, status, duplicate=True)
                handled = False
                for handler in self.handlers.get(event_type, ()):
                    handled = await handler(session, outbox, event) or handled
                status = EventStatus.PROCESSED if handled else EventStatus.IGNORED
                await session.execute(
                    update(StripeEvent)
                    .where(StripeEvent.id == event_id)
                    .values(status=status.value, processed_at=utcnow(), error=None)
                )
                outbox.add(
                    STRIPE_CHANNEL,
                    {
                        "id": event_id,
                        "type": event_type,
                        "created": event.get("created"),
                        "payload": event,
                    },
                )
        except DomainError:
            raise
        except Exception as exc:
            log.exception("webhook %s (%s) failed", event_id, event_type)
            await self._record_failure(event_id, f"{type(exc).__name__}: {exc}")
            raise RetryLater(
                "webhook_processing_failed", "The event could not be processed; retry later."
            ) from exc
        return Receipt(event_id, status, duplicate=False)

    async def _record_failure(self, event_id: str, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(StripeEvent)
                .where(StripeEvent.id == event_id)
                .values(
                    status=EventStatus.FAILED.value,
                    error=error[:2000],
                    attempts=StripeEvent.attempts + 1,
                )
            )

    async def _session_event(
        self, session: AsyncSession, outbox: Outbox, event: dict[str, Any]
    ) -> bool:
        return await self.checkout.apply_session_event(
            session, outbox, event["type"], event["data"]["object"]
        )


def _identify(event: Any) -> tuple[str, str]:
    if not isinstance(event, dict):
        raise Malformed("invalid_event", "The webhook body is not an event object.")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise Malformed("invalid_event", "The event has no valid id.")
    if not isinstance(event_type, str) or not event_type:
        raise Malformed("invalid_event", "The event has no type.")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise Malformed("invalid_event", "The event has no data.object.")
    return event_id, event_type
