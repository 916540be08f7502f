"""What clients send, read so that a bad value is refused as such, never met deeper down.

Request bodies are ``Input`` models: no unknown fields, and no control character in any string
(PostgreSQL cannot store NUL, and no id, name or email holds one). A route that reads its body
itself parses it with ``parse_json``; currencies are ``Currency``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeGuard
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from qrcheckout.money import is_currency

# C0 controls but tab, newline and carriage return; DEL; lone surrogates (text with no UTF-8
# form, which no database stores either).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
NO_CONTROL_CHARACTERS = "control characters are not allowed"


# The same, and line breaks and tabs too: what no name, id or query parameter holds.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def is_one_line(text: str) -> bool:
    """No control character, line break or tab in ``text``."""
    return _NOT_ONE_LINE.search(text) is None


def is_name(value: Any, longest: int) -> TypeGuard[str]:
    """A non-empty string of at most ``longest`` printable characters (an id, a claim)."""
    return isinstance(value, str) and 0 < len(value) <= longest and value.isprintable()


def parse_json(data: bytes | str) -> Any:
    """``json.loads``; a document nested too deep to read raises ``ValueError`` like any other
    malformed one (``json`` itself raises ``RecursionError``)."""
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ValueError("the JSON document is nested too deeply") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        if has_control_characters(value):
            raise PydanticCustomError("control_characters", NO_CONTROL_CHARACTERS)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _plain(item)
    return value


class Input(BaseModel):
    """A request body: unknown fields refused, and every string (in lists too) free of control
    characters. Nested models are ``Input`` models as well."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _plain(value)


def _known_currency(code: str) -> str:
    if not is_currency(code):
        raise PydanticCustomError(
            "currency",
            "'{code}' is not a currency Stripe takes; give a lowercase ISO 4217 code such as 'usd'",
            {"code": code},
        )
    return code


def _lowercase(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


#: A currency Stripe takes, as Stripe writes it: ``"usd"``.
Currency = Annotated[str, AfterValidator(_known_currency)]
#: The same, also written in capitals (``"USD"``), as shop front-ends may send it; read lowercase.
AnyCaseCurrency = Annotated[str, BeforeValidator(_lowercase), AfterValidator(_known_currency)]


# An email as the service keeps it: lowercased, so a buyer's rows are found however it is typed.
Email = Annotated[EmailStr, AfterValidator(str.lower)]


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an https:// URL")
    return value


#: An image a page shows from another site: https only (the pages' CSP loads no other).
ImageUrl = Annotated[str, Field(max_length=2000), AfterValidator(_https_url)]


def _one_line(value: str) -> str:
    if not is_one_line(value):
        raise PydanticCustomError(
            "control_characters", "line breaks, tabs and control characters are not allowed"
        )
    return value


#: A name shown on one line (a shop's, a product's, a key's): mail headers and posters
#: carry it, so it holds no line break, tab or other control character.
OneLine = Annotated[str, AfterValidator(_one_line)]
