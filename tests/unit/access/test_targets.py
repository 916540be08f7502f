"""Where merchants' webhooks may go: public addresses only, as written and as resolved."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest
from pydantic import ValidationError

from qrcheckout.access.schemas import MerchantSettings
from qrcheckout.access.targets import check_webhook_urls, is_private, refusal, resolves_privately
from qrcheckout.errors import Invalid

PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.5",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 wrapping 169.254.169.254
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]

REFUSED_URLS = [
    "http://127.0.0.1:1/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:8123/x",
    "http://LOCALHOST./x",
    "http://api.localhost/x",
    "http://[::1]:8080/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://10.1.2.3/x",
    "http://2130706433/x",  # 127.0.0.1 in decimal
    "http://0x7f.1/x",  # and in hex
    "http://017700000001/x",  # and in octal
    "http://127.1/x",
    "http://0/x",
    "http://[fe80::1]/x",
]


@pytest.mark.parametrize("address", PRIVATE)
def test_private_loopback_reserved_and_wrapped_addresses_are_private(address: str) -> None:
    assert is_private(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not(address: str) -> None:
    assert not is_private(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_private_urls_are_refused_as_the_url_parser_normalises_them(url: str) -> None:
    # Parsed as the API parses them: decimal, hex and octal hosts become dotted quads.
    (parsed,) = MerchantSettings(webhook_urls=[url]).changes()["webhook_urls"]  # type: ignore[misc]
    assert refusal(str(parsed)) is not None, parsed
    with pytest.raises(Invalid) as refused:
        check_webhook_urls(["https://hooks.example.com/ok", str(parsed)])
    assert refused.value.code == "webhook_url_not_allowed"
    assert refused.value.field == "webhook_urls"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x.io/"])
def test_only_http_and_https_are_taken(url: str) -> None:
    assert refusal(url) is not None
    with pytest.raises(ValidationError):
        MerchantSettings(webhook_urls=[url])


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/qrcheckout", "http://93.184.216.34:8080/x", "https://x.io"]
)
def test_public_urls_are_taken(url: str) -> None:
    assert refusal(url) is None


def _resolving(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str] | None]) -> list[str]:
    """Name resolution answering from ``table`` (None: the name does not resolve)."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        found = table[host]
        if found is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in found
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_is_refused_when_any_address_it_resolves_to_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _resolving(
        monkeypatch,
        {
            "hooks.shop.example": ["93.184.216.34"],
            "rebind.example": ["93.184.216.34", "127.0.0.1"],
            "mapped.example": ["::ffff:10.0.0.1"],
            "scoped.example": ["fe80::1%eth0"],
            "metadata.example": ["169.254.169.254"],
            "gone.example": None,
        },
    )

    def check(url: str) -> str | None:
        return asyncio.run(resolves_privately(url))

    assert check("https://hooks.shop.example/qr") is None
    assert check("http://hooks.shop.example:8080/qr") is None
    for name in ("rebind.example", "mapped.example", "scoped.example", "metadata.example"):
        why = check(f"https://{name}/hook")
        assert why is not None and why.startswith("refused:"), name
        assert "resolves to a private address" in why
    unknown = check("https://gone.example/hook")
    assert unknown is not None and unknown.startswith("refused: cannot resolve")
    # A literal is judged as written, without asking the resolver.
    literal = check("http://127.0.0.1:9/x")
    assert literal is not None and literal.startswith("refused:")
    assert "127.0.0.1" not in asked
