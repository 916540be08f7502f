"""Domain errors as HTTP answers: one status per kind, the REST body and the JSON:API one."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from qrcheckout import errors
from qrcheckout.http.errors import jsonapi_response, respond

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
    errors.RetryLater: 500,
    errors.ProviderUnavailable: 502,
    errors.NotConfigured: 503,
}

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
    response = respond(kind("some_code", "Something was refused."))
    assert response.status_code == status
    assert body(response) == {"error": {"code": "some_code", "message": "Something was refused."}}


@every_kind
def test_a_subclass_answers_with_its_parents_status(
    kind: type[errors.DomainError], status: int
) -> None:
    child = type("Specific" + kind.__name__, (kind,), {})
    grandchild = type("MoreSpecific" + kind.__name__, (child,), {})
    assert respond(child("c", "m")).status_code == status
    assert respond(grandchild("c", "m")).status_code == status


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
    response = jsonapi_response(kind("some_code", "Refused."))
    assert response.status_code == status
    assert body(response)["errors"][0]["status"] == str(status)
