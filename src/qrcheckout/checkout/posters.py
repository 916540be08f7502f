"""A printable poster for a token's QR code (a café table's, a donation box's): the merchant's
name, "Scan to pay", the code, what it sells and its amount, on an A5 page; PNG or PDF
(Pillow draws both: one raster, 200 dots an inch, so the two print the same)."""

from __future__ import annotations

import io
import textwrap
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from qrcheckout.checkout import qr

# A5 portrait at 200 dpi.
WIDTH, HEIGHT = 1165, 1654
DPI = 200
MARGIN = 90
DEFAULT_ACCENT = "#2f6f4f"
INK = "#1f2328"
MUTED = "#6b6257"


def png(url: str, merchant: str, amount: str, caption: str, accent: str | None) -> bytes:
    return _save(_draw(url, merchant, amount, caption, accent), "PNG")


def pdf(url: str, merchant: str, amount: str, caption: str, accent: str | None) -> bytes:
    return _save(_draw(url, merchant, amount, caption, accent), "PDF")


def _draw(url: str, merchant: str, amount: str, caption: str, accent: str | None) -> Image.Image:
    page = Image.new("RGB", (WIDTH, HEIGHT), "white")
    pen = ImageDraw.Draw(page)
    colour = accent or DEFAULT_ACCENT
    pen.rectangle((0, 0, WIDTH, 210), fill=colour)
    _centred(pen, _fit(pen, merchant, 86, WIDTH - 2 * MARGIN), 60, "white", 86)
    _centred(pen, "Scan to pay", 270, INK, 72)
    room = WIDTH - 2 * 150
    modules = qr.modules(url)
    code = Image.open(io.BytesIO(qr.png(url, scale=max(1, room // modules)))).convert("RGB")
    side = code.width
    top = 390
    page.paste(code, ((WIDTH - side) // 2, top))
    y = top + side + 40
    _centred(pen, amount, y, INK, 96)
    y += 130
    for line in textwrap.wrap(" ".join(caption.split()), 40)[:3]:
        _centred(pen, line, y, MUTED, 44)
        y += 58
    _centred(pen, _fit(pen, url, 28, WIDTH - 2 * MARGIN), HEIGHT - 80, MUTED, 28)
    return page


# Shipped with the package: names and items in any Latin, Greek or Cyrillic script print.
FONT = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def _fit(pen: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """``text`` on one line, cut short with an ellipsis where it would not fit ``width``."""
    text = " ".join(text.split())
    font = _font(size)
    if pen.textlength(text, font=font) <= width:
        return text
    while text and pen.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _centred(pen: ImageDraw.ImageDraw, text: str, y: int, fill: str, size: int) -> None:
    font = _font(size)
    pen.text(((WIDTH - pen.textlength(text, font=font)) / 2, y), text, fill=fill, font=font)


def _save(page: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "PDF":
        page.save(out, kind, resolution=DPI)
    else:
        page.save(out, kind, dpi=(DPI, DPI))
    return out.getvalue()
