"""Cards typed into the API, tokens and PaymentMethods: what a payment is made with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox import shapes
from qrcheckout_sandbox.cards import Card, luhn_ok, present, test_card, unkeyed_fingerprint
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import StripeAPIError, invalid, missing, new_id, no_such
from qrcheckout_sandbox.store import Store


@dataclass(frozen=True)
class Instrument:
    """What pays: the card, and the PaymentMethod or source object that carries it."""

    card: Card
    payment_method: dict[str, Any] | None = None
    source: dict[str, Any] | None = None


# -- cards from parameters ---------------------------------------------------------------------


def card_from_params(ctx: Ctx, raw: dict[str, Any], prefix: str = "card") -> Card:
    """A card typed into the API (``card[number]``, ...), refused as Stripe refuses it; its
    number and CVC are checked, then forgotten."""
    number = "".join(ch for ch in str(raw.get("number") or "") if ch not in " -")
    if not number:
        raise missing(f"{prefix}[number]")
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        raise StripeAPIError(
            402,
            "Your card number is incorrect.",
            type="card_error",
            code="incorrect_number",
            param=f"{prefix}[number]",
        )
    month = p.integer(raw, "exp_month", low=1, high=12, required=True, param=f"{prefix}[exp_month]")
    year = p.integer(raw, "exp_year", low=0, high=9999, required=True, param=f"{prefix}[exp_year]")
    assert month is not None and year is not None
    year = year + 2000 if year < 100 else year
    today = date.today()
    if (year, month) < (today.year, today.month):
        raise StripeAPIError(
            402,
            "Your card's expiration year is invalid.",
            type="card_error",
            code="invalid_expiry_year",
            param=f"{prefix}[exp_year]",
        )
    cvc = str(raw.get("cvc") or "123")
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise StripeAPIError(
            402,
            "Your card's security code is invalid.",
            type="card_error",
            code="invalid_cvc",
            param=f"{prefix}[cvc]",
        )
    return present(number, month, year, ctx.engine.hash_key)


def stored_card(ctx: Ctx, object_id: str) -> Card:
    return Card.from_kept(ctx.store.extra(object_id)["card"])


def card_extra(card: Card) -> dict[str, Any]:
    """What a token, PaymentMethod or saved card keeps of its card, beside the object."""
    return {"card": card.kept()}


def forget_card_numbers(store: Store, key: bytes) -> int:
    """Replace the card numbers an older sandbox kept with what is kept now; how many.

    Its unkeyed fingerprints, which a search of every number with the same last four digits
    would reverse, become keyed ones wherever they were copied; its remembered answers go, as
    their hashes of the requests could be reversed alike."""
    renamed: dict[str, str] = {}
    for kind in ("token", "payment_method", "card"):
        for record in store.all_of(kind):
            number = record.extra.get("number")
            if number is None:
                continue
            card = present(str(number), record.extra["exp_month"], record.extra["exp_year"], key)
            renamed[unkeyed_fingerprint(str(number))] = card.fingerprint
            record.extra.clear()
            record.extra.update(card_extra(card))
            store.saved(record.obj)
    if renamed:
        for record in store.records():
            if _rename(record.obj, renamed):
                store.saved(record.obj)
        store.forget_replays()
    return len(renamed)


def _rename(node: Any, renamed: dict[str, str]) -> bool:
    """Replace, in place, every string value of ``node`` that ``renamed`` names; any found."""
    items: Any = node.items() if isinstance(node, dict) else enumerate(node)
    found = False
    for name, value in list(items):
        if isinstance(value, str) and value in renamed:
            node[name] = renamed[value]
            found = True
        elif isinstance(value, dict | list):
            found = _rename(value, renamed) or found
    return found


def card_object(card: Card, *, customer: str | None = None) -> dict[str, Any]:
    return shapes.card(card, id=new_id("card_"), customer=customer)


# -- tokens and PaymentMethods -----------------------------------------------------------------


def create_token(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    raw = params.get("card")
    if not isinstance(raw, dict):
        raise missing("card")
    card = card_from_params(ctx, raw)
    shown = card_object(card)
    del shown["customer"]
    shown["networks"] = {"preferred": None}
    token = shapes.blank("token", id=new_id("tok_"), card=shown, created=ctx.now(), type="card")
    return ctx.add("token", token, **card_extra(card))


def create_payment_method(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if p.text(params, "type", required=True) != "card":
        raise invalid("type", "The sandbox supports payment methods of type card.")
    raw = p.nested(params, "card")
    if raw.get("token"):
        card = token_card(ctx, str(raw["token"]), "card[token]")
    else:
        card = card_from_params(ctx, raw)
    billing = p.nested(params, "billing_details")
    return new_payment_method(
        ctx, card, billing_email=p.text(billing, "email"), billing_name=p.text(billing, "name")
    )


def new_payment_method(
    ctx: Ctx,
    card: Card,
    *,
    customer: str | None = None,
    billing_email: str | None = None,
    billing_name: str | None = None,
) -> dict[str, Any]:
    method = shapes.blank(
        "payment_method",
        id=new_id("pm_"),
        type="card",
        card=shapes.payment_method_card(card),
        billing_details=shapes.billing_details(email=billing_email, name=billing_name),
        created=ctx.now(),
        customer=customer,
    )
    return ctx.add("payment_method", method, **card_extra(card))


def attach_payment_method(ctx: Ctx, params: dict[str, Any], method_id: str) -> dict[str, Any]:
    method = ctx.get("payment_method", method_id)
    customer = ctx.get("customer", p.text(params, "customer", required=True), "customer")
    method["customer"] = customer["id"]
    ctx.emit("payment_method.attached", method)
    return method


def detach_payment_method(ctx: Ctx, params: dict[str, Any], method_id: str) -> dict[str, Any]:
    method = ctx.get("payment_method", method_id)
    if method["customer"] is None:
        raise invalid(
            "payment_method",
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.",
        )
    method["customer"] = None
    ctx.emit("payment_method.detached", method)
    return method


def token_card(ctx: Ctx, token_id: str, param: str) -> Card:
    magic = test_card(token_id.removeprefix("tok_"), date.today(), ctx.engine.hash_key)
    if token_id.startswith("tok_") and magic is not None:
        return magic
    token = ctx.get("token", token_id, param)
    if token["used"]:
        raise invalid(param, f"You cannot use a Stripe token more than once: {token_id}.")
    token["used"] = True
    ctx.saved(token)
    return stored_card(ctx, token_id)


def payment_method_for(ctx: Ctx, ref: str, param: str = "payment_method") -> Instrument:
    """``pm_card_visa``, a stored ``pm_`` or a customer's ``card_``, as a PaymentMethod."""
    if ref.startswith("pm_card_"):
        magic = test_card(ref.removeprefix("pm_card_"), date.today(), ctx.engine.hash_key)
        if magic is None:
            raise no_such("PaymentMethod", ref, param)
        return Instrument(magic, payment_method=new_payment_method(ctx, magic))
    if ref.startswith("card_"):
        source = ctx.get("card", ref, param)
        return Instrument(stored_card(ctx, ref), source=source)
    method = ctx.store.get("payment_method", ref, ctx.account)
    if method is None:
        raise no_such("PaymentMethod", ref, param)
    return Instrument(stored_card(ctx, ref), payment_method=method)


def source_for(ctx: Ctx, ref: str, customer: dict[str, Any] | None) -> Instrument:
    """A legacy charge's ``source``: a token (used once) or a customer's saved card."""
    if ref.startswith("tok_"):
        card = token_card(ctx, ref, "source")
        return Instrument(card, source=card_object(card))
    if ref.startswith("card_"):
        source = ctx.get("card", ref, "source")
        if customer is None or source["customer"] != customer["id"]:
            raise invalid(
                "source",
                f"Customer {customer['id'] if customer else ''} does not have a linked source "
                f"with ID {ref}.",
            )
        return Instrument(stored_card(ctx, ref), source=source)
    if ref.startswith("pm_"):
        return payment_method_for(ctx, ref, "source")
    raise no_such("source", ref, "source")
