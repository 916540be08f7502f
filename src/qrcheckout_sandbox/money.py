"""Stripe's money rules as the sandbox needs them: zero-decimal currencies and the pay page's
display of an amount."""

from __future__ import annotations

# Currencies Stripe counts in whole units: ``amount=500`` in JPY is ¥500.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # noqa: SIM905
)
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "aud": "A$", "cad": "C$"}


def display(amount: int, currency: str, places: int | None = None) -> str:
    """``display(1050, "usd") == "$10.50"``; a currency without a symbol shows its code.
    ``places``: the decimals of a minor unit, when not Stripe's for the currency."""
    code = currency.lower()
    if places is None:
        # Stripe's three-decimal currencies: 1234 KWD minor units are 1.234 KWD.
        three = ("bhd", "jod", "kwd", "omr", "tnd")
        places = 0 if code in ZERO_DECIMAL else 3 if code in three else 2
    whole, cents = divmod(abs(amount), 10**places)
    text = f"{whole:,}" + (f".{cents:0{places}d}" if places else "")
    symbol = _SYMBOLS.get(currency.lower())
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"
