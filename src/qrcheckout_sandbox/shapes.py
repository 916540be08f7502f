"""Blank Stripe API objects: every field a resource has, at the value a fresh test object shows."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from qrcheckout_sandbox.cards import Card

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


def _card_fields(card: Card) -> dict[str, Any]:
    """What a PaymentMethod's ``card`` and a Charge's ``payment_method_details.card`` share."""
    return card.as_dict() | {
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": card.country,
        "regulated_status": "unregulated",
        "wallet": None,
    }


def _sorted(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` in Stripe's order: by name."""
    return dict(sorted(fields.items()))


def card(card: Card, *, id: str, customer: str | None = None) -> dict[str, Any]:
    """A Card resource (``card_...``), brand spelled as Stripe does: ``Visa``, ``MasterCard``."""
    return blank(
        "card",
        id=id,
        brand=_CARD_BRANDS.get(card.brand, card.brand),
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        fingerprint=card.fingerprint,
        funding=card.funding,
        country=card.country,
        customer=customer,
        cvc_check="pass",
        regulated_status="unregulated",
    )


def payment_method_card(card: Card) -> dict[str, Any]:
    """The ``card`` hash of a PaymentMethod of type ``card``."""
    return _sorted(
        _card_fields(card)
        | {
            "display_brand": _DISPLAY_BRANDS.get(card.brand, card.brand),
            "generated_from": None,
            "networks": {"available": [card.brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
        }
    )


def charge_payment_method_details(card: Card) -> dict[str, Any]:
    """A Charge's ``payment_method_details`` for a card payment."""
    details = _card_fields(card) | {
        "amount_authorized": None,
        "authorization_code": None,
        "extended_authorization": {"status": "disabled"},
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": card.brand,
        "network_token": {"used": False},
        "network_transaction_id": None,
        "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
        "three_d_secure": None,
        "transaction_link_id": None,
    }
    return {"card": _sorted(details), "type": "card"}


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
