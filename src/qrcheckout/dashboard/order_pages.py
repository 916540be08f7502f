"""Orders and checkouts (tokens): a list, each one's page with its timeline, a refund (asked,
confirmed, made once however often the confirmation is sent), and cancelling what is pending."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, time
from typing import Literal

import anyio
from fastapi import Request
from starlette.responses import Response

from qrcheckout.access.permissions import Resource
from qrcheckout.checkout import posters
from qrcheckout.dashboard.auth import CSRF, Form, StaffMember
from qrcheckout.dashboard.pages import day, done, next_page, page, router
from qrcheckout.dashboard.timeline import Timelines
from qrcheckout.errors import DomainError, Malformed
from qrcheckout.http.deps import container
from qrcheckout.http.errors import status_of
from qrcheckout.listing import ListFilters
from qrcheckout.money import minor_units
from qrcheckout.orders.states import PAID as PAID_ORDER
from qrcheckout.orders.states import REFUNDABLE, OrderStatus
from qrcheckout.staff.service import SignedIn

PAGE = 50
REFUND_KEY = re.compile(r"^[0-9a-f]{32}$")


@router.get("/orders")
async def orders(request: Request, member: StaffMember) -> Response:
    query = request.query_params
    status = query.get("status") or None
    if status is not None and status not in OrderStatus.__members__.values():
        raise Malformed("invalid_status", f"No order status {status[:40]!r}.", field="status")
    since = day(request, "since")
    filters = ListFilters(
        limit=PAGE,
        starting_after=(query.get("after") or None),
        status=status,
        created_gte=datetime.combine(since, time(), UTC) if since else None,
        email=(query.get("email") or "").strip()[:320] or None,
    )
    found, more = await container(request).orders.page(member.access, filters)
    after = found[-1]["id"] if more and found else None
    return page(
        request,
        "orders.html",
        member,
        {
            "rows": found,
            "status": status or "",
            "email": filters.email or "",
            "since": query.get("since") or "",
            "statuses": [s.value for s in OrderStatus],
            "next_url": next_page(request, after),
        },
    )


@router.get("/orders/{order_id}")
async def order(order_id: str, request: Request, member: StaffMember) -> Response:
    return await _order_page(request, member, order_id)


async def _order_page(
    request: Request,
    member: SignedIn,
    order_id: str,
    *,
    error: str = "",
    status: int = 200,
    confirm: int | None = None,
) -> Response:
    story = await Timelines(container(request).db).order(member.access, order_id)
    held = story.order
    left = held.amount_paid - held.amount_refunded
    return page(
        request,
        "order.html",
        member,
        {
            "story": story,
            "o": held,
            "left": left,
            "refundable": held.status in REFUNDABLE and left > 0,
            "paid": held.status in PAID_ORDER,
            "cancellable": held.status == OrderStatus.PENDING,
            "error": error,
            "confirm": confirm,
            # A refund confirmed twice (a double click, a resent form) is made once.
            "refund_key": secrets.token_hex(16),
        },
        status,
    )


@router.post("/orders/{order_id}/refund")
async def refund(order_id: str, request: Request, member: StaffMember, form: Form) -> Response:
    """Asked with an amount, the page asks to confirm it; confirmed, the refund is made."""
    held = await container(request).orders.get(order_id)
    member.access.listed(Resource.ORDER, held)
    amount = minor_units(form.get("amount") or "", held.currency)
    if not amount:
        why = f"Give the amount to refund in {held.currency.upper()}, like 2.50."
        return await _order_page(request, member, order_id, error=why, status=422)
    key = str(form.get("key") or "")
    if form.get("confirmed") != "yes" or not REFUND_KEY.fullmatch(key):
        return await _order_page(request, member, order_id, confirm=amount)
    try:
        made, _ = await container(request).order_payments.refund(
            member.access, order_id, amount, f"dashboard-{key}"
        )
    except DomainError as exc:
        # Said on the order's page: too much, already refunded, the provider refused.
        why = exc.message
        return await _order_page(request, member, order_id, error=why, status=status_of(exc))
    return done(
        f"/orders/{order_id}", "refunded" if made.status == "succeeded" else "refund_pending"
    )


@router.post("/orders/{order_id}/cancel", dependencies=[CSRF])
async def cancel_order(order_id: str, request: Request, member: StaffMember) -> Response:
    member.access.listed(Resource.ORDER, await container(request).orders.get(order_id))
    await container(request).orders.cancel(member.access, order_id)
    return done(f"/orders/{order_id}", "order_cancelled")


@router.get("/tokens/{token_id}")
async def token(token_id: str, request: Request, member: StaffMember) -> Response:
    story = await Timelines(container(request).db).token(member.access, token_id)
    out = container(request).tokens.to_out(story.token)
    return page(request, "token.html", member, {"story": story, "t": out})


@router.get("/tokens/{token_id}/poster.{kind}")
async def poster(
    token_id: str, kind: Literal["png", "pdf"], request: Request, member: StaffMember
) -> Response:
    """A printable poster of the token's code: the shop's name, the amount, what it sells."""
    services = container(request)
    held = await services.tokens.get(token_id)
    member.access.listed(Resource.TOKEN, held)
    out = services.tokens.to_out(held)
    brand = await services.merchants.brand(held.merchant_id)
    caption = ", ".join(f"{item.quantity} × {item.name}" for item in out.items)
    draw = posters.png if kind == "png" else posters.pdf
    made = await anyio.to_thread.run_sync(
        draw,
        out.url,
        brand.name if brand else "qrcheckout",
        out.amount_display,
        caption,
        brand.accent_color if brand else None,
    )
    return Response(
        made,
        media_type="image/png" if kind == "png" else "application/pdf",
        headers={"Content-Disposition": f'inline; filename="qr-{token_id}.{kind}"'},
    )


@router.post("/tokens/{token_id}/cancel", dependencies=[CSRF])
async def cancel_token(token_id: str, request: Request, member: StaffMember) -> Response:
    member.access.listed(Resource.TOKEN, await container(request).tokens.get(token_id))
    await container(request).tokens.cancel(member.access, token_id)
    return done(f"/tokens/{token_id}", "token_cancelled")
