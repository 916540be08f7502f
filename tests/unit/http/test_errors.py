"""Domain errors as HTTP answers: one status per kind, the REST body and the JSON:API one."""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa

from qrcheckout import errors
from qrcheckout.http.errors import install, jsonapi_response, outage, respond

EXPECTED_STATUS: dict[type[errors.DomainError], int] = {
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

# What a kind cannot be made without.
REQUIRED: dict[type[errors.DomainError], dict[str, Any]] = {errors.RateLimited: {"retry_after": 7}}

every_kind = pytest.mark.parametrize(
    ("kind", "status"),
    [pytest.param(kind, status, id=kind.__name__) for kind, status in EXPECTED_STATUS.items()],
)


def body(response: JSONResponse) -> Any:
    return json.loads(bytes(response.body))


def test_every_kind_of_domain_error_has_its_status_written_down_here() -> None:
    kinds = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.DomainError) and cls is not errors.DomainError
    }
    assert kinds == set(EXPECTED_STATUS)


@every_kind
def test_each_kind_answers_with_its_status(kind: type[errors.DomainError], status: int) -> None:
    required = REQUIRED.get(kind, {})
    response = respond(kind("some_code", "Something was refused.", **required))
    assert response.status_code == status
    assert body(response) == {
        "error": {"code": "some_code", "message": "Something was refused.", **required}
    }


@every_kind
def test_a_subclass_answers_with_its_parents_status(
    kind: type[errors.DomainError], status: int
) -> None:
    child = type("Specific" + kind.__name__, (kind,), {})
    grandchild = type("MoreSpecific" + kind.__name__, (child,), {})
    required = REQUIRED.get(kind, {})
    assert respond(child("c", "m", **required)).status_code == status
    assert respond(grandchild("c", "m", **required)).status_code == status


def test_a_rate_limited_answer_says_when_to_retry_in_every_envelope() -> None:
    exc = errors.RateLimited("rate_limited", "Too many; try again in 7 seconds.", retry_after=7)
    for response in (respond(exc), jsonapi_response(exc)):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "7"
        assert body(response)["error"]["retry_after"] == 7
    assert "retry-after" not in respond(errors.Conflict("c", "m")).headers


def test_an_outage_answer_says_when_to_retry_in_every_envelope() -> None:
    exc = errors.Unavailable("service_unavailable", "The database is down; try again shortly.")
    for response in (respond(exc), jsonapi_response(exc)):
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
    # Not configured is a 503 too, but waiting will not mend it.
    assert "retry-after" not in respond(errors.NotConfigured("c", "m")).headers


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
        OSError(101, "Network is unreachable"),
        sa.OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database")),
        sa.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
        sa.TimeoutError("QueuePool limit of size 20 overflow 20 reached"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        _caused(RuntimeError("wrapped"), ConnectionResetError()),
    ],
    ids=type,
)
def test_a_database_out_of_reach_is_an_outage(exc: BaseException) -> None:
    found = outage(exc)
    assert isinstance(found, errors.Unavailable) and found.code == "service_unavailable"


@pytest.mark.parametrize(
    "exc",
    [
        sa.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sa.DBAPIError("SELECT", {}, Exception("invalid byte sequence for encoding UTF8: 0x00")),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        ValueError("a bug"),
        RuntimeError("another"),
    ],
    ids=type,
)
def test_any_other_failure_is_no_outage(exc: BaseException) -> None:
    assert outage(exc) is None


def test_an_error_of_no_known_kind_is_a_server_error() -> None:
    assert respond(errors.DomainError("oops", "Something went wrong.")).status_code == 500


def test_the_body_names_the_field_and_carries_the_details() -> None:
    exc = errors.Invalid(
        "quantity_too_large", "At most 10 of one product.", field="items.0.quantity", limit=10
    )
    assert body(respond(exc)) == {
        "error": {
            "code": "quantity_too_large",
            "message": "At most 10 of one product.",
            "field": "items.0.quantity",
            "limit": 10,
        }
    }


def test_the_body_has_no_field_when_no_input_was_at_fault() -> None:
    assert (
        "field" not in body(respond(errors.NotFound("order_not_found", "No such order.")))["error"]
    )


def test_jsonapi_renders_a_declined_card_with_its_decline_code() -> None:
    exc = errors.PaymentDeclined(
        "card_declined", "Your card was declined.", decline_code="insufficient_funds"
    )
    response = jsonapi_response(exc)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    rendered = body(response)
    assert rendered["errors"] == [
        {
            "status": "422",
            "code": "card_declined",
            "title": "card declined",
            "detail": "Your card was declined.",
            "meta": {"decline_code": "insufficient_funds"},
        }
    ]
    # The REST envelope is kept beside it, so one client reads both kinds of route.
    assert rendered["error"]["code"] == "card_declined"


def test_jsonapi_points_at_the_field_at_fault() -> None:
    exc = errors.Invalid("bad_quantity", "Quantity must be at least 1.", field="items.0.quantity")
    (error,) = body(jsonapi_response(exc))["errors"]
    assert error["source"] == {"pointer": "/items/0/quantity"}
    assert error["status"] == "422"
    assert "meta" not in error


def test_jsonapi_leaves_out_details_that_are_unknown() -> None:
    exc = errors.PaymentDeclined("card_declined", "Your card was declined.", decline_code=None)
    (error,) = body(jsonapi_response(exc))["errors"]
    assert "meta" not in error
    assert "source" not in error


@every_kind
def test_jsonapi_answers_with_the_same_status_as_rest(
    kind: type[errors.DomainError], status: int
) -> None:
    response = jsonapi_response(kind("some_code", "Refused.", **REQUIRED.get(kind, {})))
    assert response.status_code == status
    assert body(response)["errors"][0]["status"] == str(status)


def _answer_to_failing(exc: BaseException) -> httpx.Response:
    """What an app with the edge's handlers answers when its one route fails with ``exc``."""
    app = FastAPI()
    install(app)

    @app.get("/fail")
    async def fail() -> None:
        raise exc

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/fail")

    return asyncio.run(get())


def test_a_database_out_of_reach_is_answered_503_json() -> None:
    for exc in (ConnectionRefusedError(111, "refused"), sa.TimeoutError("pool timed out")):
        response = _answer_to_failing(exc)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert int(response.headers["retry-after"]) > 0


def test_any_other_failure_is_answered_500_json() -> None:
    for exc in (RuntimeError("a bug"), sa.IntegrityError("INSERT", {}, Exception("dup"))):
        response = _answer_to_failing(exc)
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "internal_error"
