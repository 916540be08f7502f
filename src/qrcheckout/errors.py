"""Domain errors: what went wrong, in words a caller can act on, and in no transport's terms.

Services raise these; each transport maps them once (``qrcheckout.http.errors`` for REST and
JSON:API). A kind says what sort of refusal it is, ``code`` which one, ``message`` why, and
``field`` which input was at fault where one was.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal: nothing was changed."""

    def __init__(
        self, code: str, message: str, *, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        #: Further machine-readable facts (a card's ``decline_code``, validation ``details``).
        self.details = details


class Malformed(DomainError):
    """The request cannot be read: not JSON, not signed, not the shape it must have."""


class Unauthenticated(DomainError):
    """No credential, or one that was refused."""


class Forbidden(DomainError):
    """The caller is known but this is not theirs."""


class NotFound(DomainError):
    """No such thing (or none the caller may see)."""


class Conflict(DomainError):
    """The thing exists but its state does not allow this now."""


class Gone(DomainError):
    """The thing existed but has ended for good (an expired checkout)."""


class Invalid(DomainError):
    """Well-formed input that the rules refuse."""


class PaymentDeclined(DomainError):
    """The provider declined the buyer's card or payment method."""


class PaymentIncomplete(DomainError):
    """The provider took the payment but has not settled it yet."""


class ProviderUnavailable(DomainError):
    """The payment provider could not be reached or failed on its side; try again later."""


class NotConfigured(DomainError):
    """This server was not set up for what was asked."""


class Unavailable(DomainError):
    """Something this needs (the database, the bus) cannot be reached now; try again shortly."""


class RateLimited(DomainError):
    """Too many attempts from one client, or at one thing, in too short a time; the same request
    may work after ``retry_after`` seconds (a detail every RateLimited carries)."""

    def __init__(self, code: str, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(code, message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class RetryLater(DomainError):
    """Something failed on our side after the input was accepted; the same request may work."""
