"""The provider boundary: what the domain asks of a payment provider, typed both ways.

Domain code depends on ``PaymentProvider`` only. ``qrcheckout.payments.stripe_api`` drives
Stripe and ``qrcheckout.payments.paypal_api`` drives PayPal (or any server that speaks their
wire protocols, such as the built-in sandboxes), each through its official SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qrcheckout.payments.events import Mention, ProviderEvent, WebhookEvent


@dataclass(frozen=True)
class LineItem:
    name: str
    unit_amount: int
    quantity: int
    description: str = ""
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionRequest:
    """A hosted checkout to open for one payment of ``line_items`` in ``currency``."""

    line_items: tuple[LineItem, ...]
    currency: str
    success_url: str
    cancel_url: str
    idempotency_key: str
    customer_email: str | None = None
    expires_at: int | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: Where the buyer may have it shipped; empty: no shipping address is asked for.
    shipping_countries: tuple[str, ...] = ()
    #: The connected account it is paid into (a direct charge); None: the platform's own.
    account: str | None = None
    #: The platform's share of a connected account's payment, in the same minor units.
    application_fee: int | None = None


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None
    expires_at: int | None
    payment_intent: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class ChargeRequest:
    """Take ``amount`` now from a single-use card token (``tok_...``)."""

    amount: int
    currency: str
    source: str
    idempotency_key: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    application_fee: int | None = None


@dataclass(frozen=True)
class Charge:
    id: str
    status: str  # succeeded | pending | failed
    amount: int
    currency: str
    payment_intent: str | None


@dataclass(frozen=True)
class RefundRequest:
    """Give back ``amount`` (all that is left when None) of a payment (``pi_...`` or ``ch_...``)
    made on ``account`` (None: the platform's); the platform's fee on it is given back in
    proportion."""

    payment: str
    idempotency_key: str
    amount: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    account: str | None = None


@dataclass(frozen=True)
class LinkedAccount:
    """A merchant's own provider account, linked through the provider's OAuth: its id and the
    publishable key a buyer's app uses for it (never a secret)."""

    account_id: str
    publishable_key: str | None
    scope: str | None
    livemode: bool


class RefundStatus(StrEnum):
    """Where a refund stands; providers map their own words onto these."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class Refund:
    id: str
    status: RefundStatus
    amount: int
    currency: str


class ProviderErrorKind(StrEnum):
    """What sort of failure a provider call met, whatever the provider's own words for it."""

    #: The buyer's card or payment method was declined: the buyer's problem, not the service's.
    DECLINED = "declined"
    #: The provider refused the request itself (a parameter, the key, a limit); nothing was taken.
    REFUSED = "refused"
    #: Another request with the same idempotency key is under way, or differed.
    CONFLICT = "conflict"
    #: The provider was not reached, or failed on its side: the outcome is unknown, retry later.
    UNAVAILABLE = "unavailable"


class ProviderProblem(StrEnum):
    """Refusals the domain acts on, whatever the provider's own code for them."""

    #: The payment was already refunded in full.
    ALREADY_REFUNDED = "already_refunded"
    #: The provider does not take the currency asked for.
    CURRENCY = "currency"


class ProviderError(Exception):
    """Anything the provider refused or could not do.

    ``kind`` says what sort of failure it was; ``code`` is the provider's machine-readable
    code where it gave one (``card_declined``, ``resource_missing``, ...); ``decline_code``
    is the issuer's reason when a card was declined; ``param`` the request parameter the
    provider refused; ``problem`` names a refusal the domain acts on.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderErrorKind,
        code: str,
        decline_code: str | None = None,
        param: str | None = None,
        problem: ProviderProblem | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code
        self.decline_code = decline_code
        self.param = param
        self.problem = problem

    @property
    def took_nothing(self) -> bool:
        """The provider answered with a refusal, so nothing was charged or refunded."""
        return self.kind in (ProviderErrorKind.DECLINED, ProviderErrorKind.REFUSED)


class WebhookRejected(Exception):
    """A webhook that is not the provider's: ``code`` is ``invalid_signature`` (missing,
    wrong or too old), ``invalid_json`` or ``invalid_event`` (not an event's shape, or an id or
    type that cannot be stored); or a signed event whose object cannot be read:
    ``unreadable_event``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PaymentProvider(Protocol):
    """A payment provider as the domain sees it.

    Implementations never block the event loop and raise only ``ProviderError``
    (``WebhookRejected`` from the webhook readers).
    """

    #: A short lowercase name: the webhook path (``/v1/webhooks/{name}``) and realtime channel.
    name: str
    #: The provider can expire an open session so it can no longer be paid; without it, an
    #: ended token's open session is left to run out on its own.
    supports_session_expiry: bool
    #: Earliest and latest ``expires_at`` the provider accepts, in seconds from now.
    session_expiry_window: tuple[int, int]
    #: The buyer's approval takes no money until the service completes the session
    #: (``complete_checkout_session``: PayPal's capture); without it, paying completes it.
    needs_completion: bool
    #: What the provider replaces with the session's id in a ``success_url`` (None: it names
    #: the session in its own query parameter when it sends the buyer back).
    session_id_placeholder: str | None

    async def create_checkout_session(self, request: SessionRequest) -> CheckoutSession:
        """Open a hosted checkout; the same ``idempotency_key`` returns the same session."""
        ...

    async def retrieve_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        """The session (opened on ``account``) as the provider has it now."""
        ...

    async def expire_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        """Close an open session (opened on ``account``) so the customer can no longer pay it."""
        ...

    async def complete_checkout_session(
        self, session_id: str, idempotency_key: str, account: str | None = None
    ) -> CheckoutSession:
        """Take the money of a session the buyer approved (``CheckoutApproved``), where the
        provider waits to be asked; the same ``idempotency_key`` takes it once, and a session
        completed already is answered as it stands."""
        ...

    async def charge(self, request: ChargeRequest) -> Charge:
        """Charge a card token; the same ``idempotency_key`` never charges twice."""
        ...

    async def refund(self, request: RefundRequest) -> Refund:
        """Refund all or part of a payment; the same ``idempotency_key`` refunds once."""
        ...

    def link_url(self, client_id: str, state: str, redirect_uri: str) -> str:
        """Where a merchant authorises the platform (``client_id``) on its own account: the
        provider sends it back to ``redirect_uri`` with ``state`` and a one-time code."""
        ...

    async def link_account(self, code: str) -> LinkedAccount:
        """Exchange the one-time code from ``link_url``'s redirect for the account it linked."""
        ...

    async def unlink_account(self, client_id: str, account_id: str) -> None:
        """Revoke the platform's access to a linked account."""
        ...

    async def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Check the webhook's signature over the raw body (``headers`` as received, keys
        lowercase), then read it as ``read_webhook`` does. Raises ``WebhookRejected`` for one
        that is not the provider's, ``ProviderError`` when the check itself could not run."""
        ...

    def read_webhook(self, payload: bytes) -> WebhookEvent:
        """Read a webhook verified before (one stored on arrival)."""
        ...

    def changes(self, event: WebhookEvent) -> tuple[ProviderEvent, ...]:
        """What the event reports, as typed changes; empty for events the domain does not
        follow. An object not in the provider's shape raises ``WebhookRejected`` with
        ``unreadable_event``: the intake settles the stored event as failed, with the reason,
        since no retry of the same event can read it."""
        ...

    @property
    def event_types(self) -> frozenset[str]:
        """The event types ``changes`` reads; any other changes nothing."""
        ...

    def mentions(self, event: WebhookEvent) -> Mention:
        """The token and order ids the event's object carries (set when the payment was
        opened), read leniently: an unreadable field names nothing. Used to tell whose an
        event is when none of its changes did."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
