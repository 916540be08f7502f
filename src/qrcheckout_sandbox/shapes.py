"""Blank Stripe API objects: every field a resource has, at the value a fresh test object shows."""

from __future__ import annotations

import copy
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


def _list(url: str = "") -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def _requirements() -> dict[str, Any]:
    """Requirements of an account with nothing left to provide."""
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }


_BLANKS: dict[str, dict[str, Any]] = {
    "product": {
        "id": None,
        "object": "product",
        "active": True,
        "created": 0,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": "",
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": 0,
        "url": None,
    },
    "price": {
        "id": None,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": 0,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": None,
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": None,
        "unit_amount_decimal": None,
    },
    "customer": {
        "id": None,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": 0,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": None,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    },
    "card": {
        "id": None,
        "object": "card",
        "address_city": None,
        "address_country": None,
        "address_line1": None,
        "address_line1_check": None,
        "address_line2": None,
        "address_state": None,
        "address_zip": None,
        "address_zip_check": None,
        "brand": "Unknown",
        "country": None,
        "customer": None,
        "cvc_check": None,
        "dynamic_last4": None,
        "exp_month": 0,
        "exp_year": 0,
        "fingerprint": None,
        "funding": "unknown",
        "last4": "",
        "metadata": {},
        "name": None,
        "regulated_status": None,
        "tokenization_method": None,
    },
    "token": {
        "id": None,
        "object": "token",
        "card": None,
        "client_ip": None,
        "created": 0,
        "livemode": False,
        "type": "card",
        "used": False,
    },
    "payment_method": {
        "id": None,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing_details(),
        "card": None,
        "created": 0,
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    },
    "payment_intent": {
        "id": None,
        "object": "payment_intent",
        "amount": 0,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": None,
        "confirmation_method": "automatic",
        "created": 0,
        "currency": "usd",
        "customer": None,
        "customer_account": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    },
    "charge": {
        "id": None,
        "object": "charge",
        "amount": 0,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": billing_details(),
        "calculated_statement_descriptor": None,
        "captured": False,
        "created": 0,
        "currency": "usd",
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": None,
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": _list(),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer_data": None,
        "transfer_group": None,
    },
    "refund": {
        "id": None,
        "object": "refund",
        "amount": 0,
        "balance_transaction": None,
        "charge": None,
        "created": 0,
        "currency": "usd",
        "customer": None,
        "customer_account": None,
        "destination_details": None,
        "metadata": {},
        "payment_intent": None,
        "payment_method": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    },
    "webhook_endpoint": {
        "id": None,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": 0,
        "description": None,
        "enabled_events": [],
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": "",
    },
    "account": {
        "id": None,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": 0,
        "default_currency": "usd",
        "details_submitted": True,
        "email": None,
        "external_accounts": _list(),
        "future_requirements": _requirements(),
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _requirements(),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": True, "cvc_failure": True},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": None,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": "standard",
    },
    "balance_transaction": {
        "id": None,
        "object": "balance_transaction",
        "amount": 0,
        "available_on": 0,
        "balance_type": "payments",
        "created": 0,
        "currency": "usd",
        "description": None,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": 0,
        "reporting_category": "charge",
        "source": None,
        "status": "pending",
        "type": "charge",
    },
    "application_fee": {
        "id": None,
        "object": "application_fee",
        "account": None,
        "amount": 0,
        "amount_refunded": 0,
        "application": None,
        "balance_transaction": None,
        "charge": None,
        "created": 0,
        "currency": "usd",
        "fee_source": None,
        "livemode": False,
        "originating_transaction": None,
        "refunded": False,
        "refunds": _list(),
    },
}


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
