"""``POST /create-checkout-session``: a hosted checkout for a cart, as shop front-ends ask.

``{"line_items": [...], "customer_email": "..."}`` answers ``{"sessionId": "cs_...", "url"}``.
Refusals keep the shape those front-ends read: ``{"error": "<why>", "code": "<code>"}``, and
every refusal of the cart itself is a 400, as their server samples answer.
"""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from qrcheckout import errors
from qrcheckout.checkout.sessions import SessionCreate
from qrcheckout.http.deps import MAX_IDEMPOTENCY_KEY, Sessions, SettingsDep, holds_api_key
from qrcheckout.http.errors import status_of

router = APIRouter(tags=["checkout"])

MISSING = "missing required session parameters"


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status)


def _status(exc: errors.DomainError) -> int:
    if isinstance(exc, errors.PaymentDeclined):
        return 402
    if isinstance(exc, errors.Invalid) and exc.code != "validation_error":
        return 400
    return status_of(exc)


@router.post("/create-checkout-session")
async def create_checkout_session(
    request: Request, sessions: Sessions, settings: SettingsDep
) -> JSONResponse:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _refused(400, "invalid_json", "The request body is not valid JSON.")
    if not isinstance(body, dict) or not body.get("line_items") or not body.get("customer_email"):
        return _refused(400, "missing_parameters", MISSING)
    try:
        wanted = SessionCreate.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return _refused(422, "validation_error", f"{where}: {first['msg']}")
    header = request.headers.get("authorization")
    trusted = _holds_api_key(header, settings.api_key)
    if header is not None and not trusted:
        return _refused(401, "invalid_api_key", "The API key in Authorization is not valid.")
    try:
        opened = await sessions.open(wanted, trusted=trusted, key=_idempotency_key(request))
    except errors.DomainError as exc:
        return _refused(_status(exc), exc.code, exc.message)
    return JSONResponse({"sessionId": opened.id, "url": opened.url})


def _holds_api_key(header: str | None, api_key: str | None) -> bool:
    if not api_key or not header:
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and holds_api_key(given.strip(), api_key)


def _idempotency_key(request: Request) -> str:
    """The caller's ``Idempotency-Key`` (a retried request opens one session), else a new one."""
    given = request.headers.get("idempotency-key")
    if given and len(given) <= MAX_IDEMPOTENCY_KEY:
        return f"qrcheckout-session-{given}"
    return f"qrcheckout-session-{uuid.uuid4()}"
