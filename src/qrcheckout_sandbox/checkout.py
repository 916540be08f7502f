"""Checkout Sessions: created by the API, paid on the hosted page, expired on time or on request."""

from __future__ import annotations

import logging
from typing import Any

from qrcheckout_sandbox import charges, intents, methods, objects, shapes
from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.cards import Card, Decline
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.objects import StripeAPIError, invalid, missing, new_id

log = logging.getLogger(__name__)

# Stripe's window for a Checkout Session's expires_at, in seconds after creation.
EXPIRES_MIN, EXPIRES_MAX, EXPIRES_DEFAULT = 30 * 60, 24 * 60 * 60, 24 * 60 * 60
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 999_999


def create_session(ctx: Ctx, params: dict[str, Any], public_base: str) -> dict[str, Any]:
    _check_mode_and_urls(params)
    now = ctx.now()
    items = _line_items(ctx, params, now)
    expires_at = _expires_at(params, now)
    customer = _customer(ctx, params)
    intent_data = p.nested(params, "payment_intent_data")
    total = _total(items)
    fee = charges.requested_fee(
        ctx,
        intent_data,
        total,
        param="payment_intent_data[application_fee_amount]",
        made="the Checkout Session is created",
    )
    session_id = new_id("cs_test_", 58)
    session = objects.checkout_session(
        session_id=session_id,
        url=f"{public_base}/pay/{session_id}",
        params=params | {"metadata": p.metadata(params)},
        currency=items[0]["currency"],
        amount_subtotal=total,
        expires_at=expires_at,
        created=now,
    )
    session["client_reference_id"] = p.text(params, "client_reference_id")
    session["customer"] = customer["id"] if customer else None
    session["customer_email"] = p.text(params, "customer_email")
    countries = _shipping_countries(params)
    if countries:
        session["shipping_address_collection"] = {"allowed_countries": countries}
    ctx.add(
        "checkout.session",
        session,
        line_items=items,
        payment_intent_data=_payment_intent_data(intent_data, fee),
    )
    ctx.engine.session_expiry.add(session_id, expires_at)
    return session


def _check_mode_and_urls(params: dict[str, Any]) -> None:
    if p.text(params, "mode", required=True) != "payment":
        raise invalid("mode", "The sandbox supports Checkout Sessions in mode=payment.")
    p.url(params, "success_url", required=True)
    p.url(params, "cancel_url")


def _line_items(ctx: Ctx, params: dict[str, Any], now: int) -> list[dict[str, Any]]:
    """The session's line items, priced; all in one currency."""
    raw_items = params.get("line_items")
    if not raw_items:
        raise missing("line_items")
    if not isinstance(raw_items, list) or len(raw_items) > MAX_LINE_ITEMS:
        raise invalid("line_items", f"line_items must be a list of at most {MAX_LINE_ITEMS} items.")
    items = [_line_item(ctx, raw, f"line_items[{i}]", now) for i, raw in enumerate(raw_items)]
    currency = items[0]["currency"]
    for index, item in enumerate(items):
        if item["currency"] != currency:
            raise invalid(f"line_items[{index}]", "All line items must use the same currency.")
    return items


def _expires_at(params: dict[str, Any], now: int) -> int:
    expires_at = p.integer(params, "expires_at", high=2**40)
    if expires_at is None:
        return now + EXPIRES_DEFAULT
    if not now + EXPIRES_MIN <= expires_at <= now + EXPIRES_MAX:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
        )
    return expires_at


def _customer(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any] | None:
    """The customer named, if any; then the session may not name an email of its own."""
    if not params.get("customer"):
        return None
    customer = ctx.get("customer", params["customer"], "customer")
    if params.get("customer_email"):
        raise invalid(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        )
    return customer


def _total(items: list[dict[str, Any]]) -> int:
    total = sum(int(item["amount_total"]) for item in items)
    if total > p.MAX_AMOUNT:
        raise StripeAPIError(
            400,
            f"The Checkout Session's total amount due must be no more than {p.MAX_AMOUNT}.",
            code="amount_too_large",
            param="line_items",
        )
    return total


def _shipping_countries(params: dict[str, Any]) -> list[str]:
    """The countries a shipping address may be in; none when no address is collected."""
    shipping = p.nested(params, "shipping_address_collection")
    if not shipping:
        return []
    countries = p.strings(shipping, "allowed_countries")
    if not countries or not all(len(c) == 2 and c.isalpha() and c.isupper() for c in countries):
        raise invalid(
            "shipping_address_collection[allowed_countries]",
            "allowed_countries must be a list of two-letter country codes such as US or GB.",
        )
    return countries


def _payment_intent_data(intent_data: dict[str, Any], fee: int | None) -> dict[str, Any]:
    """What the PaymentIntent made when the session is paid will be created with."""
    return {
        "application_fee_amount": fee,
        "capture_method": p.choice(
            intent_data, "capture_method", intents.PI_CAPTURE_METHODS, "automatic"
        ),
        "description": p.text(intent_data, "description"),
        "metadata": p.metadata(intent_data),
    }


def _line_item(ctx: Ctx, raw: Any, prefix: str, now: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(prefix, f"Invalid {prefix}.")
    quantity = p.integer(
        raw, "quantity", low=1, high=MAX_QUANTITY, required=True, param=f"{prefix}[quantity]"
    )
    assert quantity is not None
    if raw.get("price"):
        return _stored_price_item(ctx, raw["price"], quantity, prefix)
    data = raw.get("price_data")
    if not isinstance(data, dict):
        raise missing(f"{prefix}[price]")
    return _price_data_item(ctx, data, quantity, f"{prefix}[price_data]", now)


def _stored_price_item(ctx: Ctx, price_id: Any, quantity: int, prefix: str) -> dict[str, Any]:
    price = ctx.get("price", price_id, f"{prefix}[price]")
    if not price["active"]:
        raise invalid(f"{prefix}[price]", f"The price specified is inactive: {price['id']}.")
    if price["type"] != "one_time":
        raise invalid(
            f"{prefix}[price]",
            "You must provide at least one recurring price in `subscription` mode when "
            "using prices; this price is recurring and the session is in `payment` mode.",
        )
    product = ctx.get("product", price["product"], f"{prefix}[price]")
    return objects.line_item(price=dict(price), quantity=quantity, description=product["name"])


def _price_data_item(
    ctx: Ctx, data: dict[str, Any], quantity: int, prefix: str, now: int
) -> dict[str, Any]:
    """A line item priced inline: an inactive one-off price, of a product stored or named."""
    currency = p.currency(data, param=f"{prefix}[currency]")
    unit_amount = p.integer(data, "unit_amount", required=True, param=f"{prefix}[unit_amount]")
    assert unit_amount is not None
    if data.get("product"):
        product = ctx.get("product", data["product"], f"{prefix}[product]")
        product_id, name = product["id"], product["name"]
    else:
        product_data = p.nested(data, "product_data")
        name = p.text(product_data, "name", required=True, param=f"{prefix}[product_data][name]")
        p.strings(product_data, "images")
        product_id = new_id("prod_", 14)
    price = shapes.blank(
        "price",
        id=new_id("price_"),
        active=False,
        created=now,
        currency=currency,
        product=product_id,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
    )
    return objects.line_item(price=price, quantity=quantity, description=str(name))


def line_items(ctx: Ctx, session_id: str) -> list[dict[str, Any]]:
    ctx.get("checkout.session", session_id, "session")
    items: list[dict[str, Any]] = ctx.store.extra(session_id)["line_items"]
    return items


def expire_session(ctx: Ctx, session_id: str) -> dict[str, Any]:
    session = ctx.get("checkout.session", session_id, "session")
    if session["status"] != "open":
        raise StripeAPIError(
            400,
            f'Only Checkout Sessions with a status in ["open"] can be expired, '
            f'but this Checkout Session has a status of "{session["status"]}".',
        )
    session["status"] = "expired"
    session["url"] = None
    intent_id = ctx.store.extra(session_id).get("payment_intent")
    if intent_id:
        intent = ctx.get("payment_intent", intent_id)
        if intent["status"] in intents.PI_CANCELLABLE:
            intents.cancel_payment_intent(ctx, {}, intent_id)
    ctx.emit("checkout.session.expired", session)
    return session


def schedule_open_sessions(engine: Engine) -> None:
    """Put every open session on the expiry schedule: on start, the schedule is empty."""
    for record in engine.store.all_of("checkout.session"):
        if record.obj["status"] == "open":
            engine.session_expiry.add(record.id, record.obj["expires_at"])


# A session that failed to expire is tried again this much later.
EXPIRY_RETRY_SECONDS = 5


def expire_due(engine: Engine, now: int) -> None:
    """Expire the open sessions whose ``expires_at`` has come; no other session is looked at."""
    failed: list[str] = []
    for session_id in engine.session_expiry.due(now):
        record = engine.store.record(session_id)
        if record is None or record.obj["status"] != "open":
            continue  # paid or expired on request before its time
        try:
            expire_session(Ctx(engine, record.account), session_id)
        except Exception:
            # One bad session must not stall the rest; it is tried again a little later.
            log.exception("expiring checkout session %s failed", session_id)
            failed.append(session_id)
    for session_id in failed:
        engine.session_expiry.add(session_id, now + EXPIRY_RETRY_SECONDS)


def pay_session(
    ctx: Ctx,
    session_id: str,
    card: Card,
    email: str,
    shipping: dict[str, Any] | None,
) -> Decline | None:
    """One payment attempt on the hosted page; a decline leaves the session open to retry."""
    session = ctx.get("checkout.session", session_id, "session")
    extra = ctx.store.extra(session_id)
    intent_id = extra.get("payment_intent")
    if intent_id is None:
        intent_data = extra["payment_intent_data"]
        intent = intents.create_payment_intent(
            ctx,
            {
                "amount": session["amount_total"],
                "currency": session["currency"],
                "capture_method": intent_data["capture_method"],
                "description": intent_data["description"],
                "metadata": intent_data["metadata"],
                "application_fee_amount": intent_data["application_fee_amount"],
                "customer": session["customer"],
                "receipt_email": email,
            },
        )
        extra["payment_intent"] = intent_id = intent["id"]
        ctx.saved(session)
    method = methods.new_payment_method(ctx, card, billing_email=email)
    try:
        intents.confirm_payment_intent(ctx, {"payment_method": method["id"]}, intent_id)
    except StripeAPIError:
        if card.decline is not None:
            return card.decline
        raise
    session["status"] = "complete"
    session["payment_status"] = "paid"
    session["payment_intent"] = intent_id
    session["customer_details"] = {
        "address": shapes.address(country=(shipping or {}).get("country")),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": (shipping or {}).get("name"),
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    if shipping is not None:
        session["collected_information"] = {
            "business_name": None,
            "individual_name": None,
            "shipping_details": {
                "address": shapes.address(
                    **{
                        k: shipping.get(k)
                        for k in ("city", "country", "line1", "line2", "postal_code", "state")
                    }
                ),
                "name": shipping["name"],
            },
        }
    session["url"] = None
    ctx.emit("checkout.session.completed", session)
    return None
