"""What each PayPal operation says of each error ``issue``: the ``description`` PayPal's OpenAPI
documents give it, per operation and status, kept in ``data/paypal_issues.json``.

That table is made from PayPal's documents by this module, and committed with it::

    python -m qrcheckout_sandbox.paypal.issues ../shared/paypal
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parents[1] / "data" / "paypal_issues.json"
DOCUMENTS = (
    "checkout_orders_v2.json",
    "payments_payment_v2.json",
    "notifications_webhooks_v1.json",
)
METHODS = ("get", "post", "patch", "put", "delete")


@cache
def _table() -> dict[str, dict[str, dict[str, str]]]:
    table: dict[str, dict[str, dict[str, str]]] = json.loads(TABLE.read_text())
    return table


def describe(operation: str, status: int, issue: str) -> str | None:
    """PayPal's description of ``issue`` answered with ``status`` by ``operation`` (``"POST
    /v2/checkout/orders/{id}/capture"``); None where its documents give none."""
    return _table().get(operation, {}).get(str(status), {}).get(issue)


def build(folder: Path) -> dict[str, dict[str, dict[str, str]]]:
    """The table, from PayPal's documents in ``folder``."""
    table: dict[str, dict[str, dict[str, str]]] = {}
    for name in DOCUMENTS:
        document = json.loads((folder / name).read_text())
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                for status, answer in operation["responses"].items():
                    schema = answer.get("content", {}).get("application/json", {}).get("schema")
                    issues = _issues(document, schema) if status.isdigit() and schema else {}
                    if issues:
                        table.setdefault(f"{method.upper()} {path}", {})[status] = issues
    return table


def _issues(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in schema.get("allOf", [schema]):
        while "$ref" in part:
            part = document["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]
        details = part.get("properties", {}).get("details", {}).get("items", {})
        for choice in details.get("anyOf", []):
            fields = choice.get("properties", {})
            issue = fields.get("issue", {}).get("enum", [None])[0]
            description = fields.get("description", {}).get("enum", [None])[0]
            if issue and description:
                found.setdefault(issue, description)
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m qrcheckout_sandbox.paypal.issues FOLDER_OF_PAYPAL_DOCUMENTS")
        return 2
    table = build(Path(argv[0]))
    TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{TABLE}: {sum(len(s) for o in table.values() for s in o.values())} descriptions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
