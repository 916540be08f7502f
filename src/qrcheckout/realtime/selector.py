"""Selectors for the ``stripe`` channel: ``id = 'ch_1' OR charge = 'ch_1' AND type = 'x'``.

Paths name fields of the event's ``data.object`` (``metadata.order_id``); ``event.type`` and
``event.id`` name the event's own. ``AND`` binds tighter than ``OR``; there are no brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 1000
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
      | (?P<op>!=|=)
      | '(?P<string>(?:[^']|'')*)'
      | (?P<number>-?\d+)
    )""",
    re.VERBOSE,
)


class SelectorError(ValueError):
    """A selector that cannot be read."""


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    negate: bool
    value: str | int

    def matches(self, event: dict[str, Any]) -> bool:
        node: Any = event if self.path[0] == "event" else (event.get("data") or {}).get("object")
        for part in self.path[1:] if self.path[0] == "event" else self.path:
            node = node.get(part) if isinstance(node, dict) else None
        return bool(node == self.value) != self.negate


@dataclass(frozen=True)
class Selector:
    any_of: tuple[tuple[Clause, ...], ...]

    def matches(self, event: dict[str, Any]) -> bool:
        return any(all(c.matches(event) for c in group) for group in self.any_of)


def parse(text: str) -> Selector:
    if not text.strip():
        raise SelectorError("the selector is empty")
    if len(text) > MAX_LENGTH:
        raise SelectorError(f"the selector is longer than {MAX_LENGTH} characters")
    tokens = _tokens(text)
    groups: list[tuple[Clause, ...]] = []
    group: list[Clause] = []
    position = 0
    while True:
        if position + 3 > len(tokens):
            raise SelectorError("expected: field = 'value'")
        (kind_p, path), (kind_o, op), (kind_v, value) = tokens[position : position + 3]
        if kind_p != "path" or kind_o != "op" or kind_v not in ("string", "number"):
            raise SelectorError("expected: field = 'value'")
        group.append(Clause(tuple(path.split(".")), op == "!=", value))
        position += 3
        if position == len(tokens):
            break
        kind, joiner = tokens[position]
        if kind != "path" or joiner.upper() not in ("AND", "OR"):
            raise SelectorError(f"expected AND or OR, not {joiner!r}")
        if joiner.upper() == "OR":
            groups.append(tuple(group))
            group = []
        position += 1
    groups.append(tuple(group))
    return Selector(tuple(groups))


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SelectorError(f"cannot read the selector at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "string":
            value = value.replace("''", "'")
        elif kind == "number":
            value = int(value)
        tokens.append((kind, value))
        position = match.end()
    return tokens
