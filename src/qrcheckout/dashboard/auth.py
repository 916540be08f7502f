"""Who is signed in to the back office, and which of its forms are genuine.

A session lives in an ``HttpOnly`` cookie (``SameSite=Lax``, ``Secure`` over https) holding a
secret the database knows only by its SHA-256. Every form carries a CSRF token: an HMAC of the
secret cookie this browser holds (its session's, or before signing in a pre-session one), so a
page of another site can neither read nor forge it. A form is also refused when the browser says
it was sent from another site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from qrcheckout.errors import Forbidden
from qrcheckout.http.deps import container
from qrcheckout.staff.paths import DASHBOARD_PATH, SIGN_IN_PATH
from qrcheckout.staff.service import SignedIn

SESSION_COOKIE = "qrcheckout_staff"
PRESESSION_COOKIE = "qrcheckout_presession"
CSRF_FIELD = "csrf"
# Forms are small; a larger body is not one of ours.
MAX_FORM_FIELDS = 200


class SignInNeeded(Exception):
    """No valid session: the browser is sent to the sign-in page, then back to ``next``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class FormRefused(Forbidden):
    """A form without its CSRF token, with another one, or sent from another site."""


async def staff_member(request: Request) -> SignedIn:
    """The signed-in staff member; sends the browser to sign in without one."""
    found = await _session(request)
    if found is None:
        path = request.url.path
        query = request.url.query
        raise SignInNeeded(path + ("?" + query if query else ""))
    return found


async def _session(request: Request) -> SignedIn | None:
    cached = request.scope.get("qrcheckout.staff")
    if isinstance(cached, SignedIn):
        return cached
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    found = await container(request).staff.session(secret)
    if found is not None:
        request.scope["qrcheckout.staff"] = found
    return found


StaffMember = Annotated[SignedIn, Depends(staff_member)]


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry (a pre-session secret is made when it has none)."""
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    if not secret:
        secret = request.scope.setdefault("qrcheckout.presession", secrets.token_urlsafe(32))
    return _mac(secret)


def keep_presession(request: Request, response: Response) -> Response:
    """Hand the browser the pre-session secret a page's forms were signed with, if one was made."""
    made = request.scope.get("qrcheckout.presession")
    if made:
        _cookie(request, response, PRESESSION_COOKIE, made)
    return response


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches this browser's secret and the browser does
    not say it came from another site; refused (403) otherwise, before anything is done."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if site == "cross-site" or (origin is not None and origin not in (own, "null")):
        raise FormRefused("csrf_failed", "This form was sent from another site.")
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    sent = form.get(CSRF_FIELD)
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    if not isinstance(sent, str) or not secret or not hmac.compare_digest(sent, _mac(secret)):
        raise FormRefused(
            "csrf_failed", "This form has expired or was not sent from this site: reload the page."
        )
    return form


Form = Annotated[FormData, Depends(checked_form)]
#: For a form route that reads nothing of its form but must check it.
CSRF = Depends(checked_form)


def start_session(request: Request, response: Response, secret: str) -> None:
    _cookie(request, response, SESSION_COOKIE, secret)
    response.delete_cookie(PRESESSION_COOKIE, path=DASHBOARD_PATH)


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=DASHBOARD_PATH)


def session_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def sign_in_url(next_path: str = "") -> str:
    return SIGN_IN_PATH + ("?" + urlencode({"next": next_path}) if next_path else "")


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=DASHBOARD_PATH,
        # Over https, or served at an https address through a proxy this one does not trust.
        secure=request.url.scheme == "https"
        or container(request).settings.public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def _mac(secret: str) -> str:
    return hmac.new(secret.encode(), b"qrcheckout back-office form", hashlib.sha256).hexdigest()
