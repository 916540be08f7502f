"""Money is integer minor units plus a lowercase ISO 4217 currency code; never floats."""

from __future__ import annotations

from decimal import Decimal, DecimalException

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
# Stripe's three-decimal currencies: 1 KWD is 1000 minor units.
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
# The currencies Stripe takes a payment in (its supported presentment currencies), as Stripe
# writes them: lowercase ISO 4217 codes.
CURRENCIES = THREE_DECIMAL | frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn
    bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd
    gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr
    lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen
    pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs
    top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()  # noqa: SIM905 (a list literal of 134 codes reads worse)
)
# The largest amount one price or charge may carry: Stripe's own eight-digit limit.
MAX_AMOUNT = 99_999_999
# The most digits an amount is read with (far more than any amount has).
MAX_DIGITS = 40
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "aud": "A$", "cad": "C$"}


def is_currency(code: str) -> bool:
    """``code`` is a currency Stripe takes, written as Stripe writes it (``"usd"``)."""
    return code in CURRENCIES


def decimals(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def plain_amount(amount: int, currency: str) -> str:
    """Minor units as a plain decimal, for files and forms: ``plain_amount(1050, "usd") ==
    "10.50"``."""
    return f"{Decimal(amount).scaleb(-decimals(currency)):f}"


def minor_units(text: object, currency: str) -> int | None:
    """A decimal amount as minor units (``minor_units("10.5", "usd") == 1050``); None for
    anything that is not a non-negative amount exact in the currency."""
    written = str(text).strip()
    if len(written) > MAX_DIGITS:
        return None
    try:
        exact = Decimal(written).scaleb(decimals(currency))
        # Checked before it is made an int: "1e500000" would take the process seconds.
        if not exact.is_finite() or exact.adjusted() > MAX_DIGITS:
            return None
        if exact != exact.to_integral_value() or exact < 0:
            return None
    except DecimalException:
        return None
    return int(exact)


def format_amount(amount: int, currency: str) -> str:
    """Render minor units for people: ``format_amount(1050, "usd") == "$10.50"``."""
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**places)
    number = f"{whole:,}" + (f".{frac:0{places}d}" if places else "")
    symbol = SYMBOLS.get(currency.lower())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"
