"""The back office's page machinery: its router, how a page is rendered, and how a refusal is.

Every page acts as the signed-in staff member's role (owner or staff) through the one
permission table, like any API caller; a refusal is rendered as a page, not JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from qrcheckout.dashboard import auth
from qrcheckout.dashboard.auth import SignInNeeded
from qrcheckout.errors import DomainError, Malformed
from qrcheckout.http.errors import headers_of, status_of
from qrcheckout.money import format_amount, plain_amount
from qrcheckout.staff.paths import DASHBOARD_PATH
from qrcheckout.staff.service import SignedIn

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["money"] = format_amount
templates.env.globals["plain_amount"] = plain_amount
templates.env.globals["csrf_field"] = auth.CSRF_FIELD
templates.env.globals["DASHBOARD"] = DASHBOARD_PATH
# What a page may say after a change it redirected from: a code in the URL, never its text.
NOTICES = {
    "refunded": "The refund was made.",
    "refund_pending": "The refund was asked for; the provider confirms it shortly.",
    "order_cancelled": "The order was cancelled.",
    "token_cancelled": "The checkout was cancelled.",
    "product_saved": "The product was saved.",
    "product_created": "The product was added to the catalog.",
    "product_archived": "The product was archived: it is no longer on sale.",
    "event_replayed": "The event was processed again.",
    "delivery_queued": "The delivery will be sent again shortly.",
    "settings_saved": "The settings were saved.",
    "key_revoked": "The key was revoked.",
    "staff_removed": "The account was removed.",
}


class DashboardRoute(APIRoute):
    """A back-office route: without a session the browser is sent to sign in, and a refusal
    (its own, a dependency's, a bad query) is a page with the refusal's status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInNeeded as exc:
                return RedirectResponse(auth.sign_in_url(exc.next_path), status_code=303)
            except DomainError as exc:
                return refused(request, exc)
            except RequestValidationError as exc:
                return refused(request, Malformed("validation_error", first_error(exc.errors())))

        return page


router = APIRouter(prefix=DASHBOARD_PATH, include_in_schema=False, route_class=DashboardRoute)


def page(
    request: Request,
    name: str,
    member: SignedIn | None,
    context: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A back-office page: ``no-store``, since it shows what only staff may see."""
    shown = templates.TemplateResponse(
        request,
        name,
        {
            "member": member,
            "csrf": auth.csrf_token(request),
            "notice": NOTICES.get(request.query_params.get("done") or ""),
            **(context or {}),
        },
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
    return auth.keep_presession(request, shown)


def done(path: str, notice: str) -> RedirectResponse:
    """After a change: back to ``path``, which says ``NOTICES[notice]``."""
    return RedirectResponse(f"{DASHBOARD_PATH}{path}?{urlencode({'done': notice})}", 303)


def first_error(errors: Sequence[Any]) -> str:
    """The first of a validation's errors, as a page says it: ``where: what``."""
    first = errors[0] if errors else {"msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def refusal(exc: DomainError | ValidationError) -> tuple[str, int]:
    """What a form's page says of a refusal, and its status."""
    if isinstance(exc, DomainError):
        return exc.message, status_of(exc)
    return first_error(exc.errors()), 422


def day(request: Request, name: str) -> date | None:
    """A ``YYYY-MM-DD`` query parameter; refused (400) when it is not one."""
    text = request.query_params.get(name) or ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Malformed("invalid_date", f"{name}: {text[:40]!r} is not a date.") from exc


def next_page(request: Request, after: str | None) -> str | None:
    """The link to the page after this one (its filters kept), or None on the last."""
    if after is None:
        return None
    kept = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return f"?{urlencode({**kept, 'after': after})}"


def refused(request: Request, exc: DomainError) -> Response:
    member = request.scope.get("qrcheckout.staff")
    return page(
        request,
        "refused.html",
        member if isinstance(member, SignedIn) else None,
        {"error": exc},
        status_of(exc),
        headers_of(exc),
    )
