"""The OpenAPI document says what the service really answers: its error shape, the statuses any
route may answer, and the credentials it takes."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.support.server import RunningServer


def _document(server: RunningServer) -> dict[str, Any]:
    answer = server.client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_errors_are_documented_as_they_are_answered(server: RunningServer) -> None:
    document = _document(server)
    text = str(document)
    assert "HTTPValidationError" not in text and "'detail'" not in text
    error = document["components"]["schemas"]["Error"]
    create = document["paths"]["/v1/tokens"]["post"]
    for status in ("400", "401", "403", "404", "409", "422", "429", "503"):
        schema = create["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    # A real refusal fits the documented shape.
    refused = server.client.post("/v1/tokens", json={"items": [{"product_id": 5}]})
    assert refused.status_code == 422
    jsonschema.validate(refused.json(), error)
    jsonschema.validate(error["example"], error)


def test_the_credentials_are_documented(server: RunningServer) -> None:
    document = _document(server)
    schemes = document["components"]["securitySchemes"]
    assert schemes["merchantKey"] == schemes["merchantKey"] | {"type": "http", "scheme": "bearer"}
    assert schemes["buyerJwt"]["bearerFormat"] == "JWT"
    listed = document["paths"]["/v1/orders"]["get"]["security"]
    assert {"merchantKey": []} in listed and {"buyerJwt": []} in listed
