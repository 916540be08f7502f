"""``POST /create-checkout-session``: a hosted checkout for a cart, as shop front-ends ask.

``{"line_items": [...], "customer_email": "..."}`` answers ``{"sessionId": "cs_...", "url"}``.
Refusals keep the shape those front-ends read: ``{"error": "<why>", "code": "<code>"}``, and
every refusal of the cart itself is a 400, as their server samples answer.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from qrcheckout import errors
from qrcheckout.access.permissions import Access
from qrcheckout.checkout.sessions import SessionCreate
from qrcheckout.http.deps import MAX_IDEMPOTENCY_KEY, Sessions, principal
from qrcheckout.http.errors import INVALID_JSON, headers_of, refusal, status_of
from qrcheckout.http.ratelimit import client_ip, limiter
from qrcheckout.inputs import parse_json
from qrcheckout.ratelimit import Rule

router = APIRouter(tags=["checkout"])

MISSING = "missing required session parameters"


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status)


def _refused_for(exc: errors.DomainError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.message, "code": exc.code}, _status(exc), headers=headers_of(exc)
    )


def _status(exc: errors.DomainError) -> int:
    if isinstance(exc, errors.PaymentDeclined):
        return 402
    if isinstance(exc, errors.Invalid) and exc.code != "validation_error":
        return 400
    return status_of(exc)


@router.post("/create-checkout-session")
async def create_checkout_session(request: Request, sessions: Sessions) -> JSONResponse:
    try:
        await limiter(request).hit(Rule.SESSIONS, client_ip(request))
    except errors.RateLimited as exc:
        return _refused_for(exc)
    try:
        body = parse_json(await request.body())
    except ValueError:  # not JSON, not UTF-8, or nested too deep
        return _refused(400, "invalid_json", INVALID_JSON)
    if not isinstance(body, dict) or not body.get("line_items") or not body.get("customer_email"):
        return _refused(400, "missing_parameters", MISSING)
    try:
        wanted = SessionCreate.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return _refused(422, "validation_error", f"{where}: {first['msg']}")
    try:
        # principal() counts a refused credential against the client (rate_limit_auth_failures).
        access = Access(await principal(request))
        opened = await sessions.open(access, wanted, key=_idempotency_key(request))
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        return _refused_for(refused)
    return JSONResponse({"sessionId": opened.id, "url": opened.url})


def _idempotency_key(request: Request) -> str:
    """The caller's ``Idempotency-Key`` (a retried request opens one session), else a new one."""
    given = request.headers.get("idempotency-key")
    if given and len(given) <= MAX_IDEMPOTENCY_KEY:
        return f"qrcheckout-session-{given}"
    return f"qrcheckout-session-{uuid.uuid4()}"
