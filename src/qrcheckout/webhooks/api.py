"""``POST /v1/webhooks/stripe``: 200 once stored and settled, 400 unsigned, 5xx to be retried."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from qrcheckout.webhooks.service import WebhookService

router = APIRouter(tags=["webhooks"])


@router.post("/v1/webhooks/stripe")
async def stripe_webhook(request: Request) -> dict[str, Any]:
    service: WebhookService = request.app.state.webhooks
    receipt = await service.receive(await request.body(), request.headers.get("stripe-signature"))
    return {
        "received": True,
        "id": receipt.event_id,
        "status": receipt.status.value,
        "duplicate": receipt.duplicate,
    }
