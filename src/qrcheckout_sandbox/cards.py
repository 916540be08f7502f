"""Stripe's test cards, the checks the hosted page runs on what the customer typed, and what the
sandbox keeps of a card: what Stripe keeps, never its number or CVC."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


# Stripe's declining test numbers; a card keeps its decline's ``decline_code``, never its number.
DECLINES = {
    "4000000000000002": Decline("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4100000000000019": Decline("card_declined", "fraudulent", "Your card was declined."),
    "4000000000000069": Decline("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": Decline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000119": Decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}
_DECLINES_BY_CODE = {decline.decline_code: decline for decline in DECLINES.values()}

# ``tok_visa``, ``pm_card_visa``, ...: Stripe's test tokens and payment methods, by their suffix.
TEST_CARDS = {
    "visa": "4242424242424242",
    "visa_debit": "4000056655665556",
    "mastercard": "5555555555554444",
    "mastercard_debit": "5200828282828210",
    "amex": "378282246310005",
    "discover": "6011111111111117",
    "chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedFraudulent": "4100000000000019",
    "chargeDeclinedExpiredCard": "4000000000000069",
    "chargeDeclinedIncorrectCvc": "4000000000000127",
    "chargeDeclinedProcessingError": "4000000000000119",
}
DEBIT = {"4000056655665556", "5200828282828210"}

BRANDS = (
    ("4", "visa"),
    ("51", "mastercard"),
    ("52", "mastercard"),
    ("53", "mastercard"),
    ("54", "mastercard"),
    ("55", "mastercard"),
    ("2", "mastercard"),
    ("34", "amex"),
    ("37", "amex"),
    ("6011", "discover"),
)


class CardInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Card:
    """What the sandbox keeps of a card, as Stripe keeps it: never its number or its CVC.

    A test card's behaviour is decided when the card is presented and kept as ``decline_code``.
    """

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    funding: str
    country: str = "US"
    decline_code: str | None = None

    @property
    def decline(self) -> Decline | None:
        return None if self.decline_code is None else _DECLINES_BY_CODE[self.decline_code]

    def as_dict(self) -> dict[str, Any]:
        """What Stripe shows of the card."""
        return {
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
        }

    def kept(self) -> dict[str, Any]:
        """The card as the store keeps it."""
        return asdict(self)

    @classmethod
    def from_kept(cls, kept: dict[str, Any]) -> Card:
        return cls(**kept)


def present(number: str, exp_month: int, exp_year: int, key: bytes) -> Card:
    """The card a valid ``number`` stands for; the number itself is not kept.

    ``key`` keys the fingerprint, so a fingerprint cannot be turned back into a number by
    hashing every number that has the same last four digits."""
    decline = DECLINES.get(number)
    return Card(
        brand=next((b for prefix, b in BRANDS if number.startswith(prefix)), "unknown"),
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:16],
        funding="debit" if number in DEBIT else "credit",
        decline_code=decline.decline_code if decline else None,
    )


def unkeyed_fingerprint(number: str) -> str:
    """The fingerprint older sandboxes gave a card: reversible, so replaced where found."""
    return hashlib.sha256(f"qrcheckout-card:{number}".encode()).hexdigest()[:16]


def test_card(suffix: str, today: date, key: bytes) -> Card | None:
    """The card behind ``tok_<suffix>`` or ``pm_card_<suffix>``, valid for a few more years."""
    number = TEST_CARDS.get(suffix)
    return None if number is None else present(number, 12, today.year + 5, key)


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def parse_card(number: str, expiry: str, cvc: str, today: date, key: bytes) -> Card:
    """What the hosted page's customer typed, checked; the CVC is checked and forgotten."""
    digits = "".join(ch for ch in number if ch not in " -")
    if not digits:
        raise CardInputError("number", "Your card number is incomplete.")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise CardInputError("number", "Your card number is invalid.")
    exp = "".join(ch for ch in expiry if ch.isdigit())
    if len(exp) not in (4, 6):
        raise CardInputError("expiry", "Your card's expiration date is incomplete.")
    month, year = int(exp[:2]), int(exp[2:])
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise CardInputError("expiry", "Your card's expiration date is invalid.")
    if (year, month) < (today.year, today.month):
        raise CardInputError("expiry", "Your card's expiration year is in the past.")
    cvc = cvc.strip()
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise CardInputError("cvc", "Your card's security code is incomplete.")
    return present(digits, month, year, key)
