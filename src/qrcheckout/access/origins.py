"""The web origins a merchant trusts: where buyers may be sent back to, and which browsers'
pages may call the API."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from qrcheckout.errors import Invalid

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lowercased and without a default port; None when it
    has none (not http or https, no host)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{shown_port}"


class RedirectOrigins:
    """Return URLs only to the service itself or to origins the merchant allowed."""

    def __init__(self, home_url: str, allowed: Iterable[str]) -> None:
        self.home_url = home_url
        self.origins = {o for o in (origin_of(u) for u in (home_url, *allowed)) if o}

    def check(self, field: str, url: object | None, default: str | None = None) -> str:
        if url is None:
            return default or self.home_url
        text = str(url)
        origin = origin_of(text)
        if origin is None or origin not in self.origins:
            raise Invalid(
                "redirect_not_allowed",
                f"{field}: {origin or text!r} is not an origin this merchant allows "
                "(its allowed_origins).",
                field=field,
            )
        return text
