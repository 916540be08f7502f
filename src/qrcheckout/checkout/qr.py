"""QR codes for a token: its deep link, or a JSON payload for apps with their own scanner.

A code is a pure function of its text, and rendering one costs about 10 ms of CPU (most of it
choosing the mask), so the last ``CACHED`` renderings are kept: a code shown on a desktop, a
poster or a receipt is drawn once.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache

import segno

from qrcheckout.checkout.schemas import TokenOut


def payload(token: TokenOut, kind: str) -> str:
    if kind == "json":
        return json.dumps(
            {
                "token": token.id,
                "url": token.url,
                "amount_total": token.amount_total,
                "currency": token.currency,
            },
            separators=(",", ":"),
        )
    return token.url


CACHED = 1024


@lru_cache(maxsize=CACHED)
def svg(data: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", scale=scale, border=2, xmldecl=False, omitsize=True
    )
    return buffer.getvalue()


def modules(data: str) -> int:
    """How many modules wide ``data``'s code is, its border included."""
    width, _ = segno.make(data, error="m").symbol_size(scale=1, border=2)
    return int(width)


@lru_cache(maxsize=CACHED)
def png(data: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
