"""Selectors on the ``stripe`` channel: which events a subscriber sees, and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from qrcheckout.realtime.selector import MAX_LENGTH, SelectorError, parse

EVENT: dict[str, Any] = {
    "id": "evt_1",
    "object": "event",
    "type": "charge.succeeded",
    "created": 1721948530,
    "data": {
        "object": {
            "id": "ch_1",
            "object": "charge",
            "amount": 500,
            "amount_refunded": 0,
            "currency": "usd",
            "description": "Bob's order",
            "metadata": {"order_id": "ord_1"},
            "payment_intent": "pi_1",
            "status": "succeeded",
        }
    },
}


@pytest.mark.parametrize(
    "text",
    [
        "id = 'ch_1'",
        "id='ch_1'",
        "  id   =   'ch_1'  ",
        "event.type = 'charge.succeeded'",
        "event.id = 'evt_1'",
        "metadata.order_id = 'ord_1'",
        "amount = 500",
        "amount_refunded = 0",
        "status != 'failed'",
        "description = 'Bob''s order'",
        "id = 'ch_1' AND currency = 'usd'",
        "id = 'ch_2' OR payment_intent = 'pi_1'",
        "id = 'ch_1' and amount = 500",
        "id = 'ch_2' or amount = 500",
    ],
)
def test_selectors_that_match_the_event(text: str) -> None:
    assert parse(text).matches(EVENT)


@pytest.mark.parametrize(
    "text",
    [
        "id = 'ch_2'",
        "id = 'CH_1'",
        "event.type = 'charge.refunded'",
        "event.id = 'ch_1'",
        "type = 'charge.succeeded'",  # the charge has no type: event fields need ``event.``
        "metadata.order_id = 'ord_2'",
        "metadata.missing = 'ord_1'",
        "amount.value = 500",  # a path through something that is not an object
        "amount = 501",
        "amount = '500'",  # a string is not the number
        "status != 'succeeded'",
        "id = 'ch_1' AND currency = 'eur'",
        "id = 'ch_2' OR id = 'ch_3'",
    ],
)
def test_selectors_that_do_not_match_the_event(text: str) -> None:
    assert not parse(text).matches(EVENT)


def test_and_binds_tighter_than_or() -> None:
    # Read as ``A OR (B AND C)``; ``(A OR B) AND C`` would not match.
    assert parse("id = 'ch_1' OR id = 'ch_2' AND amount = 1").matches(EVENT)
    # Read as ``(A AND B) OR C``; ``A AND (B OR C)`` would match.
    assert not parse("id = 'ch_2' AND amount = 500 OR amount = 1").matches(EVENT)


def test_a_negative_number_matches_a_negative_value() -> None:
    event = {"id": "evt_2", "type": "x", "data": {"object": {"balance": -250}}}
    assert parse("balance = -250").matches(event)
    assert not parse("balance = 250").matches(event)


def test_an_event_without_data_matches_nothing_and_does_not_fail() -> None:
    bare = {"id": "evt_3", "type": "ping"}
    assert not parse("id = 'evt_3'").matches(bare)
    assert parse("event.id = 'evt_3'").matches(bare)


def test_a_selector_of_exactly_the_longest_length_is_read() -> None:
    prefix, suffix = "id = '", "'"
    text = prefix + "x" * (MAX_LENGTH - len(prefix) - len(suffix)) + suffix
    assert len(text) == MAX_LENGTH
    assert not parse(text).matches(EVENT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the selector is empty"),
        ("   ", "the selector is empty"),
        ("id = '" + "x" * MAX_LENGTH + "'", f"longer than {MAX_LENGTH} characters"),
        ("id", "expected: field = 'value'"),
        ("id =", "expected: field = 'value'"),
        ("id 'ch_1'", "expected: field = 'value'"),
        ("= 'ch_1'", "expected: field = 'value'"),
        ("id = ch_1", "expected: field = 'value'"),
        ("id == 'ch_1'", "expected: field = 'value'"),
        ("'ch_1' = id", "expected: field = 'value'"),
        ("id = 'ch_1' AND", "expected: field = 'value'"),
        ("id = 'ch_1' XOR id = 'ch_2'", "expected AND or OR, not 'XOR'"),
        ("id = 'ch_1' id = 'ch_2'", "expected AND or OR, not 'id'"),
        ("id = 'ch_1' 'ch_2'", "expected AND or OR, not 'ch_2'"),
        ("id = 'ch_1", "cannot read the selector at"),
        ('id = "ch_1"', "cannot read the selector at"),
        ("amount = 1.5", "cannot read the selector at '.5'"),
        ("amount > 100", "cannot read the selector at"),
        ("(id = 'ch_1')", "cannot read the selector at"),
    ],
)
def test_unreadable_selectors_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as refused:
        parse(text)
    assert message in str(refused.value)


def test_a_refusal_quotes_the_text_it_could_not_read() -> None:
    with pytest.raises(SelectorError) as refused:
        parse("amount = 100 AND currency >= 'usd'")
    assert ">= 'usd'" in str(refused.value)


def test_a_refusal_is_a_value_error() -> None:
    # Callers that guard user input with ``except ValueError`` also catch it.
    with pytest.raises(ValueError, match="empty"):
        parse("")
