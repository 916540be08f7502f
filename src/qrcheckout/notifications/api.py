"""``GET /v1/webhook-deliveries``: every attempt to tell the merchant's backend, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from qrcheckout import auth
from qrcheckout.notifications.service import Notifier

router = APIRouter(tags=["notifications"])


@router.get("/v1/webhook-deliveries", dependencies=[Depends(auth.merchant)])
async def deliveries(
    request: Request,
    event: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> dict[str, Any]:
    notifier: Notifier = request.app.state.notifier
    return {"object": "list", "data": await notifier.attempts(event, limit)}
