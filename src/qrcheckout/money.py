"""Money is integer minor units plus a lowercase ISO 4217 currency code; never floats."""

from __future__ import annotations

# Stripe's zero-decimal currencies: amounts are whole units (500 JPY is 500).
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
# A lowercase ISO 4217 code, as Stripe writes them.
CURRENCY_PATTERN = r"^[a-z]{3}$"
# The largest amount one price or charge may carry: Stripe's own eight-digit limit.
MAX_AMOUNT = 99_999_999
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "aud": "A$", "cad": "C$"}


def decimals(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def format_amount(amount: int, currency: str) -> str:
    """Render minor units for people: ``format_amount(1050, "usd") == "$10.50"``."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    number = f"{whole:,}" + (f".{frac:0{places}d}" if places else "")
    symbol = SYMBOLS.get(currency.lower())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"
