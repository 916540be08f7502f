"""Errors as Hasura words them: ``{"message", "extensions": {"path", "code"}}``, with Hasura's
codes; the product's own code rides along as ``extensions.reason``."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError

from qrcheckout import errors
from qrcheckout.http.errors import outage

log = logging.getLogger(__name__)

VALIDATION_FAILED = "validation-failed"

_CODES: tuple[tuple[type[errors.DomainError], str], ...] = (
    (errors.Forbidden, "permission-error"),
    (errors.NotFound, "not-exists"),
    (errors.Conflict, "constraint-violation"),
    (errors.Gone, "constraint-violation"),
    (errors.Invalid, VALIDATION_FAILED),
    (errors.Malformed, VALIDATION_FAILED),
    (errors.RateLimited, "rate-limit-exceeded"),
    (errors.PaymentDeclined, "payment-declined"),
    (errors.NotConfigured, "not-supported"),
)


def hasura_code(error: errors.DomainError) -> str:
    """Hasura's code for a domain error."""
    if isinstance(error, errors.Unauthenticated):
        return "invalid-jwt" if error.code == "invalid_token" else "access-denied"
    if isinstance(error, errors.Forbidden) and error.code in ("role_not_allowed", "unknown_role"):
        return "access-denied"
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return "unexpected"


def hasura_error(message: str, code: str, path: str = "$", **more: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"path": path, "code": code, **more}}


def domain_error(error: errors.DomainError, path: str = "$") -> dict[str, Any]:
    more: dict[str, Any] = {"reason": error.code}
    if error.field:
        more["field"] = error.field
    if isinstance(error, errors.RateLimited):
        more["retry_after"] = error.retry_after
    return hasura_error(error.message, hasura_code(error), path, **more)


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Ariadne's error formatter: every error of a result in Hasura's shape."""
    path = "$" + "".join(
        f"[{part}]" if isinstance(part, int) else f".selectionSet.{part}"
        for part in error.path or ()
    )
    original = error.original_error
    if isinstance(original, errors.DomainError):
        return domain_error(original, path)
    if isinstance(original, ValidationError):
        try:
            first = original.errors(include_url=False, include_input=False, include_context=False)[
                0
            ]
        except UnicodeError:  # a message quoting a lone surrogate cannot even be rendered
            return hasura_error(
                "The input holds a character that is not text.", VALIDATION_FAILED, path
            )
        where = ".".join(str(part) for part in first["loc"])
        message = f"{where}: {first['msg']}" if where else first["msg"]
        # A lone surrogate in the input can make its way into the message: keep it sendable.
        message = message.encode("utf-8", "replace").decode()
        return hasura_error(message, VALIDATION_FAILED, path)
    if error.path is None and (original is None or isinstance(original, ValueError | TypeError)):
        # Parsing, validation and variable coercion (a scalar that does not parse included):
        # the query itself is at fault.
        return hasura_error(error.message, VALIDATION_FAILED, path)
    down = outage(original) if original is not None else None
    if down is not None:
        return domain_error(down, path)
    if original is not None:
        log.error("GraphQL resolver failed at %s", path, exc_info=original)
        return hasura_error("An unexpected error happened; it was logged.", "unexpected", path)
    return hasura_error(error.message, VALIDATION_FAILED, path)
