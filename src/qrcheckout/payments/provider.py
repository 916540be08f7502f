"""The provider boundary: what the domain asks of a payment provider, typed both ways.

Domain code depends on ``PaymentProvider`` only. The one implementation,
``qrcheckout.payments.stripe_api.StripeProvider``, drives Stripe (or any server that
speaks Stripe's wire protocol, such as the built-in sandbox) through the official SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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


@dataclass(frozen=True)
class Charge:
    id: str
    status: str  # succeeded | pending | failed
    amount: int
    currency: str
    payment_intent: str | None


@dataclass(frozen=True)
class RefundRequest:
    """Give back ``amount`` (all that is left when None) of a payment (``pi_...`` or ``ch_...``)."""

    payment: str
    idempotency_key: str
    amount: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  # pending | succeeded | failed | canceled | requires_action
    amount: int
    currency: str


class ProviderError(Exception):
    """Anything the provider refused or could not do.

    ``code`` is the provider's machine-readable code where it gave one
    (``card_declined``, ``idempotency_error``, ``api_connection_error``, ...);
    ``http_status`` is the provider's status, or None when it was never reached;
    ``decline_code`` is the issuer's reason when a card was declined; ``param`` the request
    parameter the provider refused.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int | None = None,
        decline_code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.decline_code = decline_code
        self.param = param

    @property
    def is_card_error(self) -> bool:
        """The card was refused (402): the buyer's problem, not the service's."""
        return self.http_status == 402


class WebhookSignatureError(Exception):
    """A webhook whose signature is missing, wrong, or too old."""


class PaymentProvider(Protocol):
    """A payment provider as the domain sees it.

    Implementations never block the event loop and raise only ``ProviderError``
    (``WebhookSignatureError`` from ``verify_webhook``).
    """

    #: The provider can expire an open session so it can no longer be paid.
    supports_session_expiry: bool
    #: Earliest and latest ``expires_at`` the provider accepts, in seconds from now.
    session_expiry_window: tuple[int, int]

    async def create_checkout_session(self, request: SessionRequest) -> CheckoutSession:
        """Open a hosted checkout; the same ``idempotency_key`` returns the same session."""
        ...

    async def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session as the provider has it now."""
        ...

    async def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        """Close an open session so the customer can no longer pay it."""
        ...

    async def charge(self, request: ChargeRequest) -> Charge:
        """Charge a card token; the same ``idempotency_key`` never charges twice."""
        ...

    async def refund(self, request: RefundRequest) -> Refund:
        """Refund all or part of a payment; the same ``idempotency_key`` refunds once."""
        ...

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict[str, Any]:
        """Check the ``Stripe-Signature`` over the raw body and return the parsed event."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
