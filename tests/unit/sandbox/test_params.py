"""Reading form parameters: each bad one refused with Stripe's error naming it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.objects import StripeAPIError


def _refused(read: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(StripeAPIError) as error:
        read()
    assert error.value.status == 400
    return error.value.body


def test_integer_reads_digits_within_bounds() -> None:
    assert p.integer({"n": "42"}, "n") == 42
    assert p.integer({"n": "-3"}, "n", low=-5) == -3
    assert p.integer({}, "n") is None
    assert p.integer({"n": ""}, "n") is None


def test_integer_refusals_name_the_param() -> None:
    body = _refused(lambda: p.integer({}, "amount", required=True))
    assert (body["code"], body["param"]) == ("parameter_missing", "amount")
    assert body["message"] == "Missing required param: amount."
    body = _refused(lambda: p.integer({"q": "1.5"}, "q", param="line_items[0][quantity]"))
    assert (body["code"], body["param"]) == ("parameter_invalid", "line_items[0][quantity]")
    assert _refused(lambda: p.integer({"n": {"a": "1"}}, "n"))["param"] == "n"
    body = _refused(lambda: p.integer({"n": "11"}, "n", low=1, high=10))
    assert body["message"] == "Invalid n: must be between 1 and 10."


def test_amount_defaults_to_zero_when_optional() -> None:
    assert p.amount({"amount": "100"}, "amount") == 100
    assert p.amount({}, "amount", required=False) == 0
    assert _refused(lambda: p.amount({"amount": "-1"}, "amount"))["param"] == "amount"
    assert _refused(lambda: p.amount({}, "amount"))["code"] == "parameter_missing"


def test_boolean() -> None:
    assert p.boolean({"capture": "true"}, "capture") is True
    assert p.boolean({"capture": "false"}, "capture", True) is False
    assert p.boolean({}, "capture", True) is True
    assert p.boolean({"capture": ""}, "capture") is False
    assert _refused(lambda: p.boolean({"capture": "yes"}, "capture"))["param"] == "capture"


def test_text() -> None:
    assert p.text({"name": "Tea"}, "name") == "Tea"
    assert p.text({"name": ""}, "name") is None
    assert _refused(lambda: p.text({}, "name", required=True))["code"] == "parameter_missing"
    assert _refused(lambda: p.text({"name": ["a"]}, "name"))["param"] == "name"
    body = _refused(lambda: p.text({}, "name", required=True, param="product_data[name]"))
    assert body["param"] == "product_data[name]"


def test_choice() -> None:
    options = ("automatic", "manual")
    assert p.choice({}, "capture_method", options, "automatic") == "automatic"
    assert p.choice({"capture_method": "manual"}, "capture_method", options, "automatic") == (
        "manual"
    )
    body = _refused(lambda: p.choice({"capture_method": "x"}, "capture_method", options, "manual"))
    assert body["message"] == "Invalid capture_method: must be one of automatic, manual"


def test_currency_is_lowercased_and_checked() -> None:
    assert p.currency({"currency": "JPY"}) == "jpy"
    assert _refused(lambda: p.currency({"currency": "xyz"}))["message"].startswith(
        "Invalid currency: xyz."
    )
    body = _refused(lambda: p.currency({}, param="price_data[currency]"))
    assert (body["code"], body["param"]) == ("parameter_missing", "price_data[currency]")


def test_metadata_merges_removes_and_clears() -> None:
    current = {"a": "1", "b": "2"}
    assert p.metadata({}, current) == current
    assert p.metadata({"metadata": {"b": "", "c": 3}}, current) == {"a": "1", "c": "3"}
    assert p.metadata({"metadata": ""}, current) == {}
    assert current == {"a": "1", "b": "2"}  # not changed in place


def test_metadata_refusals() -> None:
    assert _refused(lambda: p.metadata({"metadata": "x"}))["param"] == "metadata"
    assert _refused(lambda: p.metadata({"metadata": {"a": {"b": "c"}}}))["param"] == "metadata"
    too_many = {"metadata": {f"k{i}": "v" for i in range(51)}}
    assert _refused(lambda: p.metadata(too_many))["message"] == (
        "Metadata can have at most 50 keys."
    )


def test_strings() -> None:
    assert p.strings({}, "expand") == []
    assert p.strings({"expand": "customer"}, "expand") == ["customer"]
    assert p.strings({"expand": ["a", "b"]}, "expand") == ["a", "b"]
    assert _refused(lambda: p.strings({"expand": {"0": "a"}}, "expand"))["param"] == "expand"
    assert _refused(lambda: p.strings({"expand": ["a", {"b": "c"}]}, "expand"))["param"] == (
        "expand"
    )


def test_url() -> None:
    assert p.url({"u": "https://shop.test/ok?x=1"}, "u") == "https://shop.test/ok?x=1"
    assert p.url({}, "u") is None
    for bad in ("ftp://shop.test/", "shop.test/ok", "https://"):
        assert _refused(partial(p.url, {"u": bad}, "u"))["param"] == "u"
    assert _refused(lambda: p.url({}, "u", required=True))["code"] == "parameter_missing"


def test_nested() -> None:
    assert p.nested({}, "card") == {}
    assert p.nested({"card": ""}, "card") == {}
    assert p.nested({"card": {"number": "4242"}}, "card") == {"number": "4242"}
    assert _refused(lambda: p.nested({"card": "tok"}, "card"))["param"] == "card"
