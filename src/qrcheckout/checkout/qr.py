"""QR codes for a token: its deep link, or a JSON payload for apps with their own scanner."""

from __future__ import annotations

import io
import json

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


def png(data: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
