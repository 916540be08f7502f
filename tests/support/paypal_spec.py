"""PayPal's published OpenAPI documents (``../shared/paypal``), and every answer the PayPal
sandbox gave held against the operation's schema for its status."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "paypal"
DOCUMENTS = (
    "checkout_orders_v2.json",
    "payments_payment_v2.json",
    "notifications_webhooks_v1.json",
)


# Answers PayPal gives that its documents leave out, each with the reason it is kept.
UNDOCUMENTED = {
    (
        "POST /v2/checkout/orders/{id}/capture",
        422,
        "ACTION_DOES_NOT_MATCH_INTENT",
    ): "capturing an order made to authorize: PayPal's Orders v2 error reference lists the issue "
    "for capture, its OpenAPI document only for authorize",
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    document: dict[str, Any]
    spec: dict[str, Any]

    def schema(self, status: int) -> dict[str, Any] | None:
        responses = self.spec["responses"]
        answer = responses.get(str(status)) or responses.get("default")
        if answer is None:
            raise AssertionError(f"{self} has no answer for status {status}")
        content = answer.get("content", {}).get("application/json")
        return None if content is None else content["schema"]

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class Answer:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class Spec:
    operations: list[Operation] = field(default_factory=list)

    @classmethod
    def load(cls) -> Spec:
        if not SHARED.is_dir():
            pytest.skip(f"PayPal's OpenAPI documents are not at {SHARED}")
        return _loaded()

    @classmethod
    def read(cls) -> Spec:
        spec = cls()
        for name in DOCUMENTS:
            document = json.loads((SHARED / name).read_text())
            for template, item in document["paths"].items():
                regex = re.sub(r"\{[^}]+\}", "[^/]+", template)
                for method, operation in item.items():
                    if method in ("get", "post", "patch", "put", "delete"):
                        spec.operations.append(
                            Operation(
                                method.upper(),
                                template,
                                re.compile(f"^{regex}$"),
                                document,
                                operation,
                            )
                        )
        return spec

    def operation(self, method: str, path: str) -> Operation | None:
        """The documented operation serving ``method path``, None if none does."""
        for operation in self.operations:
            if operation.method == method and operation.pattern.match(path):
                return operation
        return None

    def problems(self, answer: Answer) -> list[str]:
        """Why ``answer`` breaks its operation's schema; empty when it holds."""
        operation = self.operation(answer.method, answer.path)
        if operation is None:
            return [f"{answer.method} {answer.path} is no operation of PayPal's documents"]
        details = answer.body.get("details") if isinstance(answer.body, dict) else None
        if details and (str(operation), answer.status, details[0].get("issue")) in UNDOCUMENTED:
            return []
        schema = operation.schema(answer.status)
        if schema is None:
            return [] if answer.body is None else [f"{operation} {answer.status} has a body"]
        # The schema's references resolve against its own document's components.
        rooted = {**schema, "components": operation.document["components"]}
        validator = jsonschema.Draft4Validator(rooted)
        return [
            f"{operation} {answer.status}: {'/'.join(map(str, error.absolute_path))}: "
            f"{error.message[:300]}"
            for error in validator.iter_errors(answer.body)
        ]


@functools.cache
def _loaded() -> Spec:
    """The documents, read once per test process."""
    return Spec.read()
