"""What the hosted page accepts as a card, and what a card shows of itself."""

from __future__ import annotations

from datetime import date

import pytest

from qrcheckout_sandbox.cards import Card, CardInputError, luhn_ok, parse_card
from qrcheckout_sandbox.cards import test_card as magic_card

TODAY = date(2030, 6, 15)
VISA = "4242424242424242"


def _refusal(number: str, expiry: str = "12/34", cvc: str = "123") -> tuple[str, str]:
    with pytest.raises(CardInputError) as error:
        parse_card(number, expiry, cvc, TODAY)
    return error.value.field, error.value.message


def test_a_typed_card_is_read_with_spaces_and_dashes_removed() -> None:
    card = parse_card("4242 4242-4242 4242", "12 / 34", " 123 ", TODAY)
    assert card == Card("4242424242424242", 12, 2034, "123")


def test_a_four_digit_year_and_a_four_digit_cvc_are_taken() -> None:
    card = parse_card("378282246310005", "01/2031", "1234", TODAY)
    assert (card.exp_month, card.exp_year, card.cvc, card.brand) == (1, 2031, "1234", "amex")


def test_this_month_is_still_valid() -> None:
    assert parse_card("4242424242424242", "06/30", "123", TODAY).exp_year == 2030


@pytest.mark.parametrize(
    ("number", "expiry", "cvc", "field", "message"),
    [
        ("", "12/34", "123", "number", "Your card number is incomplete."),
        ("4242 4242 4242 4241", "12/34", "123", "number", "Your card number is invalid."),
        ("4242abcd42424242", "12/34", "123", "number", "Your card number is invalid."),
        ("42424242424", "12/34", "123", "number", "Your card number is invalid."),
        (VISA, "1/3", "123", "expiry", "Your card's expiration date is incomplete."),
        (VISA, "13/34", "123", "expiry", "Your card's expiration date is invalid."),
        (VISA, "05/30", "123", "expiry", "Your card's expiration year is in the past."),
        (VISA, "12/34", "12", "cvc", "Your card's security code is incomplete."),
        (VISA, "12/34", "12a", "cvc", "Your card's security code is incomplete."),
    ],
)
def test_bad_input_names_its_field(
    number: str, expiry: str, cvc: str, field: str, message: str
) -> None:
    assert _refusal(number, expiry, cvc) == (field, message)


def test_luhn() -> None:
    assert luhn_ok("4242424242424242")
    assert luhn_ok("5555555555554444")
    assert not luhn_ok("4242424242424241")


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("3056930009020004", "unknown"),
    ],
)
def test_brand_comes_from_the_prefix(number: str, brand: str) -> None:
    assert Card(number, 12, 2034, "123").brand == brand


def test_stripes_test_numbers_decline_as_documented() -> None:
    assert Card("4242424242424242", 12, 2034, "123").decline is None
    decline = Card("4000000000009995", 12, 2034, "123").decline
    assert decline is not None
    assert (decline.code, decline.decline_code) == ("card_declined", "insufficient_funds")


def test_what_a_card_shows_never_includes_its_number_or_cvc() -> None:
    card = Card("4000056655665556", 3, 2031, "987")
    shown = card.as_dict()
    assert shown == {
        "brand": "visa",
        "last4": "5556",
        "exp_month": 3,
        "exp_year": 2031,
        "fingerprint": card.fingerprint,
        "funding": "debit",
    }
    assert "4000056655665556" not in str(shown) and "987" not in str(shown)


def test_the_fingerprint_is_stable_per_number() -> None:
    a = Card("4242424242424242", 1, 2031, "111").fingerprint
    assert a == Card("4242424242424242", 12, 2040, "999").fingerprint
    assert a != Card("5555555555554444", 1, 2031, "111").fingerprint


def test_magic_test_cards_by_suffix() -> None:
    card = magic_card("visa", TODAY)
    assert card is not None
    assert (card.number, card.exp_year) == ("4242424242424242", 2035)
    assert magic_card("chargeDeclined", TODAY) is not None
    assert magic_card("nonsense", TODAY) is None
