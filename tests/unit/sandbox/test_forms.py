"""Stripe's form encoding decoded: nested hashes, indexed and appended arrays, refusals."""

from __future__ import annotations

import pytest

from qrcheckout_sandbox.forms import FormError, decode


def test_flat_pairs_are_strings_and_blanks_are_kept() -> None:
    assert decode("amount=500&currency=usd&description=") == {
        "amount": "500",
        "currency": "usd",
        "description": "",
    }


def test_an_empty_body_is_an_empty_hash() -> None:
    assert decode("") == {}


def test_brackets_nest_hashes() -> None:
    assert decode("metadata[order]=42&metadata[note]=hi%20there") == {
        "metadata": {"order": "42", "note": "hi there"}
    }


def test_numeric_keys_make_lists_in_index_order() -> None:
    body = (
        "line_items[1][price]=price_b&line_items[0][price]=price_a"
        "&line_items[0][quantity]=2&line_items[10][price]=price_k"
    )
    assert decode(body) == {
        "line_items": [
            {"price": "price_a", "quantity": "2"},
            {"price": "price_b"},
            {"price": "price_k"},
        ]
    }


def test_deep_nesting_mixes_lists_and_hashes() -> None:
    body = "line_items[0][price_data][product_data][images][0]=https%3A%2F%2Fx.test%2Fa.png"
    assert decode(body) == {
        "line_items": [{"price_data": {"product_data": {"images": ["https://x.test/a.png"]}}}]
    }


def test_empty_brackets_append() -> None:
    assert decode("expand[]=customer&expand[]=latest_charge") == {
        "expand": ["customer", "latest_charge"]
    }


def test_a_hash_with_some_numeric_keys_stays_a_hash() -> None:
    assert decode("metadata[1]=a&metadata[x]=b") == {"metadata": {"1": "a", "x": "b"}}


def test_a_value_used_as_a_hash_is_refused() -> None:
    with pytest.raises(FormError) as error:
        decode("metadata=plain&metadata[key]=value")
    assert error.value.param == "metadata[key]"
