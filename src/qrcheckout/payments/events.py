"""What a provider's webhook means for the domain, in no provider's words.

A provider turns each verified webhook into a ``WebhookEvent``: its identity and the raw
payload (stored as received and shown on the provider's realtime channel); once it is stored,
the provider reads the typed changes it reports. Handlers read only the changes; nothing
outside the provider's module reads the payload's fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qrcheckout.payments.provider import RefundStatus


@dataclass(frozen=True, kw_only=True)
class CheckoutEvent:
    """A hosted checkout session changed. ``reference`` is the id the session was opened
    for (a token), ``payment_id`` the provider's payment behind it once there is one."""

    session_id: str
    reference: str | None
    payment_id: str | None = None
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckoutPaid(CheckoutEvent):
    """The buyer paid ``amount`` ``currency`` (lowercase) through the session."""

    amount: int | None
    currency: str


@dataclass(frozen=True, kw_only=True)
class CheckoutProcessing(CheckoutEvent):
    """The buyer finished, and a payment method that settles later is settling."""


@dataclass(frozen=True, kw_only=True)
class CheckoutFailed(CheckoutEvent):
    """The delayed payment behind the session failed."""


@dataclass(frozen=True, kw_only=True)
class CheckoutExpired(CheckoutEvent):
    """The session can no longer be paid."""


@dataclass(frozen=True, kw_only=True)
class ChargeSucceeded:
    """Money was taken outside a hosted session (a card-token charge). ``order_id`` is the
    order the charge was made for, when it says so."""

    payment_id: str
    charge_id: str | None
    amount: int | None
    currency: str
    order_id: str | None


@dataclass(frozen=True, kw_only=True)
class RefundSeen:
    id: str
    amount: int
    status: RefundStatus


@dataclass(frozen=True, kw_only=True)
class RefundChanged:
    """A refund was made or moved on, for the payment or charge named."""

    refund: RefundSeen
    payment_id: str | None
    charge_id: str | None


@dataclass(frozen=True, kw_only=True)
class ChargeRefunded:
    """A payment's refunded total grew to ``amount_refunded``; ``refunds`` as far as known."""

    payment_id: str | None
    charge_id: str | None
    amount_refunded: int | None
    refunds: tuple[RefundSeen, ...]


ProviderEvent = (
    CheckoutPaid
    | CheckoutProcessing
    | CheckoutFailed
    | CheckoutExpired
    | ChargeSucceeded
    | RefundChanged
    | ChargeRefunded
)


@dataclass(frozen=True)
class WebhookEvent:
    """A provider webhook, verified: ``id`` is unique per provider."""

    id: str
    type: str
    created: int | None
    payload: dict[str, Any]
