"""What every PayPal sandbox operation works with: the store, the calling app, and events."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qrcheckout_sandbox.delivery import Target, WebhookSender
from qrcheckout_sandbox.paypal.errors import not_found
from qrcheckout_sandbox.store import Store

_ID_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXY"

#: Store kinds, one per PayPal resource.
ORDER = "paypal.order"
CAPTURE = "paypal.capture"
AUTHORIZATION = "paypal.authorization"
REFUND = "paypal.refund"
WEBHOOK = "paypal.webhook"
EVENT = "paypal.event"
ACCESS_TOKEN = "paypal.access_token"
DELIVERY = "paypal.delivery"


#: The events the sandbox sends: each one's resource type and what it means.
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "CHECKOUT.ORDER.APPROVED": ("checkout-order", "A buyer approved a checkout order."),
    "CHECKOUT.ORDER.COMPLETED": ("checkout-order", "A checkout order is processed."),
    "PAYMENT.AUTHORIZATION.CREATED": ("authorization", "A payment authorization is created."),
    "PAYMENT.AUTHORIZATION.VOIDED": ("authorization", "A payment authorization is voided."),
    "PAYMENT.CAPTURE.COMPLETED": ("capture", "A payment capture completes."),
    "PAYMENT.CAPTURE.PENDING": ("capture", "The state of a payment capture changes to pending."),
    "PAYMENT.CAPTURE.DENIED": ("capture", "A payment capture is denied."),
    "PAYMENT.CAPTURE.REFUNDED": ("refund", "A merchant refunds a payment capture."),
}


def new_id(length: int = 17) -> str:
    """A PayPal-style id: ``5O190127TN364715T``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def timestamp(at: float | None = None) -> str:
    """PayPal's times: ``2026-12-03T10:20:49Z``."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


@dataclass
class World:
    """One PayPal sandbox's state and its outside: the store, its public URL, the webhook sender,
    and the targets an app's events go to (``targets(client, event_type)``)."""

    store: Store
    base: str
    sender: WebhookSender
    targets: Callable[[str, str], list[Target]]

    def emit(self, client: str, event_type: str, resource: dict[str, Any], summary: str) -> None:
        """Record ``event_type`` with ``resource`` as it is now, and deliver it to the app's
        webhooks that listen for it."""
        event_id = f"WH-{new_id(17)}-{new_id(17)}"
        resource_type, _ = EVENT_TYPES[event_type]
        event = {
            "id": event_id,
            "create_time": timestamp(),
            "resource_type": resource_type,
            "event_type": event_type,
            "summary": summary,
            "resource": copy.deepcopy(resource),
            "links": [
                link(f"{self.base}/v1/notifications/webhooks-events/{event_id}", "self"),
                link(
                    f"{self.base}/v1/notifications/webhooks-events/{event_id}/resend",
                    "resend",
                    "POST",
                ),
            ],
            "event_version": "1.0",
            "resource_version": "2.0",
        }
        self.store.add(EVENT, event, client)
        self.deliver(event, self.targets(client, event_type))

    def deliver(self, event: dict[str, Any], targets: list[Target]) -> None:
        for target in targets:
            self.sender.send(event, target)


@dataclass
class Call:
    """One API call, by the app ``client`` (its OAuth client id), with its ``PayPal-Request-Id``."""

    world: World
    client: str
    request_id: str | None = None

    @property
    def store(self) -> Store:
        return self.world.store

    @property
    def base(self) -> str:
        return self.world.base

    def now(self) -> str:
        return timestamp()

    def add(self, kind: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.store.add(kind, obj, self.client, **extra)

    def get(self, kind: str, object_id: str, what: str = "resource") -> dict[str, Any]:
        """The app's own ``kind`` object, or PayPal's 404."""
        found = self.store.get(kind, object_id, self.client)
        if found is None:
            raise not_found(what)
        return found

    def emit(self, event_type: str, resource: dict[str, Any], summary: str) -> None:
        self.world.emit(self.client, event_type, resource, summary)
