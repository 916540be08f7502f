"""Products and Prices."""

from __future__ import annotations

from typing import Any

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox import shapes
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import invalid, missing, new_id

PRICE_TYPES = ("one_time", "recurring")
INTERVALS = ("day", "week", "month", "year")


def create_product(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    product = shapes.blank(
        "product",
        id=p.text(params, "id") or new_id("prod_", 14),
        name=p.text(params, "name", required=True),
        created=ctx.now(),
        updated=ctx.now(),
    )
    if ctx.store.record(product["id"]) is not None:
        raise invalid("id", f"Product already exists: {product['id']}")
    _update_product_fields(product, params)
    ctx.add("product", product)
    ctx.emit("product.created", product)
    default = p.nested(params, "default_price_data")
    if default:
        price = _new_price(ctx, default, product["id"], "default_price_data")
        product["default_price"] = price["id"]
        ctx.saved(product)
    return product


def update_product(ctx: Ctx, params: dict[str, Any], product_id: str) -> dict[str, Any]:
    product = ctx.get("product", product_id)
    if "name" in params:
        product["name"] = p.text(params, "name", required=True)
    if params.get("default_price"):
        price = ctx.get("price", params["default_price"], "default_price")
        if price["product"] != product_id:
            raise invalid("default_price", "The price must belong to this product.")
        product["default_price"] = price["id"]
    _update_product_fields(product, params)
    product["updated"] = ctx.now()
    ctx.emit("product.updated", product)
    return product


def _update_product_fields(product: dict[str, Any], params: dict[str, Any]) -> None:
    if "description" in params:
        product["description"] = p.text(params, "description")
    if "images" in params:
        images = p.strings(params, "images")
        if len(images) > 8:
            raise invalid("images", "A product can have at most 8 images.")
        product["images"] = images
    if "url" in params:
        product["url"] = p.url(params, "url")
    product["active"] = p.boolean(params, "active", product["active"])
    product["metadata"] = p.metadata(params, product["metadata"])


def create_price(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("product"):
        product_id = ctx.get("product", params["product"], "product")["id"]
    elif params.get("product_data"):
        data = p.nested(params, "product_data")
        if not data.get("name"):
            raise missing("product_data[name]")
        product_id = create_product(ctx, data)["id"]
    else:
        raise missing("product")
    return _new_price(ctx, params, product_id, "")


def _new_price(ctx: Ctx, params: dict[str, Any], product_id: str, prefix: str) -> dict[str, Any]:
    def name(field: str) -> str:
        return f"{prefix}[{field}]" if prefix else field

    unit_amount = p.integer(params, "unit_amount", param=name("unit_amount"), required=True)
    recurring = p.nested(params, "recurring")
    price = shapes.blank(
        "price",
        id=new_id("price_"),
        active=p.boolean(params, "active", True),
        created=ctx.now(),
        currency=p.currency(params, param=name("currency")),
        lookup_key=p.text(params, "lookup_key"),
        metadata=p.metadata(params),
        nickname=p.text(params, "nickname"),
        product=product_id,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
    )
    if recurring:
        interval = recurring.get("interval")
        if interval not in INTERVALS:
            raise invalid(name("recurring[interval]"), f"Invalid interval: {interval}")
        count = p.integer(recurring, "interval_count", low=1, high=365) or 1
        price["type"] = "recurring"
        price["recurring"] = {
            "interval": interval,
            "interval_count": count,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }
    ctx.add("price", price)
    ctx.emit("price.created", price)
    return price


def update_price(ctx: Ctx, params: dict[str, Any], price_id: str) -> dict[str, Any]:
    price = ctx.get("price", price_id)
    price["active"] = p.boolean(params, "active", price["active"])
    for field in ("nickname", "lookup_key"):
        if field in params:
            price[field] = p.text(params, field)
    price["metadata"] = p.metadata(params, price["metadata"])
    ctx.emit("price.updated", price)
    return price
