"""Domain errors as HTTP answers: ``{"error": {"code", "message", ...}}`` with a status.

The only place that decides status codes for domain errors. Routes with their own envelope
(JSON:API, the shop front-end's ``/create-checkout-session``) render the same status.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from qrcheckout import errors

log = logging.getLogger(__name__)

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
    errors.RateLimited: 429,
    errors.RetryLater: 500,
    errors.ProviderUnavailable: 502,
    errors.NotConfigured: 503,
    errors.Unavailable: 503,
}
# How long a client is asked to wait before trying again while something is down.
RETRY_AFTER_SECONDS = 5
INVALID_JSON = "The request body is not valid JSON."


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


def headers_of(exc: errors.DomainError) -> dict[str, str]:
    """Headers a refusal's answer carries, whatever its envelope (``Retry-After`` on a 429,
    and on a 503 for an outage)."""
    if isinstance(exc, errors.RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, errors.Unavailable):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return {}


def respond(exc: errors.DomainError) -> JSONResponse:
    return JSONResponse(body_of(exc), status_of(exc), headers=headers_of(exc))


def jsonapi_response(exc: errors.DomainError, **members: Any) -> JSONResponse:
    """The REST body plus JSON:API's ``errors`` array (and ``members``), for the JSON:API
    routes."""
    return JSONResponse(
        jsonapi_body(exc) | members,
        status_of(exc),
        headers=headers_of(exc),
        media_type="application/vnd.api+json",
    )


def jsonapi_body(exc: errors.DomainError) -> dict[str, Any]:
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
    return body


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if any(e.get("type") == "json_invalid" for e in problems):
        return JSONResponse(error_body("invalid_json", INVALID_JSON), 400)
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e["msg"]}
        for e in problems
    ]
    first = details[0] if details else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return JSONResponse(error_body("validation_error", message, details=details), 422)


# -- outages -------------------------------------------------------------------------------------

# Failures to reach the database, whichever engine and driver met them: SQLAlchemy's
# connection-level errors and its pool's timeout; the socket's own (a refused, dropped or timed
# out connection is an OSError before any driver wraps it); PostgreSQL refusing to serve
# (shutting down, starting up, out of connections).
_DOWN: tuple[type[BaseException], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def refusal(exc: Exception) -> errors.DomainError | None:
    """What to answer for ``exc`` in a route's own envelope: the domain error itself, or the
    outage it stands for; None for anything else (a bug, left to the 500 handler)."""
    return exc if isinstance(exc, errors.DomainError) else outage(exc)


def outage(exc: BaseException) -> errors.Unavailable | None:
    """The refusal to answer when ``exc``, or what caused it, says the database cannot be
    reached; None for any other failure."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _DOWN) or (
            isinstance(seen, sa.DBAPIError) and seen.connection_invalidated
        ):
            return errors.Unavailable(
                "service_unavailable",
                "The service cannot reach its database right now; try again shortly.",
            )
        seen = seen.__cause__
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def _domain(_: Request, exc: errors.DomainError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a JSON body it could not decode (not UTF-8, nested too deep) with a
        # bare 400: the same refusal as any other body that is not JSON.
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            return JSONResponse(error_body("invalid_json", INVALID_JSON), 400)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)

    async def _down(_: Request, exc: Exception) -> JSONResponse:
        unavailable = outage(exc)
        if unavailable is None:
            raise exc  # not an outage: a server error, answered below
        log.warning("answered 503: the database cannot be reached (%r)", exc)
        return respond(unavailable)

    for kind in (sa.SQLAlchemyError, OSError, asyncpg.PostgresError):
        app.add_exception_handler(kind, _down)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The server still gets the exception, and logs it; the client gets the usual shape.
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; try again later."),
            500,
        )
