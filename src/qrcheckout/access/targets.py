"""Where a merchant's webhooks may go: public http(s) hosts only, not this machine or its network.

A merchant sets its own ``webhook_urls`` and reads every delivery's answer back, so a URL at a
private address would let it probe the operator's network (loopback ports, the cloud metadata
service at 169.254.169.254, hosts on the LAN). Such URLs are refused when saved (IP literals and
``localhost``) and again when sent (the host name as resolved then).
``QRCHECKOUT_MERCHANT_WEBHOOKS_PRIVATE_OK`` lifts both for development; the operator's own
``QRCHECKOUT_MERCHANT_WEBHOOK_URLS`` are trusted and never checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from qrcheckout.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = frozenset({"http", "https"})
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (the well-known NAT64 prefix).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_private(address: IPAddress) -> bool:
    """Not a public unicast address: loopback, private, link-local, shared, reserved,
    multicast or unspecified, also when an IPv4 one is wrapped in IPv6 (``::ffff:127.0.0.1``,
    6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_private(embedded):
            return True
    return not address.is_global or address.is_multicast


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def refusal(url: str) -> str | None:
    """Why ``url`` may not be a merchant's webhook endpoint as written, or None. Host names are
    judged by their spelling only here (``localhost``); see ``resolves_privately``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        return f"{url!r}: only http and https URLs can receive webhooks"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return f"{url!r} has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return f"{url!r} points at this machine (localhost); use a public address"
    address = _literal(host)
    if address is not None and is_private(address):
        return f"{url!r} points at a private, loopback or reserved address; use a public one"
    return None


def check_webhook_urls(urls: list[str]) -> None:
    """Refuse (422 ``webhook_url_not_allowed``) the first URL a merchant may not send to."""
    for url in urls:
        why = refusal(url)
        if why is not None:
            raise Invalid("webhook_url_not_allowed", why, field="webhook_urls")


async def resolves_privately(url: str) -> str | None:
    """Why sending to ``url`` now is refused (its host resolves to a private address, or is
    one), or None. Every address the name resolves to must be public."""
    why = refusal(url)
    if why is not None:
        return "refused: " + why
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        return f"refused: cannot resolve {host!r} ({exc})"
    for _family, _type, _proto, _name, sockaddr in infos:
        address = _literal(str(sockaddr[0]).split("%", 1)[0])
        if address is None or is_private(address):
            return f"refused: {host!r} resolves to a private address ({sockaddr[0]})"
    return None
