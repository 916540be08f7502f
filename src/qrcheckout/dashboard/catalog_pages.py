"""The catalog: every product (archived ones too), a form to add one, one to change it, and
archiving (no longer sold; what was sold keeps its name and price) or putting it back on sale."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from qrcheckout.access.permissions import Resource
from qrcheckout.catalog.models import Product
from qrcheckout.catalog.schemas import ProductCreate, ProductUpdate
from qrcheckout.dashboard.auth import Form, StaffMember
from qrcheckout.dashboard.pages import done, page, refusal, router
from qrcheckout.errors import DomainError, Invalid
from qrcheckout.http.deps import container
from qrcheckout.money import CURRENCIES, minor_units
from qrcheckout.staff.service import SignedIn

# The form's fields, as the product's.
TEXT_FIELDS = ("name", "description", "image_url")


@router.get("/catalog")
async def catalog(request: Request, member: StaffMember) -> Response:
    products = await container(request).catalog.products(member.access, archived=True)
    return page(request, "catalog.html", member, {"products": products})


@router.get("/catalog/new")
async def new_product(request: Request, member: StaffMember) -> Response:
    return await _form(request, member, None, {})


@router.post("/catalog/new")
async def add_product(request: Request, member: StaffMember, form: Form) -> Response:
    services = container(request)
    try:
        fields = await _fields(request, member, form, None)
        new = ProductCreate.model_validate({"id": str(form.get("id") or "").strip(), **fields})
        added = await services.catalog.add(member.access, new)
    except (DomainError, ValidationError) as exc:
        return await _form(request, member, None, form, exc)
    return done(f"/catalog/{added.id}", "product_created")


@router.get("/catalog/{product_id}")
async def product(product_id: str, request: Request, member: StaffMember) -> Response:
    return await _form(request, member, await _own(request, member, product_id), {})


@router.post("/catalog/{product_id}")
async def save_product(
    product_id: str, request: Request, member: StaffMember, form: Form
) -> Response:
    held = await _own(request, member, product_id)
    try:
        changes = ProductUpdate.model_validate(await _fields(request, member, form, held))
        await container(request).catalog.update(member.access, product_id, changes)
    except (DomainError, ValidationError) as exc:
        return await _form(request, member, held, form, exc)
    return done(f"/catalog/{product_id}", "product_saved")


@router.post("/catalog/{product_id}/archive")
async def archive(product_id: str, request: Request, member: StaffMember, form: Form) -> Response:
    """``active=no`` archives it, ``active=yes`` puts it back on sale."""
    await _own(request, member, product_id)
    if form.get("active") not in ("yes", "no"):
        raise Invalid("invalid_active", "active: 'yes' or 'no'.", field="active")
    active = form.get("active") == "yes"
    await container(request).catalog.update(member.access, product_id, ProductUpdate(active=active))
    return done(f"/catalog/{product_id}", "product_saved" if active else "product_archived")


async def _own(request: Request, member: SignedIn, product_id: str) -> Product:
    found = await container(request).catalog.get(member.access, product_id)
    member.access.listed(Resource.PRODUCT, found)
    return found


async def _fields(
    request: Request, member: SignedIn, form: FormData, held: Product | None
) -> dict[str, Any]:
    """The product as the form gives it: its price (``4.50``) in minor units of its currency,
    limits left empty lifted."""
    fields: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in TEXT_FIELDS}
    fields["image_url"] = fields["image_url"] or None
    currency = str(form.get("currency") or "").strip().lower()
    if not currency:
        brand = await container(request).merchants.brand(member.merchant_id)
        currency = held.currency if held else (brand.default_currency if brand else "usd")
    if currency not in CURRENCIES:
        raise Invalid("invalid_currency", f"{currency.upper()[:10]} is not an ISO 4217 currency.")
    price = minor_units(form.get("price") or "", currency)
    if price is None:
        raise Invalid(
            "invalid_price", f"Give the price in {currency.upper()}, like 4.50.", field="price"
        )
    fields |= {"unit_amount": price, "currency": currency}
    for limit in ("capacity", "max_per_order"):
        text = str(form.get(limit) or "").strip()
        if text and not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise Invalid(f"invalid_{limit}", f"{limit.replace('_', ' ')}: a whole number.")
        fields[limit] = int(text) if text else None
    return fields


async def _form(
    request: Request,
    member: SignedIn,
    held: Product | None,
    sent: FormData | dict[str, str],
    error: DomainError | ValidationError | None = None,
) -> Response:
    message, status = refusal(error) if error is not None else ("", 200)
    return page(
        request,
        "product.html",
        member,
        {"p": held, "sent": sent, "error": message, "currencies": sorted(CURRENCIES)},
        status,
    )
