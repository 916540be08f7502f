"""The sandbox's pay page shows an amount in its currency's own form."""

from __future__ import annotations

import pytest

from qrcheckout_sandbox.money import display


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1050, "usd", "$10.50"),
        (500, "jpy", "¥500"),
        (1050, "CHF", "10.50 CHF"),
        (1250, "kwd", "1.250 KWD"),
        (5, "BHD", "0.005 BHD"),
        (-2500, "tnd", "-2.500 TND"),
        (123456, "jod", "123.456 JOD"),
        (1000, "omr", "1.000 OMR"),
    ],
)
def test_amounts_read_as_people_write_them(amount: int, currency: str, shown: str) -> None:
    assert display(amount, currency) == shown
