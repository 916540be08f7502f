"""Signing in and out of the back office, and accepting an invitation."""

from __future__ import annotations

import logging
import posixpath
from urllib.parse import unquote, urlsplit

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.dashboard import auth
from qrcheckout.dashboard.auth import Form
from qrcheckout.dashboard.pages import page, router
from qrcheckout.errors import DomainError
from qrcheckout.http.deps import MERCHANT_ID, container
from qrcheckout.http.errors import headers_of, status_of
from qrcheckout.http.ratelimit import client_ip, limiter
from qrcheckout.ratelimit import Rule
from qrcheckout.staff.paths import DASHBOARD_PATH, SIGN_IN_PATH
from qrcheckout.staff.service import account_key

log = logging.getLogger(__name__)


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _sign_in(request)


def _sign_in(request: Request, error: str = "", status: int = 200, email: str = "") -> Response:
    query = request.query_params
    return page(
        request,
        "sign_in.html",
        None,
        {
            "error": error,
            "email": email,
            "merchant": _merchant_param(query.get("merchant")),
            "next": _next(query.get("next")),
        },
        status,
    )


@router.post("/sign-in")
async def sign_in(request: Request, form: Form) -> Response:
    merchant = _merchant_param(str(form.get("merchant") or ""))
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    rates = limiter(request)
    account = account_key(merchant, email)
    try:
        # Counted per account and per address: past either, even the right password waits.
        await rates.check_failures(client_ip(request))
        await rates.check_failures(account, Rule.SIGN_IN)
        secret, member = await container(request).staff.sign_in(merchant, email, password)
    except DomainError as exc:
        if status_of(exc) == 401:
            await rates.failed(client_ip(request))
            await rates.failed(account, Rule.SIGN_IN)
            log.info("back-office sign-in refused for merchant %s", merchant)
        response = _sign_in(request, exc.message, status_of(exc), email)
        response.headers.update(headers_of(exc))
        return response
    moved = RedirectResponse(_next(str(form.get("next") or "")), status_code=303)
    auth.start_session(request, moved, secret)
    request.scope["qrcheckout.staff"] = member
    return moved


@router.post("/sign-out", dependencies=[auth.CSRF])
async def sign_out(request: Request) -> Response:
    secret = auth.session_secret(request)
    if secret:
        await container(request).staff.sign_out(secret)
    moved = RedirectResponse(SIGN_IN_PATH, status_code=303)
    auth.end_session(moved)
    return moved


@router.get("/invite/{code}")
async def invitation(code: str, request: Request) -> Response:
    member = await container(request).staff.invited(code)
    return page(request, "invite.html", None, {"invited": member, "code": code})


@router.post("/invite/{code}")
async def accept_invitation(code: str, request: Request, form: Form) -> Response:
    staff = container(request).staff
    invited = await staff.invited(code)
    password = str(form.get("password") or "")
    if password != str(form.get("password_again") or ""):
        error = "The two passwords differ."
        return page(
            request, "invite.html", None, {"invited": invited, "code": code, "error": error}, 422
        )
    try:
        await staff.accept(code, password)
    except DomainError as exc:
        context = {"invited": invited, "code": code, "error": exc.message}
        return page(request, "invite.html", None, context, status_of(exc))
    secret, _ = await staff.sign_in(invited.merchant_id, invited.email, password)
    moved = RedirectResponse(DASHBOARD_PATH, status_code=303)
    auth.start_session(request, moved, secret)
    return moved


def _merchant_param(value: str | None) -> str:
    return value if value and MERCHANT_ID.fullmatch(value) else DEFAULT_MERCHANT


def _next(value: str | None) -> str:
    """Where to go after signing in: a back-office path only, never another site or page."""
    if not value or "\\" in value or not value.isprintable():
        return DASHBOARD_PATH
    parts = urlsplit(value)
    # Dot segments (``..``, ``%2e%2e``) would step out of it: a path must be plain.
    written = unquote(parts.path)
    path = posixpath.normpath(written) if written else ""
    inside = path == DASHBOARD_PATH or path.startswith(DASHBOARD_PATH + "/")
    if parts.scheme or parts.netloc or not inside or path != written or "//" in value:
        return DASHBOARD_PATH
    return value
