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


def test_routes_document_their_own_statuses_and_bodies(server: RunningServer) -> None:
    doc = server.client.get("/openapi.json").json()
    paths = doc["paths"]
    charge = paths["/v1/orders/{order_id}/charge"]["post"]
    assert {"402", "502"} <= set(charge["responses"])
    assert (
        charge["requestBody"]["content"]["application/json"]["example"]["data"]["type"] == "charge"
    )
    session = paths["/create-checkout-session"]["post"]
    assert "502" in session["responses"]
    body = session["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/SessionCreate"}
    assert "line_items" in doc["components"]["schemas"]["SessionCreate"]["properties"]
    assert body["example"]["customer_email"] == "ann@example.com"
    refund = paths["/v1/orders/{order_id}/refunds"]["post"]
    assert refund["requestBody"]["required"] is False
    assert doc["components"]["schemas"]["RefundCreate"]["properties"]["amount"]
    webhook = paths["/v1/webhooks/{provider}"]["post"]
    assert {"500", "502"} <= set(webhook["responses"])
    assert webhook["requestBody"]["content"]["application/json"]["example"]["type"]
    # Every $ref points at something the document holds.
    import json
    import re

    for ref in set(re.findall(r'"\\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))):
        assert ref in doc["components"]["schemas"], ref


def test_every_route_named_in_the_documents_own_tables_exists(server: RunningServer) -> None:
    from qrcheckout.http.openapi import BODIES, EXTRA_ERRORS

    paths = server.client.get("/openapi.json").json()["paths"]
    for method, path in (*EXTRA_ERRORS, *BODIES):
        assert method in paths.get(path, {}), (method, path)
