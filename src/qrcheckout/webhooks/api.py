"""``POST /v1/webhooks/{provider}`` (``stripe``, ``paypal``): 200 once stored and settled, 400
unsigned or not an event that can be stored, 5xx to be retried. A stored event whose object
cannot be read is settled as ``failed``, with the reason in ``error``: 200, since retrying the
same event cannot help."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from qrcheckout.errors import Malformed
from qrcheckout.http.deps import Webhooks
from qrcheckout.inputs import parse_json

router = APIRouter(tags=["webhooks"])


@router.post("/v1/webhooks/echo", include_in_schema=False)
async def echo(request: Request) -> dict[str, Any]:
    """Parses the body and nothing more: the baseline the webhook benchmark compares against."""
    try:
        event = parse_json(await request.body())
    except ValueError as exc:
        raise Malformed("invalid_json", "The body is not valid JSON.") from exc
    return {"received": True, "id": event.get("id") if isinstance(event, dict) else None}


@router.post("/v1/webhooks/{provider}")
async def provider_webhook(request: Request, intake: Webhooks) -> dict[str, Any]:
    receipt = await intake.receive(await request.body(), request.headers)
    return {
        "received": True,
        "id": receipt.event_id,
        "status": receipt.status.value,
        "duplicate": receipt.duplicate,
    } | ({"error": receipt.error} if receipt.error else {})
