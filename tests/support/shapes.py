"""Compare an API object's shape (field names, JSON value types) with Stripe's own example."""

from __future__ import annotations

import json
import re
from typing import Any

_SCALARS: tuple[type, ...] = (bool, int, float, str)


def _brief(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Fields Stripe's API reference documents and sends only in some states, which its single
# example of the object happens to lack: an error's details on a declined PaymentIntent, and
# the ``account`` a Connect event names.
SOMETIMES_PRESENT = {
    "last_payment_error": {
        "charge",
        "code",
        "decline_code",
        "doc_url",
        "message",
        "payment_method",
    },
    "event": {"account"},
}


def _field_name(path: str) -> str:
    """``event(charge.succeeded)`` -> ``event``; ``a.last_payment_error`` -> the last name."""
    return re.sub(r"\(.*\)$", "", path).rsplit(".", 1)[-1]


def shape_differences(ours: Any, theirs: Any, path: str) -> list[str]:
    """Every way the shape of ``ours`` differs from Stripe's example ``theirs``, one per line.

    Where both are objects their key sets must be identical (a key missing from ours, or one
    Stripe's object lacks, is a difference), recursively; ``metadata`` contents are free-form
    and skipped. Where both are lists their first elements are compared. Where both are
    scalars their JSON types must match: an integer passes where Stripe shows a float, but a
    boolean never passes for an integer. A null on either side is allowed.
    """
    if ours is None or theirs is None:
        return []
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: {_brief(ours)} where Stripe has an object {_brief(theirs)}"]
        problems = [
            f"{path}.{k}: missing (Stripe's is {_brief(theirs[k])})"
            for k in theirs
            if k not in ours
        ]
        sometimes = SOMETIMES_PRESENT.get(_field_name(path), set())
        problems += [
            f"{path}.{k}: not in Stripe's object (ours is {_brief(ours[k])})"
            for k in ours
            if k not in theirs and k not in sometimes
        ]
        for key in theirs:
            if key not in ours or key == "metadata":
                continue
            problems += shape_differences(ours[key], theirs[key], f"{path}.{key}")
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{path}: {_brief(ours)} where Stripe has a list {_brief(theirs)}"]
        if theirs and ours:
            return shape_differences(ours[0], theirs[0], f"{path}[0]")
        return []
    their_kind = next(k for k in _SCALARS if isinstance(theirs, k))
    if their_kind is float and isinstance(ours, int) and not isinstance(ours, bool):
        return []
    if not isinstance(ours, their_kind) or (their_kind is int and isinstance(ours, bool)):
        return [
            f"{path}: {type(ours).__name__} {_brief(ours)} "
            f"where Stripe has {their_kind.__name__} {_brief(theirs)}"
        ]
    return []
