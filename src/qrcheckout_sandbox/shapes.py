"""Blank Stripe API objects: every field a resource has, at the value a fresh test object shows."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

# Card brands as the legacy Card resource spells them, by the lowercase code payment methods use.
_CARD_BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "MasterCard",
    "unionpay": "UnionPay",
    "visa": "Visa",
    "unknown": "Unknown",
}
_BRAND_CODES = {name.lower(): code for code, name in _CARD_BRANDS.items()}
# ``display_brand`` differs from ``brand`` for a few networks.
_DISPLAY_BRANDS = {
    "amex": "american_express",
    "diners": "diners_club",
    "unionpay": "union_pay",
    "unknown": "other",
}
_GENERIC_DECLINE_MESSAGE = "The bank did not return any further details with this decline."


def _update(fields: dict[str, Any], values: dict[str, Any], kind: str) -> dict[str, Any]:
    unknown = values.keys() - fields.keys()
    if unknown:
        raise KeyError(f"{kind} has no field {', '.join(sorted(unknown))}")
    fields.update(values)
    return fields


def address(**values: Any) -> dict[str, Any]:
    """An address with every line empty, then `values` set."""
    fields: dict[str, Any] = {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }
    return _update(fields, values, "address")


def billing_details(*, email: str | None = None, name: str | None = None) -> dict[str, Any]:
    """The billing details of a payment method or charge: only what the customer gave."""
    return {"address": address(), "email": email, "name": name, "phone": None, "tax_id": None}


# Every resource's fields at a fresh test object's values, keyed by resource: a data file, since
# it is a table, not code.
_BLANKS: dict[str, dict[str, Any]] = json.loads(
    resources.files("qrcheckout_sandbox").joinpath("data/shapes.json").read_text("utf-8")
)


def blank(kind: str, **values: Any) -> dict[str, Any]:
    """A fresh object of Stripe resource `kind` with every field at its default, then `values` set.

    Raises KeyError for an unknown kind or for a value whose name is not a field of that kind."""
    try:
        template = _BLANKS[kind]
    except KeyError:
        raise KeyError(f"no Stripe resource {kind!r}") from None
    return _update(copy.deepcopy(template), values, kind)


def _brand_code(brand: str) -> str:
    """The lowercase brand code (``visa``, ``amex``) of a brand in either spelling."""
    code = brand.lower()
    if code in _CARD_BRANDS:
        return code
    return _BRAND_CODES.get(code, code.replace(" ", "_"))


def _checks() -> dict[str, Any]:
    return {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"}


def card(
    *,
    id: str,
    brand: str,
    last4: str,
    exp_month: int,
    exp_year: int,
    fingerprint: str,
    funding: str = "credit",
    country: str = "US",
    customer: str | None = None,
) -> dict[str, Any]:
    """A Card resource (``card_...``), brand spelled as Stripe does: ``Visa``, ``MasterCard``."""
    code = _brand_code(brand)
    return blank(
        "card",
        id=id,
        brand=_CARD_BRANDS.get(code, brand),
        last4=last4,
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=fingerprint,
        funding=funding,
        country=country,
        customer=customer,
        cvc_check="pass",
        regulated_status="unregulated",
    )


def payment_method_card(
    *,
    brand: str,
    last4: str,
    exp_month: int,
    exp_year: int,
    fingerprint: str,
    funding: str = "credit",
    country: str = "US",
) -> dict[str, Any]:
    """The ``card`` hash of a PaymentMethod of type ``card``."""
    code = _brand_code(brand)
    return {
        "brand": code,
        "checks": _checks(),
        "country": country,
        "display_brand": _DISPLAY_BRANDS.get(code, code),
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": fingerprint,
        "funding": funding,
        "generated_from": None,
        "last4": last4,
        "networks": {"available": [code], "preferred": None},
        "regulated_status": "unregulated",
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def charge_payment_method_details(
    *,
    brand: str,
    last4: str,
    exp_month: int,
    exp_year: int,
    fingerprint: str,
    funding: str = "credit",
    country: str = "US",
) -> dict[str, Any]:
    """A Charge's ``payment_method_details`` for a card payment.

    ``card.amount_authorized`` and ``card.overcapture.maximum_amount_capturable`` are left for the
    caller, who knows the amount."""
    code = _brand_code(brand)
    return {
        "card": {
            "amount_authorized": None,
            "authorization_code": None,
            "brand": code,
            "checks": _checks(),
            "country": country,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": fingerprint,
            "funding": funding,
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": last4,
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": code,
            "network_token": {"used": False},
            "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
        "type": "card",
    }


def outcome(
    *, decline_code: str | None = None, failure_message: str | None = None
) -> dict[str, Any]:
    """A Charge's ``outcome``: authorized, or declined by the issuer when either argument is given.

    Stripe's message to the seller names the decline code, except for a generic decline."""
    fields: dict[str, Any] = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    if decline_code is None and failure_message is None:
        return fields
    if decline_code in (None, "generic_decline"):
        seller_message = _GENERIC_DECLINE_MESSAGE
    else:
        seller_message = f"The bank returned the decline code `{decline_code}`."
    fields.update(
        network_status="declined_by_network",
        reason=decline_code,
        seller_message=seller_message,
        type="issuer_declined",
    )
    return fields
