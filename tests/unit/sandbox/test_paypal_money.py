"""PayPal's decimal strings read exactly into minor units and written back."""

from __future__ import annotations

import json

import pytest

from qrcheckout_sandbox.paypal import issues, money
from qrcheckout_sandbox.paypal.errors import PayPalError
from tests.support.paypal_spec import SHARED


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("10.50", "USD", 1050),
        ("0.01", "EUR", 1),
        ("10", "USD", 1000),
        ("10.5", "USD", 1050),
        (".5", "GBP", 50),
        ("1500", "JPY", 1500),
        ("999999999999999.99", "USD", 99999999999999999),
        ("12", "HUF", 12),
    ],
)
def test_a_value_is_read_exactly(value: str, currency: str, minor: int) -> None:
    amount = {"currency_code": currency, "value": value}
    assert money.read(amount, "/amount") == (minor, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [(1050, "USD", "10.50"), (5, "EUR", "0.05"), (1500, "JPY", "1500"), (0, "TWD", "0")],
)
def test_minor_units_are_written_as_paypal_writes_them(
    minor: int, currency: str, value: str
) -> None:
    assert money.to_value(minor, currency) == value
    assert money.read(money.money(minor, currency), "/amount") == (minor, currency)


def test_yen_take_no_decimals() -> None:
    with pytest.raises(PayPalError) as caught:
        money.read({"currency_code": "JPY", "value": "1500.5"}, "/amount")
    assert caught.value.status == 422 and caught.value.details[0].issue == "DECIMAL_PRECISION"
    with pytest.raises(PayPalError) as payments:
        money.read({"currency_code": "JPY", "value": "1.0"}, "/amount", payments=True)
    assert payments.value.details[0].issue == "DECIMALS_NOT_SUPPORTED"


def test_the_fee_is_never_more_than_the_payment() -> None:
    assert money.fee(2500, "USD") == 136  # 3.49% of $25.00 is 87.25 cents, +49
    assert money.fee(10, "USD") == 10


def test_the_issue_table_is_the_one_paypals_documents_give() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"PayPal's OpenAPI documents are not at {SHARED}")
    assert issues.build(SHARED) == json.loads(issues.TABLE.read_text())
