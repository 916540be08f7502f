"""Amounts in minor units, shown to people in their currency's own form."""

from __future__ import annotations

import pytest

from qrcheckout.money import (
    CURRENCIES,
    MAX_AMOUNT,
    THREE_DECIMAL,
    ZERO_DECIMAL,
    decimals,
    format_amount,
    is_currency,
)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1050, "usd", "$10.50"),
        (5, "usd", "$0.05"),
        (0, "usd", "$0.00"),
        (100, "usd", "$1.00"),
        (123456, "usd", "$1,234.56"),
        (1050, "eur", "€10.50"),
        (999, "gbp", "£9.99"),
        (2500, "aud", "A$25.00"),
        (2500, "cad", "C$25.00"),
        (500, "jpy", "¥500"),
        (0, "jpy", "¥0"),
        (1500, "jpy", "¥1,500"),
        (1000, "krw", "1,000 KRW"),
        (25000, "vnd", "25,000 VND"),
        (1050, "chf", "10.50 CHF"),
        (7, "sek", "0.07 SEK"),
        (1250, "kwd", "1.250 KWD"),
        (5, "bhd", "0.005 BHD"),
        (123456, "jod", "123.456 JOD"),
        (1000, "omr", "1.000 OMR"),
        (-2500, "tnd", "-2.500 TND"),
    ],
)
def test_amounts_read_as_people_write_them(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (-1050, "usd", "-$10.50"),
        (-5, "usd", "-$0.05"),  # the sign survives a whole part of zero
        (-500, "jpy", "-¥500"),
        (-1050, "chf", "-10.50 CHF"),
        (-1000, "krw", "-1,000 KRW"),
    ],
)
def test_negative_amounts_keep_their_sign_in_front(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


def test_the_currency_code_may_come_in_either_case() -> None:
    assert format_amount(1050, "USD") == format_amount(1050, "usd") == "$10.50"
    assert format_amount(500, "JPY") == "¥500"
    assert format_amount(1050, "Chf") == "10.50 CHF"


def test_the_largest_amount_is_shown_in_full() -> None:
    assert format_amount(MAX_AMOUNT, "usd") == "$999,999.99"
    assert format_amount(MAX_AMOUNT, "jpy") == "¥99,999,999"
    # Stripe's limit is eight digits of minor units.
    assert len(str(MAX_AMOUNT)) == 8
    assert len(str(MAX_AMOUNT + 1)) == 9


@pytest.mark.parametrize("currency", sorted(ZERO_DECIMAL))
def test_zero_decimal_currencies_show_whole_units(currency: str) -> None:
    assert decimals(currency) == 0
    assert decimals(currency.upper()) == 0
    shown = format_amount(1234, currency)
    assert "." not in shown
    assert "1,234" in shown


def test_zero_decimal_currencies_are_stripes_list() -> None:
    stripe_zero_decimal = {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }  # fmt: skip
    assert stripe_zero_decimal == ZERO_DECIMAL


@pytest.mark.parametrize("currency", ["usd", "eur", "gbp", "chf", "sek", "xyz"])
def test_other_currencies_have_two_decimals(currency: str) -> None:
    assert decimals(currency) == 2


@pytest.mark.parametrize("currency", sorted(THREE_DECIMAL))
def test_three_decimal_currencies_show_thousandths(currency: str) -> None:
    assert decimals(currency) == decimals(currency.upper()) == 3
    assert format_amount(1234, currency) == f"1.234 {currency.upper()}"


def test_stripes_currencies_are_lowercase_codes_with_every_special_one_among_them() -> None:
    assert all(len(code) == 3 and code.isalpha() and code.islower() for code in CURRENCIES)
    assert ZERO_DECIMAL <= CURRENCIES and THREE_DECIMAL <= CURRENCIES
    assert {"usd", "eur", "gbp", "jpy", "aud", "cad", "chf", "kwd"} <= CURRENCIES


@pytest.mark.parametrize("code", ["usd", "jpy", "kwd", "zmw"])
def test_a_currency_stripe_takes(code: str) -> None:
    assert is_currency(code)


@pytest.mark.parametrize("code", ["xyz", "USD", "Usd", "us", "usdx", "", "eur ", "xxx"])
def test_not_a_currency_stripe_takes(code: str) -> None:
    assert not is_currency(code)
