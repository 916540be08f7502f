"""``GET /v1/webhook-deliveries``: every attempt to tell the merchant's backend, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from qrcheckout.http.deps import AccessDep, NotifierDep

router = APIRouter(tags=["notifications"])


@router.get("/v1/webhook-deliveries")
async def deliveries(
    notifier: NotifierDep,
    access: AccessDep,
    event: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict[str, Any]:
    return {"object": "list", "data": await notifier.attempts(access, event, limit)}
