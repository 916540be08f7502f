"""What every sandbox operation works with: the store, the caller's account, and events."""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass
from typing import Any

from qrcheckout_sandbox import objects
from qrcheckout_sandbox.delivery import Target, WebhookSender
from qrcheckout_sandbox.expiry import ExpiryIndex
from qrcheckout_sandbox.objects import no_such
from qrcheckout_sandbox.store import Store


class Engine:
    """The store, the webhook sender and the open sessions' deadlines.

    Emitting an event delivers it to its endpoints. ``hash_key`` keys every hash of what callers
    sent (card fingerprints, idempotency fingerprints): none can be reversed by guessing.
    """

    def __init__(
        self,
        store: Store,
        sender: WebhookSender,
        default_target: Target | None,
        hash_key: bytes | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.default_target = default_target
        self.hash_key = hash_key or secrets.token_bytes(32)
        self.session_expiry = ExpiryIndex()

    def emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        account: str | None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record ``event_type`` with ``obj`` as it is now, and deliver it."""
        targets = self.targets(event_type, account)
        event = objects.event(
            event_type,
            copy.deepcopy(obj),
            request_id=request_id,
            idempotency_key=idempotency_key,
            pending_webhooks=len(targets),
            account=account,
        )
        self.store.add("event", event, account)
        for target in targets:
            self.sender.send(event, target)
        return event

    def targets(self, event_type: str, account: str | None) -> list[Target]:
        """The platform's enabled endpoints listening for ``event_type``.

        A connected account's events go to the platform's ``connect`` endpoints.
        """
        targets = [] if self.default_target is None else [self.default_target]
        for record in self.store.find("webhook_endpoint", None):
            endpoint = record.obj
            if endpoint["status"] != "enabled":
                continue
            if bool(record.extra.get("connect")) != (account is not None):
                continue
            events = endpoint["enabled_events"]
            if "*" in events or event_type in events:
                targets.append(Target(endpoint["url"], record.extra["secret"], endpoint["id"]))
        return targets


@dataclass
class Ctx:
    """One API call: who makes it (``account``) and how (request id, idempotency key)."""

    engine: Engine
    account: str | None
    request_id: str | None = None
    idempotency_key: str | None = None

    @property
    def store(self) -> Store:
        return self.engine.store

    def now(self) -> int:
        return int(time.time())

    def emit(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Keep ``obj``'s change and record ``event_type`` with it as it is now."""
        self.store.saved(obj)
        return self.engine.emit(
            event_type,
            obj,
            account=self.account,
            request_id=self.request_id,
            idempotency_key=self.idempotency_key,
        )

    def add(self, kind: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.store.add(kind, obj, self.account, **extra)

    def saved(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.saved(obj)

    def get(self, kind: str, object_id: Any, param: str = "id") -> dict[str, Any]:
        """The caller's ``kind`` object, or Stripe's 404 naming ``param``."""
        found = self.store.get(kind, str(object_id), self.account) if object_id else None
        if found is None:
            raise no_such(kind, str(object_id), param)
        return found
