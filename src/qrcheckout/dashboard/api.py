"""The back office's pages: signing in, the overview (live), payments.

Every page acts as the signed-in staff member's role (owner or staff) through the one
permission table, like any API caller; a refusal is rendered as a page, not JSON.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask
from starlette.responses import RedirectResponse, Response, StreamingResponse

from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.checkout.service import TOKENS_TOPIC
from qrcheckout.dashboard import auth
from qrcheckout.dashboard.auth import Form, SignInNeeded, StaffMember
from qrcheckout.dashboard.sales import STATUSES, SaleFilters, Sales
from qrcheckout.errors import DomainError, Malformed
from qrcheckout.http.deps import MERCHANT_ID, container
from qrcheckout.http.errors import headers_of, status_of
from qrcheckout.http.ratelimit import client_ip, limiter
from qrcheckout.listing import MAX_PAGE
from qrcheckout.money import format_amount, plain_amount
from qrcheckout.ratelimit import Rule
from qrcheckout.realtime.watch import Watch
from qrcheckout.staff.paths import DASHBOARD_PATH, SIGN_IN_PATH
from qrcheckout.staff.service import SignedIn

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
# The longest query a payment search keeps.
MAX_QUERY = 320

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["money"] = format_amount
templates.env.globals["csrf_field"] = auth.CSRF_FIELD
templates.env.globals["DASHBOARD"] = DASHBOARD_PATH


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
                return _refused(request, exc)
            except RequestValidationError as exc:
                where = ".".join(str(p) for p in exc.errors()[0].get("loc", ()))
                message = f"{where}: {exc.errors()[0]['msg']}" if where else "invalid request"
                return _refused(request, Malformed("validation_error", message))

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
        {"member": member, "csrf": auth.csrf_token(request), **(context or {})},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
    return auth.keep_presession(request, shown)


def _refused(request: Request, exc: DomainError) -> Response:
    member = request.scope.get("qrcheckout.staff")
    return page(
        request,
        "refused.html",
        member if isinstance(member, SignedIn) else None,
        {"error": exc},
        status_of(exc),
        headers_of(exc),
    )


# -- signing in ---------------------------------------------------------------------------------


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
    account = f"{merchant}:{email.lower()}"
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


@router.post("/sign-out")
async def sign_out(request: Request, form: Form) -> Response:
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
    """Where to go after signing in: a back-office path only, never another site."""
    if not value:
        return DASHBOARD_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(DASHBOARD_PATH) or "\\" in value:
        return DASHBOARD_PATH
    return value


# -- overview ----------------------------------------------------------------------------------


@router.get("")
async def overview(request: Request, member: StaffMember) -> Response:
    figures = await Sales(container(request).db).overview(member.access)
    return page(request, "overview.html", member, {"o": figures})


@router.get("/live")
async def live(request: Request, member: StaffMember) -> StreamingResponse:
    """The overview's figures, again whenever one of the merchant's tokens changes."""
    services = container(request)
    sales = Sales(services.db)

    async def read() -> dict[str, Any]:
        figures = await sales.overview(member.access)
        html = templates.get_template("_live.html").render(o=figures, DASHBOARD=DASHBOARD_PATH)
        return {"html": html}

    watch = Watch(
        services.bus,
        TOKENS_TOPIC,
        read,
        lambda _: False,
        poll_seconds=services.settings.watch_poll_seconds,
        keepalive_seconds=KEEPALIVE_SECONDS,
        reread_on=lambda notice: notice.get("merchant_id") == member.merchant_id,
        transport="sse",
    )
    await watch.open()

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        async for state in watch.states():
            yield f"event: overview\ndata: {json.dumps(state)}\n\n" if state else ": keepalive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(watch.close),
    )


# -- payments ----------------------------------------------------------------------------------


def _filters(request: Request, limit: int | None = None) -> SaleFilters:
    query = request.query_params

    def day(name: str) -> date | None:
        text = query.get(name) or ""
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise Malformed("invalid_date", f"{name}: {text[:40]!r} is not a date.") from exc

    if limit is None and query.get("limit"):
        text = query["limit"]
        if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
            raise Malformed("invalid_limit", f"limit: a page holds 1 to {MAX_PAGE} payments.")
        limit = int(text)
    return SaleFilters(
        q=(query.get("q") or "")[:MAX_QUERY],
        status=query.get("status") or "",
        provider=(query.get("provider") or "")[:16],
        since=day("since"),
        until=day("until"),
        after=(query.get("after") or "")[:400],
        **({"limit": limit} if limit else {}),
    )


@router.get("/payments")
async def payments(request: Request, member: StaffMember) -> Response:
    filters = _filters(request)
    rows, after = await Sales(container(request).db).page(member.access, filters)
    kept = {k: v for k, v in request.query_params.items() if k != "after" and v}
    return page(
        request,
        "payments.html",
        member,
        {
            "rows": rows,
            "f": filters,
            "statuses": STATUSES,
            "providers": list(container(request).providers),
            "next_url": f"?{urlencode({**kept, 'after': after})}" if after else None,
            "csv_url": f"{DASHBOARD_PATH}/payments.csv?{urlencode(kept)}",
        },
    )


CSV_PAGE = 500


@router.get("/payments.csv")
async def payments_csv(request: Request, member: StaffMember) -> StreamingResponse:
    """Every payment the filters keep, a page at a time from the database."""
    sales = Sales(container(request).db)
    first = _filters(request, CSV_PAGE)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["id", "created", "status", "amount", "currency", "provider", "token", "order", "email"]
        )
        filters: SaleFilters | None = first
        while filters is not None:
            found, after = await sales.page(member.access, filters)
            for sale in found:
                writer.writerow(
                    [
                        sale.id,
                        sale.at.isoformat(),
                        sale.status,
                        plain_amount(sale.amount, sale.currency),
                        sale.currency.upper(),
                        sale.provider,
                        sale.token_id or "",
                        sale.order_id or "",
                        _cell(sale.email or ""),
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            filters = SaleFilters(**{**filters.__dict__, "after": after}) if after else None

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="payments.csv"',
            "Cache-Control": "no-store",
        },
    )


def _cell(text: str) -> str:
    # A cell a spreadsheet would run as a formula is kept as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
