"""Orders v2: create an order, the buyer approves it on the approval page, the app captures it
(intent ``CAPTURE``) or authorizes it to capture later (intent ``AUTHORIZE``)."""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from qrcheckout_sandbox.paypal import money
from qrcheckout_sandbox.paypal.core import (
    AUTHORIZATION,
    CAPTURE,
    ORDER,
    Call,
    link,
    new_id,
    timestamp,
)
from qrcheckout_sandbox.paypal.errors import invalid, malformed, missing, unprocessable

MAX_PURCHASE_UNITS = 10
MAX_ITEMS = 100
BREAKDOWN_ADDS = ("item_total", "tax_total", "shipping", "handling", "insurance")
BREAKDOWN_SUBTRACTS = ("shipping_discount", "discount")
STRINGS = {
    "reference_id": 256,
    "description": 127,
    "custom_id": 255,
    "invoice_id": 127,
    "soft_descriptor": 22,
}
ITEM_STRINGS = {"name": 127, "description": 2048, "sku": 127}
ITEM_CATEGORIES = ("DIGITAL_GOODS", "PHYSICAL_GOODS", "DONATION")
CONTEXT_URLS = ("return_url", "cancel_url")
# What the payee (the sandbox's merchant) is, on every purchase unit.
PAYEE_EMAIL = "merchant@sandbox.example"


@dataclass(frozen=True)
class Buyer:
    """A test buyer on the approval page, and what paying with its account does."""

    key: str
    label: str
    given_name: str
    surname: str
    email: str
    payer_id: str
    #: The capture or authorization it funds: COMPLETED, DECLINED; None: it cancels instead.
    outcome: str | None
    country: str = "US"


BUYERS = {
    buyer.key: buyer
    for buyer in (
        Buyer("approves", "Pays", "John", "Doe", "buyer@sandbox.example", "QYR5Z8XDVJNXQ", "OK"),
        Buyer(
            "funding-fails",
            "Funding fails",
            "Fay",
            "Lure",
            "declined@sandbox.example",
            "DCLNDBUYER2Z4",
            "DECLINED",
        ),
        Buyer(
            "cancels", "Cancels", "Carl", "Cancel", "cancel@sandbox.example", "CNCLBUYER7Q3K", None
        ),
    )
}


def payee(call: Call) -> dict[str, str]:
    return {"email_address": PAYEE_EMAIL, "merchant_id": _merchant_id(call.client)}


def _merchant_id(client: str) -> str:
    # A stable 13-character merchant id per app, as PayPal gives each account one.
    digest = hashlib.sha256(client.encode()).hexdigest().upper()
    return "".join(c for c in digest if c.isalnum())[:13]


# -- create ------------------------------------------------------------------------------------


def create_order(call: Call, body: dict[str, Any], representation: bool) -> dict[str, Any]:
    intent = body.get("intent")
    if intent is None:
        raise missing("/intent")
    if intent not in ("CAPTURE", "AUTHORIZE"):
        raise invalid(
            "INVALID_PARAMETER_VALUE",
            "The value of a field is invalid.",
            "/intent",
            intent,
        )
    units = body.get("purchase_units")
    if units is None:
        raise missing("/purchase_units")
    if not isinstance(units, list) or not 1 <= len(units) <= MAX_PURCHASE_UNITS:
        raise invalid(
            "INVALID_ARRAY_MAX_ITEMS"
            if isinstance(units, list) and units
            else "INVALID_ARRAY_MIN_ITEMS",
            f"The number of items in an array parameter is not between 1 and {MAX_PURCHASE_UNITS}.",
            "/purchase_units",
        )
    purchase_units = [_purchase_unit(call, unit, i) for i, unit in enumerate(units)]
    references = [u["reference_id"] for u in purchase_units]
    if len(set(references)) != len(references):
        raise unprocessable(
            "DUPLICATE_REFERENCE_ID",
            "`reference_id` must be unique if multiple `purchase_unit` are provided.",
            "/purchase_units/1/reference_id",
        )
    urls, payer_action = _experience(body)
    order_id = new_id()
    order: dict[str, Any] = {
        "id": order_id,
        "intent": intent,
        "status": "PAYER_ACTION_REQUIRED" if payer_action else "CREATED",
        "purchase_units": purchase_units,
        "create_time": call.now(),
        "links": [],
    }
    call.add(ORDER, order, urls=urls, payer_action=payer_action, payments={})
    return render(call, order, full=representation)


def _purchase_unit(call: Call, unit: Any, index: int) -> dict[str, Any]:
    at = f"/purchase_units/{index}"
    if not isinstance(unit, dict):
        raise malformed(at)
    out: dict[str, Any] = {"reference_id": "default" if index == 0 else str(index)}
    for name, longest in STRINGS.items():
        if name in unit:
            out[name] = text(unit[name], f"{at}/{name}", longest)
    amount = unit.get("amount")
    total, currency = money.read(amount, f"{at}/amount")
    if total == 0:
        raise unprocessable(
            "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", f"{at}/amount/value"
        )
    out["amount"] = {"currency_code": currency, "value": money.to_value(total, currency)}
    breakdown = (amount or {}).get("breakdown")
    parts: dict[str, int] = {}
    if breakdown is not None:
        if not isinstance(breakdown, dict):
            raise malformed(f"{at}/amount/breakdown")
        for name in (*BREAKDOWN_ADDS, *BREAKDOWN_SUBTRACTS):
            if name in breakdown:
                parts[name], _ = money.read(
                    breakdown[name], f"{at}/amount/breakdown/{name}", currency=currency
                )
        out["amount"]["breakdown"] = {k: money.money(v, currency) for k, v in parts.items()}
        expected = sum(parts.get(k, 0) for k in BREAKDOWN_ADDS) - sum(
            parts.get(k, 0) for k in BREAKDOWN_SUBTRACTS
        )
        if expected != total:
            raise unprocessable(
                "AMOUNT_MISMATCH",
                "Should equal item_total + tax_total + shipping + handling + insurance - "
                "shipping_discount - discount.",
                f"{at}/amount/value",
            )
    items = unit.get("items")
    if items is not None:
        out["items"] = _items(items, f"{at}/items", currency, parts)
    return out


def _items(items: Any, at: str, currency: str, parts: dict[str, int]) -> list[dict[str, Any]]:
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise malformed(at)
    out = []
    item_total = tax_total = 0
    for i, item in enumerate(items):
        where = f"{at}/{i}"
        if not isinstance(item, dict):
            raise malformed(where)
        if "name" not in item:
            raise missing(f"{where}/name")
        row: dict[str, Any] = {}
        for name, longest in ITEM_STRINGS.items():
            if name in item:
                row[name] = text(item[name], f"{where}/{name}", longest)
        unit_amount, _ = money.read(
            item.get("unit_amount"), f"{where}/unit_amount", currency=currency
        )
        quantity = item.get("quantity")
        if quantity is None:
            raise missing(f"{where}/quantity")
        if not isinstance(quantity, str) or not _digits(quantity) or len(quantity) > 10:
            raise invalid(
                "INVALID_PARAMETER_SYNTAX",
                "The value of a field does not conform to the expected format.",
                f"{where}/quantity",
                quantity,
            )
        row["unit_amount"] = money.money(unit_amount, currency)
        row["quantity"] = quantity
        if "tax" in item:
            tax, _ = money.read(item["tax"], f"{where}/tax", currency=currency)
            row["tax"] = money.money(tax, currency)
            tax_total += tax * int(quantity)
        category = item.get("category")
        if category is not None:
            if category not in ITEM_CATEGORIES:
                raise invalid(
                    "INVALID_PARAMETER_VALUE",
                    "The value of a field is invalid.",
                    f"{where}/category",
                    category,
                )
            row["category"] = category
        item_total += unit_amount * int(quantity)
        out.append(row)
    if "item_total" not in parts:
        raise unprocessable(
            "ITEM_TOTAL_REQUIRED",
            "If item details are specified (items.unit_amount and items.quantity) "
            "corresponding amount.breakdown.item_total is required.",
            at.rsplit("/", 1)[0] + "/amount/breakdown/item_total",
        )
    if item_total != parts["item_total"]:
        raise unprocessable(
            "ITEM_TOTAL_MISMATCH",
            "Should equal sum of (unit_amount * quantity) across all items for a given "
            "purchase_unit.",
            at.rsplit("/", 1)[0] + "/amount/breakdown/item_total",
        )
    if tax_total and tax_total != parts.get("tax_total", 0):
        raise unprocessable(
            "TAX_TOTAL_MISMATCH",
            "Should equal sum of (tax * quantity) across all items for a given purchase_unit.",
            at.rsplit("/", 1)[0] + "/amount/breakdown/tax_total",
        )
    return out


def _experience(body: dict[str, Any]) -> tuple[dict[str, str], bool]:
    """The return and cancel URLs, from ``payment_source.paypal.experience_context`` (the buyer
    is sent to a ``payer-action`` link) or the older ``application_context`` (an ``approve``
    link)."""
    source = body.get("payment_source")
    context: Any = None
    at = "/application_context"
    if source is not None:
        if not isinstance(source, dict) or set(source) - {"paypal"}:
            raise unprocessable(
                "PAYMENT_SOURCE_CANNOT_BE_USED",
                "The sandbox takes PayPal wallet payments only (payment_source.paypal).",
                "/payment_source",
            )
        paypal = source.get("paypal") or {}
        context = paypal.get("experience_context") if isinstance(paypal, dict) else None
        at = "/payment_source/paypal/experience_context"
    else:
        context = body.get("application_context")
    urls: dict[str, str] = {}
    if context is not None:
        if not isinstance(context, dict):
            raise malformed(at)
        for name in CONTEXT_URLS:
            if name in context:
                urls[name] = _url(context[name], f"{at}/{name}")
        if "brand_name" in context:
            urls["brand_name"] = text(context["brand_name"], f"{at}/brand_name", 127)
    return urls, source is not None


def _digits(value: str) -> bool:
    """ASCII digits only (``"²".isdigit()`` is true, and ``int("²")`` fails)."""
    return value.isascii() and value.isdigit()


def text(value: Any, field: str, longest: int) -> str:
    if not isinstance(value, str):
        raise malformed(field, value)
    if not 1 <= len(value) <= longest:
        raise invalid(
            "INVALID_STRING_LENGTH",
            f"The value of a field is either too short or too long (1 to {longest}).",
            field,
            value,
        )
    return value


def _url(value: Any, field: str) -> str:
    url = text(value, field, 4000)
    if not url.startswith(("https://", "http://")):
        raise malformed(field, value)
    return url


# -- reading -----------------------------------------------------------------------------------


def render(call: Call, order: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """The order as PayPal shows it now: its payments filled in from their own records, the
    links its status allows; ``full=False`` is PayPal's minimal answer."""
    record = call.store.record(order["id"])
    assert record is not None
    extra = record.extra
    shown = copy.deepcopy(order)
    for unit in shown["purchase_units"]:
        unit["payee"] = payee(call)
        payments = extra["payments"].get(unit["reference_id"])
        if payments:
            unit["payments"] = {
                kind: [call.store.record(i).obj for i in ids]  # type: ignore[union-attr]
                for kind, ids in payments.items()
                if ids
            }
    shown["links"] = _links(call, order, extra)
    if full:
        return shown
    minimal: dict[str, Any] = {k: shown[k] for k in ("id", "status") if k in shown}
    if any("payments" in unit for unit in shown["purchase_units"]):
        for key in ("payment_source", "payer"):
            if key in shown:
                minimal[key] = shown[key]
        minimal["purchase_units"] = [
            {"reference_id": u["reference_id"], "payments": u["payments"]}
            for u in shown["purchase_units"]
            if "payments" in u
        ]
    minimal["links"] = shown["links"]
    return minimal


def _links(call: Call, order: dict[str, Any], extra: dict[str, Any]) -> list[dict[str, str]]:
    href = f"{call.base}/v2/checkout/orders/{order['id']}"
    links = [link(href, "self")]
    status = order["status"]
    if status in ("CREATED", "PAYER_ACTION_REQUIRED"):
        rel = "payer-action" if extra.get("payer_action") else "approve"
        links.append(link(f"{call.base}/checkoutnow?token={order['id']}", rel))
    if status in ("CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"):
        links.append(link(href, "update", "PATCH"))
        action = "capture" if order["intent"] == "CAPTURE" else "authorize"
        links.append(link(f"{href}/{action}", action, "POST"))
    return links


def get_order(call: Call, order_id: str) -> dict[str, Any]:
    return render(call, call.get(ORDER, order_id, "order"))


# -- the buyer ---------------------------------------------------------------------------------


def approve(call: Call, order_id: str, buyer: Buyer) -> dict[str, Any]:
    """The buyer approves the order with its PayPal account."""
    order = call.get(ORDER, order_id, "order")
    if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
        raise unprocessable("ORDER_ALREADY_APPROVED", "The order has already been approved.")
    name = {"given_name": buyer.given_name, "surname": buyer.surname}
    order["status"] = "APPROVED"
    order["payer"] = {
        "name": name,
        "email_address": buyer.email,
        "payer_id": buyer.payer_id,
        "address": {"country_code": buyer.country},
    }
    order["payment_source"] = {
        "paypal": {
            "email_address": buyer.email,
            "account_id": buyer.payer_id,
            "account_status": "VERIFIED",
            "name": name,
            "address": {"country_code": buyer.country},
        }
    }
    order["update_time"] = call.now()
    call.store.extra(order_id)["buyer"] = buyer.key
    call.store.saved(order)
    call.emit("CHECKOUT.ORDER.APPROVED", render(call, order), "An order has been approved by buyer")
    return order


def funding(call: Call, order_id: str) -> Buyer:
    return BUYERS[call.store.extra(order_id)["buyer"]]


# -- capture and authorize ---------------------------------------------------------------------


def capture_order(call: Call, order_id: str, representation: bool) -> dict[str, Any]:
    order = _approved(call, order_id, "CAPTURE")
    declined = funding(call, order_id).outcome == "DECLINED"
    payments = call.store.extra(order_id)["payments"]
    for unit in order["purchase_units"]:
        capture = new_capture(call, order, unit, declined=declined)
        payments.setdefault(unit["reference_id"], {}).setdefault("captures", []).append(
            capture["id"]
        )
    order["status"] = "COMPLETED"
    order["update_time"] = call.now()
    call.store.saved(order)
    for unit in order["purchase_units"]:
        for capture_id in payments[unit["reference_id"]]["captures"]:
            capture = call.store.record(capture_id).obj  # type: ignore[union-attr]
            announce_capture(call, capture, order_id)
    return render(call, order, full=representation)


def authorize_order(call: Call, order_id: str, representation: bool) -> dict[str, Any]:
    order = _approved(call, order_id, "AUTHORIZE")
    denied = funding(call, order_id).outcome == "DECLINED"
    payments = call.store.extra(order_id)["payments"]
    for unit in order["purchase_units"]:
        authorization_id = new_id()
        href = f"{call.base}/v2/payments/authorizations/{authorization_id}"
        authorization: dict[str, Any] = {
            "id": authorization_id,
            "status": "DENIED" if denied else "CREATED",
            "amount": copy.deepcopy(_money_only(unit["amount"])),
            "seller_protection": _protection(),
            "expiration_time": _in_days(29),
            "links": [
                link(href, "self"),
                link(f"{href}/capture", "capture", "POST"),
                link(f"{href}/void", "void", "POST"),
                link(f"{href}/reauthorize", "reauthorize", "POST"),
                link(f"{call.base}/v2/checkout/orders/{order_id}", "up"),
            ],
            "create_time": call.now(),
            "update_time": call.now(),
        }
        if denied:
            authorization["links"] = [authorization["links"][0], authorization["links"][-1]]
        _copy_references(unit, authorization)
        call.add(AUTHORIZATION, authorization, order=order_id, captured=0)
        payments.setdefault(unit["reference_id"], {}).setdefault("authorizations", []).append(
            authorization_id
        )
        if not denied:
            call.emit(
                "PAYMENT.AUTHORIZATION.CREATED",
                with_order(authorization, order_id),
                f"A payment authorization was created for {_shown(authorization['amount'])}",
            )
    order["status"] = "COMPLETED"
    order["update_time"] = call.now()
    call.store.saved(order)
    return render(call, order, full=representation)


def _approved(call: Call, order_id: str, intent: str) -> dict[str, Any]:
    order = call.get(ORDER, order_id, "order")
    if order["intent"] != intent:
        raise unprocessable(
            "ACTION_DOES_NOT_MATCH_INTENT",
            f"Order was created with an intent to '{order['intent']}'. Please use "
            f"v2/checkout/orders/order_id/{order['intent'].lower()} to complete the "
            "transaction or alternately create an order with the matching intent.",
        )
    if order["status"] == "COMPLETED":
        issue = "ORDER_ALREADY_CAPTURED" if intent == "CAPTURE" else "ORDER_ALREADY_AUTHORIZED"
        raise unprocessable(
            issue,
            "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed."
            if intent == "CAPTURE"
            else "Order already authorized. If 'intent=AUTHORIZE' only one authorization per "
            "order is allowed.",
        )
    if order["status"] != "APPROVED":
        raise unprocessable(
            "ORDER_NOT_APPROVED",
            "Payer has not yet approved the Order for payment. Please redirect the payer to "
            "the 'rel':'approve' url returned as part of the HATEOAS links within the Create "
            "Order call or provide a valid payment_source in the request.",
        )
    return order


def new_capture(
    call: Call,
    order: dict[str, Any],
    unit: dict[str, Any],
    *,
    declined: bool,
    amount: dict[str, str] | None = None,
    final: bool = True,
    authorization: str | None = None,
) -> dict[str, Any]:
    """A capture of ``amount`` (the unit's whole amount when None), as it stands at once."""
    value = copy.deepcopy(amount or _money_only(unit["amount"]))
    minor, currency = money.read(value, "/amount")
    capture_id = new_id()
    href = f"{call.base}/v2/payments/captures/{capture_id}"
    capture: dict[str, Any] = {
        "id": capture_id,
        "status": "DECLINED" if declined else "COMPLETED",
        "amount": value,
        "final_capture": final,
        "seller_protection": _protection(),
        "links": [
            link(href, "self"),
            link(f"{href}/refund", "refund", "POST"),
            link(
                f"{call.base}/v2/payments/authorizations/{authorization}"
                if authorization
                else f"{call.base}/v2/checkout/orders/{order['id']}",
                "up",
            ),
        ],
        "create_time": call.now(),
        "update_time": call.now(),
    }
    if declined:
        capture["links"] = [capture["links"][0], capture["links"][2]]
        capture["processor_response"] = {"response_code": "5400"}
    else:
        paypal_fee = money.fee(minor, currency)
        capture["seller_receivable_breakdown"] = {
            "gross_amount": copy.deepcopy(value),
            "paypal_fee": money.money(paypal_fee, currency),
            "net_amount": money.money(minor - paypal_fee, currency),
        }
    _copy_references(unit, capture)
    call.add(CAPTURE, capture, order=order["id"], refunded=0)
    return capture


def announce_capture(call: Call, capture: dict[str, Any], order_id: str) -> None:
    shown = _shown(capture["amount"])
    if capture["status"] == "COMPLETED":
        call.emit(
            "PAYMENT.CAPTURE.COMPLETED",
            with_order(capture, order_id),
            f"Payment completed for {shown}",
        )
    else:
        call.emit(
            "PAYMENT.CAPTURE.DENIED", with_order(capture, order_id), f"Payment denied for {shown}"
        )


def with_order(resource: dict[str, Any], order_id: str) -> dict[str, Any]:
    """A payment as a webhook carries it: with the order it belongs to."""
    return resource | {"supplementary_data": {"related_ids": {"order_id": order_id}}}


def _copy_references(unit: dict[str, Any], payment: dict[str, Any]) -> None:
    for key in ("custom_id", "invoice_id"):
        if key in unit:
            payment[key] = unit[key]


def _money_only(amount: dict[str, Any]) -> dict[str, str]:
    return {"currency_code": amount["currency_code"], "value": amount["value"]}


def _shown(amount: dict[str, str]) -> str:
    return f"{amount['value']} {amount['currency_code']}"


def _protection() -> dict[str, Any]:
    return {
        "status": "ELIGIBLE",
        "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
    }


def _in_days(days: int) -> str:
    return timestamp(time.time() + days * 86400)
