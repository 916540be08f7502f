"""PayPal's error bodies: ``name``, ``message``, ``debug_id``, ``details[]`` with ``issue``; each
issue described as PayPal's documents describe it for the operation answering."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from qrcheckout_sandbox.paypal.issues import describe

INFO = "https://developer.paypal.com/docs/api/orders/v2/#error-"

#: Each HTTP status PayPal answers with an error, with its ``name`` and ``message``.
NAMES: dict[int, tuple[str, str]] = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    401: (
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to missing authorization header, or invalid authentication "
        "credentials.",
    ),
    403: ("NOT_AUTHORIZED", "Authorization failed due to insufficient permissions."),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    405: ("METHOD_NOT_SUPPORTED", "The server does not implement the requested HTTP method."),
    409: (
        "RESOURCE_CONFLICT",
        "The server has detected a conflict while processing this request.",
    ),
    415: (
        "UNSUPPORTED_MEDIA_TYPE",
        "The server does not support the request payload's media type.",
    ),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
    ),
}


@dataclass(frozen=True)
class Detail:
    """One ``details[]`` entry: the ``issue`` code, and where (``field``, a JSON pointer)."""

    issue: str
    description: str
    field: str | None = None
    value: str | None = None
    location: str = "body"

    def as_dict(self, operation: str | None, status: int) -> dict[str, Any]:
        description = (describe(operation, status, self.issue) if operation else None) or (
            self.description
        )
        out: dict[str, Any] = {}
        if self.field is not None:
            out["field"] = self.field
            if self.value is not None:
                out["value"] = self.value
            out["location"] = self.location
        return out | {"issue": self.issue, "description": description}


class PayPalError(Exception):
    """An error answered in PayPal's shape, with the HTTP ``status`` it goes with."""

    def __init__(self, status: int, *details: Detail, message: str | None = None) -> None:
        name, default = NAMES[status]
        super().__init__(message or default)
        self.status = status
        self.name = name
        self.message = message or default
        self.details = details

    def body(self, operation: str | None = None) -> dict[str, Any]:
        """The error as ``operation`` (``"POST /v2/checkout/orders"``) answers it."""
        body: dict[str, Any] = {
            "name": self.name,
            "message": self.message,
            "debug_id": secrets.token_hex(7),
        }
        if self.details:
            body["details"] = [d.as_dict(operation, self.status) for d in self.details]
            body["links"] = [
                {"href": INFO + self.details[0].issue, "rel": "information_link", "method": "GET"}
            ]
        return body


def invalid(
    issue: str, description: str, field: str, value: Any = None, location: str = "body"
) -> PayPalError:
    """400 INVALID_REQUEST for a request that breaks the schema at ``field``."""
    shown = None if value is None else str(value)[:100]
    return PayPalError(400, Detail(issue, description, field, shown, location))


def malformed(field: str, value: Any = None) -> PayPalError:
    """400 for a value not in the field's format."""
    return invalid(
        "INVALID_PARAMETER_SYNTAX",
        "The value of a field does not conform to the expected format.",
        field,
        value,
    )


def missing(field: str) -> PayPalError:
    return invalid("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing.", field)


def unprocessable(issue: str, description: str, field: str | None = None) -> PayPalError:
    """422 UNPROCESSABLE_ENTITY: well formed, but against a business rule."""
    return PayPalError(422, Detail(issue, description, field))


def not_found(what: str = "resource") -> PayPalError:
    return PayPalError(
        404,
        Detail(
            "INVALID_RESOURCE_ID",
            f"Specified {what} ID does not exist. Please check the {what} ID and try again.",
        ),
    )
