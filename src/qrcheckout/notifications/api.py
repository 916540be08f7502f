"""``GET /v1/webhook-deliveries``: every attempt to tell the merchant's backend, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from qrcheckout.http.deps import Merchant, NotifierDep

router = APIRouter(tags=["notifications"])


@router.get("/v1/webhook-deliveries", dependencies=[Merchant])
async def deliveries(
    notifier: NotifierDep,
    event: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict[str, Any]:
    return {"object": "list", "data": await notifier.attempts(event, limit)}
