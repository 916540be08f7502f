"""PayPal's money: decimal strings (``"10.50"``, ``"1000"`` in JPY) in the currencies it takes,
read exactly into integer minor units and written back."""

from __future__ import annotations

import re
from typing import Any

from qrcheckout_sandbox.money import display as shown
from qrcheckout_sandbox.paypal.errors import PayPalError, invalid, missing, unprocessable

#: The currencies PayPal's REST APIs take; HUF, JPY and TWD have no decimals there.
CURRENCIES = frozenset(
    "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF "  # noqa: SIM905
    "THB USD".split()
)
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})
VALUE = re.compile(r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")
MAX_VALUE_LENGTH = 32


def places(currency: str) -> int:
    return 0 if currency in NO_DECIMALS else 2


def to_value(minor: int, currency: str) -> str:
    """``to_value(1050, "USD") == "10.50"``; ``to_value(1050, "JPY") == "1050"``."""
    digits = places(currency)
    if digits == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{part:0{digits}d}"


def money(minor: int, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": to_value(minor, currency)}


def read(
    amount: Any,
    field: str,
    *,
    currency: str | None = None,
    mismatch: str = "MULTI_CURRENCY_ORDER",
    payments: bool = False,
) -> tuple[int, str]:
    """A ``money`` object from a request as (minor units, currency), refused as PayPal refuses
    it; ``currency`` is the one it must be in (else the ``mismatch`` issue), when another
    amount already set it. ``payments``: refused in Payments v2's words, not Orders v2's."""
    if not isinstance(amount, dict):
        raise missing(field) if amount is None else _bad(field, amount)
    code = amount.get("currency_code")
    if code is None:
        raise missing(f"{field}/currency_code")
    if not isinstance(code, str) or len(code) != 3:
        raise invalid(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            f"{field}/currency_code",
            code,
        )
    if code not in CURRENCIES:
        raise unprocessable(
            "INVALID_CURRENCY_CODE",
            "Currency code is invalid or is not currently supported.",
            f"{field}/currency_code",
        )
    if currency is not None and code != currency:
        raise unprocessable(
            mismatch, "All amounts must be in the same currency.", f"{field}/currency_code"
        )
    value = amount.get("value")
    if value is None:
        raise missing(f"{field}/value")
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH or not VALUE.fullmatch(value):
        raise _bad(f"{field}/value", value)
    whole, _, part = value.lstrip("-").partition(".")
    if len(part) > places(code):
        issue = "DECIMALS_NOT_SUPPORTED" if payments and not places(code) else "DECIMAL_PRECISION"
        raise unprocessable(issue, "Too many decimal places for the currency.", f"{field}/value")
    minor = int(whole or "0") * 10 ** places(code) + int(part.ljust(places(code), "0") or "0")
    if value.startswith("-"):
        issue = "CANNOT_BE_ZERO_OR_NEGATIVE" if payments else "CANNOT_BE_NEGATIVE"
        raise unprocessable(issue, "Must be greater than or equal to 0.", f"{field}/value")
    return minor, code


def _bad(field: str, value: Any) -> PayPalError:
    return invalid(
        "INVALID_PARAMETER_SYNTAX",
        "The value of a field does not conform to the expected format.",
        field,
        value,
    )


#: PayPal's fixed fee per transaction in a currency's minor units (standard pricing);
#: others pay ``DEFAULT_FIXED_FEE`` of their minor units, or 40 units where there are none.
FIXED_FEES = {"USD": 49, "EUR": 39, "GBP": 29, "JPY": 40, "AUD": 59, "CAD": 59, "CHF": 49}
DEFAULT_FIXED_FEE = 49
FEE_BPS = 349


def fee(gross: int, currency: str) -> int:
    """PayPal's fee on ``gross``: 3.49% (rounded half up) plus a fixed amount, never more than
    ``gross``."""
    fixed = FIXED_FEES.get(currency, DEFAULT_FIXED_FEE if places(currency) else 40)
    return min(gross, (gross * FEE_BPS + 5000) // 10000 + fixed)


def display(minor: int, currency: str) -> str:
    """``display(1050, "USD") == "$10.50"``, as the approval page shows it."""
    return shown(minor, currency.lower(), places(currency))
