"""Settings, kept by the shop's owner: its face on the pages (name, logo, accent colour), where
its buyers and browsers may come from, its webhook endpoints, its API keys, its linked Stripe
account, and its staff. Staff see them; only the owner changes them."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from qrcheckout.access.permissions import Action, Resource
from qrcheckout.access.schemas import KeyCreate, MerchantSettings
from qrcheckout.dashboard.auth import CSRF, Form, StaffMember
from qrcheckout.dashboard.pages import done, page, refusal, router
from qrcheckout.errors import DomainError, Malformed
from qrcheckout.http.deps import container
from qrcheckout.http.errors import status_of
from qrcheckout.money import CURRENCIES
from qrcheckout.staff.paths import INVITE_PATH
from qrcheckout.staff.service import SignedIn, StaffRole

# The settings a form sets as text, and those it sets as one value a line.
TEXT = ("name", "logo_url", "accent_color", "support_email", "default_currency")
LINES = ("allowed_origins", "webhook_urls")
MAX_LINES = 50


@router.get("/settings")
async def settings(request: Request, member: StaffMember) -> Response:
    return await _page(request, member)


async def _page(
    request: Request,
    member: SignedIn,
    *,
    sent: FormData | None = None,
    error: str = "",
    status: int = 200,
    shown_once: dict[str, str] | None = None,
) -> Response:
    services = container(request)
    access = member.access
    merchant = await services.merchants.get(access, member.merchant_id)
    # What the page offers follows the permission table, as every action behind it does.
    may_keys = access.may(Resource.API_KEY, Action.LIST)
    linked = access.may(Resource.STRIPE_ACCOUNT, Action.LIST)
    links = await services.links.all(access) if linked else []
    return page(
        request,
        "settings.html",
        member,
        {
            "m": merchant,
            "sent": sent,
            "error": error,
            "may_edit": access.may(Resource.MERCHANT, Action.UPDATE),
            "may_keys": may_keys,
            "may_link": access.may(Resource.STRIPE_ACCOUNT, Action.CREATE),
            "may_invite": access.may(Resource.STAFF_MEMBER, Action.CREATE),
            "keys": await services.merchants.keys(member.merchant_id) if may_keys else [],
            "link": next((link for link in links if link.unlinked_at is None), None),
            "connect": services.settings.connect_client_id is not None,
            "staff": await services.staff.members(access),
            "currencies": sorted(CURRENCIES),
            "once": shown_once or {},
        },
        status,
    )


@router.post("/settings")
async def save_settings(request: Request, member: StaffMember, form: Form) -> Response:
    member.access.grants(Resource.MERCHANT, Action.UPDATE)  # refused before anything is read
    try:
        changes = MerchantSettings.model_validate(_settings_of(form))
        await container(request).merchants.update(member.access, member.merchant_id, changes)
    except (DomainError, ValidationError) as exc:
        message, status = refusal(exc)
        return await _page(request, member, sent=form, error=message, status=status)
    return done("/settings", "settings_saved")


def _settings_of(form: FormData) -> dict[str, Any]:
    """The form as the API's settings: an empty optional field clears it, a list is a line
    each."""
    fields: dict[str, Any] = {}
    for name in TEXT:
        text = str(form.get(name) or "").strip()
        fields[name] = text or None
    for name in LINES:
        lines = [line.strip() for line in str(form.get(name) or "").splitlines()]
        kept = [line for line in lines if line]
        if len(kept) > MAX_LINES:
            raise Malformed("too_many_lines", f"{name}: at most {MAX_LINES} lines.")
        fields[name] = kept
    return fields


# -- API keys ----------------------------------------------------------------------------------


@router.post("/settings/keys")
async def create_key(request: Request, member: StaffMember, form: Form) -> Response:
    merchants = container(request).merchants
    merchants.may_manage_keys(member.access, member.merchant_id, Action.CREATE)
    try:
        wanted = KeyCreate.model_validate({"name": str(form.get("name") or "").strip()})
    except ValidationError as exc:
        message, status = refusal(exc)
        return await _page(request, member, error=message, status=status)
    made = await merchants.create_key(member.merchant_id, wanted.name)
    return await _page(request, member, shown_once={"key": made.secret})


@router.post("/settings/keys/{key_id}/revoke", dependencies=[CSRF])
async def revoke_key(key_id: str, request: Request, member: StaffMember) -> Response:
    merchants = container(request).merchants
    merchants.may_manage_keys(member.access, member.merchant_id, Action.CANCEL)
    await merchants.revoke_key(member.merchant_id, key_id)
    return done("/settings", "key_revoked")


# -- the linked Stripe account -----------------------------------------------------------------


@router.post("/settings/stripe-connect", dependencies=[CSRF])
async def connect_stripe(request: Request, member: StaffMember) -> Response:
    """Off to Stripe, to approve that payments go into the merchant's own account."""
    url, _ = await container(request).links.start(member.access, member.merchant_id)
    return RedirectResponse(url, status_code=303)


# -- staff -------------------------------------------------------------------------------------


@router.post("/settings/staff")
async def invite(request: Request, member: StaffMember, form: Form) -> Response:
    member.access.grants(Resource.STAFF_MEMBER, Action.CREATE)
    role = str(form.get("role") or StaffRole.STAFF.value)
    if role not in StaffRole.__members__.values():
        raise Malformed("invalid_role", f"No role {role[:20]!r}.", field="role")
    services = container(request)
    try:
        made = await services.staff.invite_by(
            member.access, str(form.get("email") or ""), StaffRole(role)
        )
    except DomainError as exc:
        return await _page(request, member, error=exc.message, status=status_of(exc))
    link = f"{services.settings.public_url}{INVITE_PATH}/{made.code}"
    return await _page(request, member, shown_once={"invite": link, "email": made.email})


@router.post("/settings/staff/{member_id}/remove", dependencies=[CSRF])
async def remove(member_id: str, request: Request, member: StaffMember) -> Response:
    await container(request).staff.remove(member.access, member_id)
    return done("/settings", "staff_removed")
