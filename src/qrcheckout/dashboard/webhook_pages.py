"""Webhooks: the events each provider sent (a failed one replayed), the deliveries to the
merchant's own endpoints with every attempt (any one sent again), and the endpoints' signing
secret, rotated on demand by the owner and shown that once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from starlette.responses import Response

from qrcheckout.access.permissions import Action, Resource
from qrcheckout.dashboard.auth import CSRF, StaffMember
from qrcheckout.dashboard.pages import done, page, router
from qrcheckout.errors import Malformed, NotFound
from qrcheckout.http.deps import container
from qrcheckout.staff.service import SignedIn
from qrcheckout.webhooks.service import stored_events
from qrcheckout.webhooks.states import EventStatus

SHOWN = 100


@router.get("/webhooks")
async def webhooks(request: Request, member: StaffMember) -> Response:
    return await _page(request, member)


async def _page(request: Request, member: SignedIn, secret: str | None = None) -> Response:
    services = container(request)
    wanted = request.query_params.get("status") or ""
    if wanted and wanted not in EventStatus.__members__.values():
        raise Malformed("invalid_status", f"No event status {wanted[:40]!r}.", field="status")
    status = EventStatus(wanted) if wanted else None
    brand = await services.merchants.brand(member.merchant_id)
    return page(
        request,
        "webhooks.html",
        member,
        {
            "events": await stored_events(services.db, member.access, status, SHOWN),
            "status": wanted,
            "statuses": [s.value for s in EventStatus],
            "deliveries": await services.notifier.deliveries(member.access, SHOWN),
            "endpoints": brand.webhook_urls if brand else [],
            "may_rotate": member.access.may(Resource.MERCHANT, Action.UPDATE),
            "secret": secret,
        },
    )


@router.post("/webhooks/events/{provider}/{event_id}/replay", dependencies=[CSRF])
async def replay(provider: str, event_id: str, request: Request, member: StaffMember) -> Response:
    intake = container(request).webhooks.get(provider)
    if intake is None:
        raise NotFound("provider_not_found", f"No payment provider {provider[:20]!r} here.")
    await intake.replay(member.access, event_id)
    return done("/webhooks", "event_replayed")


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", dependencies=[CSRF])
async def redeliver(
    delivery_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, member: StaffMember
) -> Response:
    await container(request).notifier.redeliver(member.access, delivery_id)
    return done("/webhooks", "delivery_queued")


@router.post("/webhooks/secret", dependencies=[CSRF])
async def rotate_secret(request: Request, member: StaffMember) -> Response:
    """A new signing secret, shown on this page this once: the old one signs nothing more."""
    merchants = container(request).merchants
    secret = await merchants.rotate_webhook_secret(member.access, member.merchant_id)
    return await _page(request, member, secret)
