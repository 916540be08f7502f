"""Customers, with the cards and PaymentMethods saved to them."""

from __future__ import annotations

from typing import Any

from qrcheckout_sandbox import methods, shapes
from qrcheckout_sandbox import params as p
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import new_id


def create_customer(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    customer = shapes.blank(
        "customer", id=new_id("cus_", 14), created=ctx.now(), invoice_prefix=new_id("", 8).upper()
    )
    ctx.add("customer", customer)
    _update_customer_fields(ctx, customer, params)
    ctx.emit("customer.created", customer)
    return customer


def update_customer(ctx: Ctx, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = ctx.get("customer", customer_id)
    _update_customer_fields(ctx, customer, params)
    ctx.emit("customer.updated", customer)
    return customer


def _update_customer_fields(ctx: Ctx, customer: dict[str, Any], params: dict[str, Any]) -> None:
    for name in ("email", "name", "description", "phone"):
        if name in params:
            customer[name] = p.text(params, name)
    customer["metadata"] = p.metadata(params, customer["metadata"])
    if params.get("source"):
        card = methods.token_card(ctx, str(params["source"]), "source")
        source = methods.card_object(card, customer=customer["id"])
        ctx.add("card", source, **methods.card_extra(card))
        customer["default_source"] = source["id"]
    if params.get("payment_method"):
        method = methods.payment_method_for(ctx, str(params["payment_method"])).payment_method
        if method is not None:
            method["customer"] = customer["id"]
            ctx.saved(method)


def delete_customer(ctx: Ctx, params: dict[str, Any], customer_id: str) -> dict[str, Any]:
    customer = ctx.get("customer", customer_id)
    ctx.store.move(customer_id, "deleted_customer")
    ctx.emit("customer.deleted", customer)
    return {"id": customer_id, "object": "customer", "deleted": True}
