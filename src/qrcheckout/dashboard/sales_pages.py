"""The overview (live) and the list of payments, with its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response, StreamingResponse

from qrcheckout.checkout.service import TOKENS_TOPIC
from qrcheckout.dashboard import auth
from qrcheckout.dashboard.auth import StaffMember
from qrcheckout.dashboard.pages import day, next_page, page, router, templates
from qrcheckout.dashboard.sales import STATUSES, SaleFilters, Sales
from qrcheckout.errors import Malformed
from qrcheckout.http.deps import container
from qrcheckout.listing import MAX_PAGE
from qrcheckout.money import plain_amount
from qrcheckout.realtime.sse import event_stream
from qrcheckout.realtime.watch import Watch
from qrcheckout.staff.paths import DASHBOARD_PATH

# Keeps idle connections open, and bounds how long a session that ended keeps its stream.
KEEPALIVE_SECONDS = 5.0
# The longest query a payment search keeps.
MAX_QUERY = 320
CSV_PAGE = 500


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
    secret = auth.session_secret(request) or ""

    async def signed_in() -> bool:
        # Signed out, removed or expired since: the stream ends, and tells nothing more.
        return await services.staff.session(secret) is not None

    return event_stream(watch, "overview", signed_in)


# -- payments ----------------------------------------------------------------------------------


def _filters(request: Request, limit: int | None = None) -> SaleFilters:
    query = request.query_params
    if limit is None and query.get("limit"):
        text = query["limit"]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
            raise Malformed("invalid_limit", f"limit: a page holds 1 to {MAX_PAGE} payments.")
        limit = int(text)
    return SaleFilters(
        q=(query.get("q") or "")[:MAX_QUERY],
        status=query.get("status") or "",
        provider=(query.get("provider") or "")[:16],
        since=day(request, "since"),
        until=day(request, "until"),
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
            "next_url": next_page(request, after),
            "csv_url": f"{DASHBOARD_PATH}/payments.csv?{urlencode(kept)}",
        },
    )


@router.get("/payments.csv")
async def payments_csv(request: Request, member: StaffMember) -> StreamingResponse:
    """Every payment the filters keep, a page at a time from the database."""
    sales = Sales(container(request).db)
    first = _filters(request, CSV_PAGE)

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "id",
                "created",
                "status",
                "amount",
                "refunded",
                "currency",
                "provider",
                "token",
                "order",
                "email",
            ]
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
                        plain_amount(sale.refunded, sale.currency),
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
