"""Stripe's test cards and the checks the hosted page runs on what the customer typed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


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
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        return next((b for prefix, b in BRANDS if self.number.startswith(prefix)), "unknown")

    @property
    def decline(self) -> Decline | None:
        return DECLINES.get(self.number)

    @property
    def funding(self) -> str:
        return "debit" if self.number in DEBIT else "credit"

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"qrcheckout-card:{self.number}".encode()).hexdigest()
        return digest[:16]

    def as_dict(self) -> dict[str, Any]:
        """What Stripe shows of the card: never the number or the CVC."""
        return {
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
        }


def test_card(suffix: str, today: date) -> Card | None:
    """The card behind ``tok_<suffix>`` or ``pm_card_<suffix>``, valid for a few more years."""
    number = TEST_CARDS.get(suffix)
    return None if number is None else Card(number, 12, today.year + 5, "123")


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def parse_card(number: str, expiry: str, cvc: str, today: date) -> Card:
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
    return Card(digits, month, year, cvc)
