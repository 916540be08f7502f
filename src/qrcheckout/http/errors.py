"""Domain errors as HTTP answers: ``{"error": {"code", "message", ...}}`` with a status.

The only place that decides status codes for domain errors. Routes with their own envelope
(JSON:API, the shop front-end's ``/create-checkout-session``) render the same status.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qrcheckout import errors

STATUS: dict[type[errors.DomainError], int] = {
    errors.Malformed: 400,
    errors.Unauthenticated: 401,
    errors.PaymentIncomplete: 402,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.Invalid: 422,
    errors.PaymentDeclined: 422,
    errors.RetryLater: 500,
    errors.ProviderUnavailable: 502,
    errors.NotConfigured: 503,
}


def status_of(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def body_of(exc: errors.DomainError) -> dict[str, Any]:
    extra = dict(exc.details)
    if exc.field is not None:
        extra["field"] = exc.field
    return error_body(exc.code, exc.message, **extra)


def respond(exc: errors.DomainError) -> JSONResponse:
    return JSONResponse(body_of(exc), status_of(exc))


def jsonapi_response(exc: errors.DomainError) -> JSONResponse:
    """The REST body plus JSON:API's ``errors`` array, for the JSON:API routes."""
    status = status_of(exc)
    meta = {k: v for k, v in exc.details.items() if v is not None}
    body = body_of(exc)
    body["errors"] = [
        {
            "status": str(status),
            "code": exc.code,
            "title": exc.code.replace("_", " "),
            "detail": exc.message,
        }
        | ({"source": {"pointer": "/" + exc.field.replace(".", "/")}} if exc.field else {})
        | ({"meta": meta} if meta else {})
    ]
    return JSONResponse(body, status, media_type="application/vnd.api+json")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if any(e.get("type") == "json_invalid" for e in problems):
        return JSONResponse(error_body("invalid_json", "The request body is not valid JSON."), 400)
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e["msg"]}
        for e in problems
    ]
    first = details[0] if details else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return JSONResponse(error_body("validation_error", message, details=details), 422)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(_: Request, exc: errors.DomainError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)
