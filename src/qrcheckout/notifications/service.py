"""Telling the merchant's backend: events stored with the change that caused them, then
delivered signed, retried with backoff until a 2xx or the last attempt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from qrcheckout import metrics
from qrcheckout.access.models import DEFAULT_MERCHANT, Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.targets import resolves_privately
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, NotFound
from qrcheckout.notifications.models import Delivery, DeliveryAttempt, Notification
from qrcheckout.notifications.states import DeliveryStatus
from qrcheckout.signing import sign

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Qrcheckout-Signature"
TIMEOUT_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 3600.0
# A claimed delivery is left alone this long, so another instance does not send it as well.
LEASE_SECONDS = 60
BATCH = 50


@dataclass(frozen=True)
class _Claimed:
    """A delivery taken for one attempt, with what sending it needs."""

    delivery_id: int
    event_id: str
    url: str
    payload: str
    attempt: int
    # The merchant's own signing secret at claim time, else the configured one.
    secret: str
    # One of the operator's configured URLs (``QRCHECKOUT_MERCHANT_WEBHOOK_URLS``): not checked.
    trusted: bool


class Notifier:
    def __init__(
        self,
        db: Database,
        urls: list[str],
        secret: str,
        *,
        retry_base_seconds: float,
        max_attempts: int,
        private_ok: bool = False,
    ) -> None:
        self.db = db
        self.urls = urls
        #: Signs the deliveries of a merchant without its own secret (the default merchant's).
        self.secret = secret
        #: Whether merchants' own URLs may resolve to private addresses (development only).
        self.private_ok = private_ok
        self.retry_base_seconds = retry_base_seconds
        self.max_attempts = max_attempts
        self.wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    async def enqueue(
        self, session: AsyncSession, event_type: str, dedupe_key: str, obj: dict[str, Any]
    ) -> bool:
        """Add an event about ``obj`` (an order: its ``merchant`` is told) in the caller's
        transaction; False when this key was already told or nobody listens."""
        merchant_id = str(obj["merchant"])
        urls = await self._targets(session, merchant_id)
        if not urls:
            return False
        event_id = "evt_" + secrets.token_hex(12)
        now = utcnow()
        payload = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "type": event_type,
                "created": int(now.timestamp()),
                "data": {"object": obj},
            }
        )
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        added = await session.execute(
            insert(Notification)
            .values(
                id=event_id,
                merchant_id=merchant_id,
                type=event_type,
                dedupe_key=dedupe_key,
                order_id=obj.get("id"),
                payload=payload,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        if added.rowcount == 0:  # type: ignore[attr-defined]
            return False
        session.add_all(
            Delivery(
                notification_id=event_id,
                url=url,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
            )
            for url in urls
        )
        # Woken once the caller's transaction commits, so the worker finds what it is woken for.
        event.listen(session.sync_session, "after_commit", self._wake_after_commit, once=True)
        return True

    async def _targets(self, session: AsyncSession, merchant_id: str) -> list[str]:
        """The merchant's webhook URLs; the default merchant also has the configured ones."""
        merchant = await session.get(Merchant, merchant_id)
        own = list(merchant.webhook_urls) if merchant is not None else []
        return list(dict.fromkeys([*self._configured_for(merchant_id), *own]))

    def _configured_for(self, merchant_id: str) -> list[str]:
        """The operator's own URLs (trusted, never checked): the default merchant's."""
        return self.urls if merchant_id == DEFAULT_MERCHANT else []

    def _wake_after_commit(self, _session: object) -> None:
        self.wake.set()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def deliver_due(self) -> int:
        """Send every delivery whose time has come; returns how many were attempted."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._send(item) for item in claimed))
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(Delivery, Notification.payload, Notification.merchant_id)
                    .join(Notification, Notification.id == Delivery.notification_id)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING.value,
                        Delivery.next_attempt_at <= now,
                    )
                    .order_by(Delivery.next_attempt_at)
                    .limit(BATCH)
                    .with_for_update(of=Delivery, skip_locked=True)
                )
            ).all()
            # Read on every claim, not kept: a rotated secret signs the very next attempt.
            owners = {merchant_id for _, _, merchant_id in rows}
            found = await session.execute(
                select(Merchant.id, Merchant.webhook_secret).where(Merchant.id.in_(owners))
            )
            secrets_of = {merchant_id: secret for merchant_id, secret in found}
            claimed = []
            for delivery, payload, merchant_id in rows:
                delivery.attempts += 1
                delivery.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
                claimed.append(
                    _Claimed(
                        delivery_id=delivery.id,
                        event_id=delivery.notification_id,
                        url=delivery.url,
                        payload=payload,
                        attempt=delivery.attempts,
                        secret=secrets_of.get(merchant_id) or self.secret,
                        trusted=delivery.url in self._configured_for(merchant_id),
                    )
                )
        return claimed

    async def _send(self, item: _Claimed) -> None:
        assert self._client is not None
        status_code: int | None = None
        error: str | None = None
        # A merchant's own URL must not lead into the operator's network (checked as resolved
        # now: a name may have pointed elsewhere when it was saved).
        if not item.trusted and not self.private_ok:
            refused = await resolves_privately(item.url)
            error = refused[:500] if refused else None
        if error is None:
            try:
                response = await self._client.post(
                    item.url,
                    content=item.payload,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(item.payload, item.secret, int(time.time())),
                        "Qrcheckout-Event-Id": item.event_id,
                    },
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        succeeded = _accepted(status_code)
        now = utcnow()
        if succeeded:
            values: dict[str, Any] = {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
            metrics.deliveries.labels("delivered").inc()
        elif item.attempt >= self.max_attempts:
            values = {"status": DeliveryStatus.FAILED.value}
            metrics.deliveries.labels("failed").inc()
            log.error(
                "gave up delivering %s to %s after %d attempts",
                item.event_id,
                item.url,
                item.attempt,
            )
        else:
            metrics.deliveries.labels("retrying").inc()
            delay = min(self.retry_base_seconds * 2 ** (item.attempt - 1), MAX_BACKOFF_SECONDS)
            values = {"next_attempt_at": now + timedelta(seconds=delay)}
        async with self.db.transaction() as session:
            session.add(
                DeliveryAttempt(
                    delivery_id=item.delivery_id,
                    notification_id=item.event_id,
                    url=item.url,
                    attempt=item.attempt,
                    status_code=status_code,
                    error=error,
                    created_at=now,
                )
            )
            await session.execute(
                update(Delivery).where(Delivery.id == item.delivery_id).values(values)
            )

    async def attempts(
        self, access: Access, event_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The delivery log ``access`` may read, newest first."""
        query = (
            select(DeliveryAttempt, Notification.type)
            .join(Notification, Notification.id == DeliveryAttempt.notification_id)
            .where(access.scope(Resource.DELIVERY, Action.LIST, Notification))
            .order_by(DeliveryAttempt.id.desc())
            .limit(limit)
        )
        if event_id is not None:
            query = query.where(DeliveryAttempt.notification_id == event_id)
        async with self.db.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            {
                "event": attempt.notification_id,
                "type": event_type,
                "url": attempt.url,
                "attempt": attempt.attempt,
                "status_code": attempt.status_code,
                "error": attempt.error,
                "succeeded": _accepted(attempt.status_code),
                "created_at": attempt.created_at.isoformat(),
            }
            for attempt, event_type in rows
        ]

    async def deliveries(self, access: Access, limit: int) -> list[DeliveryLog]:
        """The merchant's deliveries, newest first, each with every attempt made."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Delivery, Notification.type, Notification.created_at)
                    .join(Notification, Notification.id == Delivery.notification_id)
                    .where(access.scope(Resource.DELIVERY, Action.LIST, Notification))
                    .order_by(Notification.created_at.desc(), Delivery.id.desc())
                    .limit(limit)
                )
            ).all()
            tried = await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id.in_([d.id for d, _, _ in rows]))
                .order_by(DeliveryAttempt.id)
            )
            attempts: dict[int, list[DeliveryAttempt]] = {}
            for attempt in tried:
                attempts.setdefault(attempt.delivery_id, []).append(attempt)
        return [
            DeliveryLog(delivery, kind, created_at, attempts.get(delivery.id, []))
            for delivery, kind, created_at in rows
        ]

    async def redeliver(self, access: Access, delivery_id: int) -> None:
        """Send a delivery once more, now: one that failed, or one the merchant lost."""
        async with self.db.transaction() as session:
            found = (
                await session.execute(
                    select(Delivery, Notification.merchant_id)
                    .join(Notification, Notification.id == Delivery.notification_id)
                    .where(Delivery.id == delivery_id)
                    .with_for_update(of=Delivery)
                )
            ).first()
            if found is None or not access.allows(
                Resource.DELIVERY, Action.REPLAY, {"merchant_id": found[1]}
            ):
                raise NotFound("delivery_not_found", "No such webhook delivery.")
            delivery = found[0]
            if delivery.status == DeliveryStatus.PENDING:
                # Being sent, or to be sent again at its time: a second sending beside it
                # would race it for the outcome.
                raise Conflict(
                    "delivery_pending",
                    "This delivery is under way; it is tried again "
                    f"at {delivery.next_attempt_at:%H:%M:%S} UTC.",
                )
            # One more attempt, numbered after the ones before: past the last allowed one, a
            # failure settles it as failed again. A delivered one keeps when it was delivered.
            delivery.status = DeliveryStatus.PENDING.value
            delivery.next_attempt_at = utcnow()
        log.info("delivery %s of %s to be sent again", delivery_id, delivery.notification_id)
        self.wake.set()

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                while await self.deliver_due():
                    pass
            except Exception:
                log.exception("delivering merchant webhooks failed; trying again")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)


@dataclass(frozen=True)
class DeliveryLog:
    delivery: Delivery
    type: str
    created_at: datetime
    attempts: list[DeliveryAttempt]


def _accepted(status_code: int | None) -> bool:
    """The merchant took the event: any success answer."""
    return status_code is not None and httpx.codes.is_success(status_code)
