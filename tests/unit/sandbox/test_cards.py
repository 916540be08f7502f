"""What the hosted page accepts as a card, and what a card shows of itself."""

from __future__ import annotations

from datetime import date

import pytest

from qrcheckout_sandbox.cards import Card, CardInputError, luhn_ok, parse_card, present
from qrcheckout_sandbox.cards import test_card as magic_card

TODAY = date(2030, 6, 15)
VISA = "4242424242424242"
KEY = b"k" * 32


def _card(number: str, exp_month: int = 12, exp_year: int = 2034) -> Card:
    return present(number, exp_month, exp_year, KEY)


def _refusal(number: str, expiry: str = "12/34", cvc: str = "123") -> tuple[str, str]:
    with pytest.raises(CardInputError) as error:
        parse_card(number, expiry, cvc, TODAY, KEY)
    return error.value.field, error.value.message


def test_a_typed_card_is_read_with_spaces_and_dashes_removed() -> None:
    card = parse_card("4242 4242-4242 4242", "12 / 34", " 123 ", TODAY, KEY)
    assert card == _card("4242424242424242", 12, 2034)


def test_a_four_digit_year_and_a_four_digit_cvc_are_taken() -> None:
    card = parse_card("378282246310005", "01/2031", "1234", TODAY, KEY)
    assert (card.exp_month, card.exp_year, card.last4, card.brand) == (1, 2031, "0005", "amex")


def test_this_month_is_still_valid() -> None:
    assert parse_card("4242424242424242", "06/30", "123", TODAY, KEY).exp_year == 2030


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
    assert _card(number).brand == brand


def test_stripes_test_numbers_decline_as_documented() -> None:
    assert _card("4242424242424242").decline is None
    decline = _card("4000000000009995").decline
    assert decline is not None
    assert (decline.code, decline.decline_code) == ("card_declined", "insufficient_funds")


def test_a_declining_card_keeps_its_behaviour_not_its_number() -> None:
    card = parse_card("4000 0000 0000 0002", "12/34", "987", TODAY, KEY)
    kept = card.kept()
    assert kept["decline_code"] == "generic_decline"
    assert "4000000000000002" not in str(kept) and "987" not in str(kept)
    again = Card.from_kept(kept)
    assert again == card and again.decline is not None
    assert again.decline.message == "Your card was declined."


def test_what_a_card_shows_and_keeps_never_includes_its_number_or_cvc() -> None:
    card = parse_card("4000056655665556", "03/31", "987", TODAY, KEY)
    shown = card.as_dict()
    assert shown == {
        "brand": "visa",
        "last4": "5556",
        "exp_month": 3,
        "exp_year": 2031,
        "fingerprint": card.fingerprint,
        "funding": "debit",
    }
    assert card.kept() == shown | {"country": "US", "decline_code": None}
    assert not hasattr(card, "number") and not hasattr(card, "cvc")
    assert "4000056655665556" not in str(card) and "987" not in str(card.kept())


def test_the_fingerprint_is_stable_per_number_and_keyed() -> None:
    a = _card("4242424242424242", 1, 2031).fingerprint
    assert a == _card("4242424242424242", 12, 2040).fingerprint
    assert a != _card("5555555555554444", 1, 2031).fingerprint
    # Without the key, nobody can try every number that ends the same way.
    assert a != present("4242424242424242", 1, 2031, b"another key").fingerprint
    assert len(a) == 16


def test_magic_test_cards_by_suffix() -> None:
    card = magic_card("visa", TODAY, KEY)
    assert card is not None
    assert card == _card("4242424242424242", 12, 2035)
    declined = magic_card("chargeDeclined", TODAY, KEY)
    assert declined is not None and declined.decline_code == "generic_decline"
    assert magic_card("nonsense", TODAY, KEY) is None
