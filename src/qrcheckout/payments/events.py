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

# What a provider hands over, so that the intake can store it and handlers look it up: an
# event's id and type, and every id in a change, are printable ASCII of at most these lengths;
# an amount is at most ``MAX_EVENT_AMOUNT`` (a larger one, which nothing here asked for, is read
# as unknown: ``None``); ``created`` is Unix seconds that fit 32 bits, else unknown.
MAX_EVENT_ID = 255
MAX_EVENT_TYPE = 128
MAX_OBJECT_ID = 255
MAX_EVENT_AMOUNT = 2**31 - 1


@dataclass(frozen=True, kw_only=True)
class Change:
    """What every change carries: the provider it came from (set by the intake that verified
    it) and the merchant's linked account there it happened on (None: the platform's own), so
    it touches only rows paid through that provider on that account."""

    provider: str = ""
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckoutEvent(Change):
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
class CheckoutApproved(CheckoutEvent):
    """The buyer approved the session; the provider takes the money only once asked to
    (``PaymentProvider.complete_checkout_session``)."""


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
class PaymentDeclined(Change):
    """An attempt to pay for ``reference`` (a token) was refused (a declined card); the buyer
    may try again on the same page. ``message`` is the provider's, fit to show."""

    reference: str
    payment_id: str | None
    message: str


@dataclass(frozen=True, kw_only=True)
class ChargeSucceeded(Change):
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
class RefundChanged(Change):
    """A refund was made or moved on, for the payment or charge named."""

    refund: RefundSeen
    payment_id: str | None
    charge_id: str | None


@dataclass(frozen=True, kw_only=True)
class ChargeRefunded(Change):
    """A payment's refunded total grew to ``amount_refunded``; ``refunds`` as far as known."""

    payment_id: str | None
    charge_id: str | None
    amount_refunded: int | None
    refunds: tuple[RefundSeen, ...]


@dataclass(frozen=True, kw_only=True)
class AccountUnlinked(Change):
    """The owner of a linked account revoked the platform's access to it."""


@dataclass(frozen=True, kw_only=True)
class Mention:
    """The service's own ids an event names, whatever it reports: whose event it is, if it
    came from the account (``account``) that row is paid on."""

    token_id: str | None = None
    order_id: str | None = None
    account: str | None = None


ProviderEvent = (
    CheckoutApproved
    | CheckoutPaid
    | CheckoutProcessing
    | CheckoutFailed
    | CheckoutExpired
    | PaymentDeclined
    | ChargeSucceeded
    | RefundChanged
    | ChargeRefunded
    | AccountUnlinked
)


@dataclass(frozen=True)
class WebhookEvent:
    """A provider webhook, verified: ``id`` is unique per provider (see ``MAX_EVENT_ID``);
    ``account`` the linked account it happened on (None: the platform's)."""

    id: str
    type: str
    created: int | None
    payload: dict[str, Any]
    account: str | None = None
