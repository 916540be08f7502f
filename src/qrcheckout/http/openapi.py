"""The OpenAPI document as the service really answers: every error in its one shape
(``{"error": {"code", "message", ...}}``, not FastAPI's ``{"detail": [...]}``), the statuses any
route may answer, and the two credentials (a merchant's API key, a buyer's JWT)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable: what went wrong."},
                "message": {"type": "string", "description": "For people."},
                "field": {"type": "string", "description": "The input at fault, if one was."},
                "retry_after": {"type": "integer", "description": "With 429: seconds to wait."},
            },
            "additionalProperties": True,
        }
    },
    "example": {
        "error": {
            "code": "validation_error",
            "message": "items.0.quantity: Input should be greater than or equal to 1",
            "field": "items.0.quantity",
        }
    },
}
# What any route may answer besides its own success, in the one error shape.
ERRORS = {
    "400": "Malformed: a body that is not JSON, a control character in the query.",
    "401": "A credential was sent and refused (unknown, revoked or expired).",
    "403": "The caller may see this but not do it.",
    "404": "Not found, or not the caller's to know.",
    "409": "The state does not allow it (paid, ended, sold out, ...).",
    "422": "The input is invalid; `field` names it.",
    "429": "Rate limited: try again after `Retry-After` seconds.",
    "503": "The database or the bus cannot be reached: try again after `Retry-After` seconds.",
}
SECURITY_SCHEMES = {
    "merchantKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A merchant's API key (`qrcheckout keys create`), or the platform's.",
    },
    "buyerJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A buyer's JWT (HS256, RS256 or JWKS; Hasura's claims are read).",
    },
}
# Most routes take either credential, or none (a public read, an anonymous checkout).
SECURITY: list[dict[str, list[str]]] = [{}, {"merchantKey": []}, {"buyerJwt": []}]


def install(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _document(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    error = {"application/json": {"schema": {"$ref": ERROR}}}
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, why in ERRORS.items():
                responses[status] = {"description": why, "content": error}
            operation.setdefault("security", SECURITY)
    return doc
