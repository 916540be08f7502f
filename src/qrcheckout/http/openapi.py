"""The OpenAPI document as the service really answers: every error in its one shape
(``{"error": {"code", "message", ...}}``, not FastAPI's ``{"detail": [...]}``), the statuses any
route may answer, and the two credentials (a merchant's API key, a buyer's JWT)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from qrcheckout.checkout.sessions import SessionCreate
from qrcheckout.orders.schemas import RefundCreate

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
# What some routes answer besides those: a provider that fails or waits, a checkout that ended.
EXTRA_ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/v1/orders/{order_id}/charge"): {
        "402": "The payment is pending at the provider (`payment_pending`); the order waits.",
        "502": "The payment provider failed or could not be reached.",
    },
    ("post", "/services/Stripe/charge"): {
        "402": "The card needs the buyer's action (`payment_incomplete`).",
        "502": "The payment provider failed or could not be reached.",
    },
    ("post", "/v1/orders/{order_id}/refunds"): {
        "502": "The payment provider failed or could not be reached.",
    },
    ("post", "/create-checkout-session"): {
        "502": "The payment provider failed or could not be reached.",
    },
    ("post", "/v1/orders"): {
        "502": "The payment provider failed or could not be reached.",
    },
    ("post", "/v1/merchants/{merchant_id}/stripe-connect"): {
        "502": "Stripe failed or could not be reached.",
    },
    ("post", "/v1/webhooks/{provider}"): {
        "500": "The event was stored but could not be processed: the provider retries it.",
        "502": "The signature could not be checked at the provider (PayPal): retried.",
    },
}
# Bodies that routes read themselves (to answer in their own envelope): a schema, an example,
# and whether one must be sent.
BODIES: dict[tuple[str, str], tuple[type[BaseModel] | dict[str, Any], dict[str, Any], bool]] = {
    ("post", "/create-checkout-session"): (
        SessionCreate,
        {
            "line_items": [{"price": "espresso", "quantity": 2}],
            "customer_email": "ann@example.com",
        },
        True,
    ),
    # Without one, all that is left is refunded.
    ("post", "/v1/orders/{order_id}/refunds"): (RefundCreate, {"amount": 250}, False),
    ("post", "/v1/orders/{order_id}/charge"): (
        {
            "type": "object",
            "description": "JSON:API: a card token (`stripe`), or the PayPal payment the buyer "
            "approved (`paypal_payment_id`, `paypal_payer_id`, with `stripe: null`).",
            "properties": {
                "data": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["charge"]},
                        "attributes": {
                            "type": "object",
                            "properties": {
                                "stripe": {"type": ["string", "null"]},
                                "paypal_payment_id": {"type": "string"},
                                "paypal_payer_id": {"type": "string"},
                            },
                        },
                    },
                }
            },
        },
        {"data": {"type": "charge", "attributes": {"stripe": "tok_visa"}}},
        True,
    ),
    ("post", "/v1/webhooks/{provider}"): (
        {
            "type": "object",
            "description": "The provider's event, as it signed it (`Stripe-Signature`, or "
            "PayPal's transmission headers): read raw, verified before anything else.",
            "required": ["id", "type"],
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
            "additionalProperties": True,
        },
        {
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": {"id": "cs_test_a1", "object": "checkout.session"}},
        },
        True,
    ),
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
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status, why in (ERRORS | EXTRA_ERRORS.get((method, path), {})).items():
                responses[status] = {"description": why, "content": error}
            operation.setdefault("security", SECURITY)
            body = BODIES.get((method, path))
            if body is not None:
                operation["requestBody"] = _body(*body, schemas=schemas)
    return doc


def _body(
    shape: type[BaseModel] | dict[str, Any],
    example: dict[str, Any],
    required: bool,
    schemas: dict[str, Any],
) -> dict[str, Any]:
    """A request body: a model's schema (its nested models into the components) or one given."""
    if isinstance(shape, dict):
        schema = shape
    else:
        schema = shape.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[shape.__name__] = schema
        schema = {"$ref": f"#/components/schemas/{shape.__name__}"}
    return {
        "required": required,
        "content": {"application/json": {"schema": schema, "example": example}},
    }
