"""Allowed origins: written as browsers send them, swapped whole."""

from __future__ import annotations

import pytest

from qrcheckout.http.cors import AllowedOrigins, origin_of


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://localhost:3000/", "http://localhost:3000"),
        ("HTTPS://Shop.Example:443/checkout?x=1", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        (" https://shop.example ", "https://shop.example"),
    ],
)
def test_origins_are_normalised(given: str, origin: str) -> None:
    assert origin_of(given) == origin


@pytest.mark.parametrize("given", ["*", "null", "shop.example", "ftp://shop.example", "http://"])
def test_what_is_no_origin_is_refused(given: str) -> None:
    with pytest.raises(ValueError):
        origin_of(given)


def test_allowed_origins_are_replaced_as_a_whole_beside_the_configured_ones() -> None:
    origins = AllowedOrigins(["http://localhost:3000/", "https://a.example"])
    assert origins.allows("http://localhost:3000") and origins.allows("https://a.example")
    assert not origins.allows("http://localhost:3001") and not origins.allows("null")
    origins.replace(["https://b.example", "https://c.example"])
    origins.replace(["https://b.example:443/"])
    assert list(origins) == ["http://localhost:3000", "https://a.example", "https://b.example"]
    assert not origins.allows("https://c.example")
    with pytest.raises(ValueError):
        origins.replace(["https://d.example", "*"])
    assert origins.allows("https://b.example")  # a bad list changes nothing
    assert not origins.allows("https://d.example")
