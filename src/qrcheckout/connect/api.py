"""Linking a merchant's own Stripe account: a link to Stripe's consent page, the JSON:API
``stripe-authorizations`` of a front-end that receives the code itself, and the publishable
key a buyer's app pays a merchant with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.connect.models import StripeAccount
from qrcheckout.errors import Invalid, Malformed
from qrcheckout.http.deps import AccessDep, LinksDep, principal
from qrcheckout.http.errors import INVALID_JSON, jsonapi_response, refusal
from qrcheckout.inputs import is_name, parse_json

router = APIRouter(tags=["connect"])

JSONAPI = "application/vnd.api+json"
TYPE = "stripe-authorization"


@router.post("/v1/merchants/{merchant_id}/stripe-connect", status_code=201)
async def start_linking(merchant_id: str, links: LinksDep, access: AccessDep) -> dict[str, Any]:
    """Where the merchant approves, on Stripe, that this platform takes payments into its own
    Stripe account; Stripe then sends it back to ``/connect/stripe/callback``."""
    url, expires_at = await links.start(access, merchant_id)
    return {"object": "stripe_connect_link", "url": url, "expires_at": expires_at.isoformat()}


@router.get("/v1/merchants/{merchant_id}/publishable-key")
async def publishable_key(merchant_id: str, links: LinksDep, access: AccessDep) -> dict[str, Any]:
    """Public: the key a buyer's app creates card tokens with to pay this merchant."""
    key, account = await links.publishable_key(access, merchant_id)
    return {
        "object": "publishable_key",
        "merchant": merchant_id,
        "publishable_key": key,
        "stripe_account": account,
    }


def _resource(link: StripeAccount) -> dict[str, Any]:
    return {
        "type": TYPE,
        "id": link.id,
        "attributes": {
            "stripe-user-id": link.account_id,
            "stripe-publishable-key": link.publishable_key,
            "scope": link.scope,
            "livemode": link.livemode,
            "created-at": link.created_at.isoformat(),
            "unlinked-at": link.unlinked_at.isoformat() if link.unlinked_at else None,
            "unlinked-by": link.unlinked_by,
        },
        "relationships": {"merchant": {"data": {"type": "merchant", "id": link.merchant_id}}},
    }


async def _jsonapi(
    request: Request, work: Callable[[Access], Awaitable[Any]], status: int = 200
) -> JSONResponse:
    """Run ``work`` for the caller; its answer, or its refusal, in JSON:API's envelope."""
    try:
        found = await work(Access(await principal(request)))
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        return jsonapi_response(refused)
    data = [_resource(link) for link in found] if isinstance(found, list) else _resource(found)
    return JSONResponse({"data": data}, status, media_type=JSONAPI)


def _auth_code(body: bytes) -> str:
    try:
        document: Any = parse_json(body) if body.strip() else {}
    except ValueError as exc:
        raise Malformed("invalid_json", INVALID_JSON) from exc
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise Invalid("invalid_document", 'Send {"data": {...}}.', field="data")
    if data.get("type") not in (TYPE, TYPE + "s"):
        raise Invalid("invalid_type", f"data.type must be '{TYPE}'.", field="data.type")
    attributes = data.get("attributes")
    code = attributes.get("stripe-auth-code") if isinstance(attributes, dict) else None
    if not is_name(code, 255) or not code.isascii():
        raise Invalid(
            "auth_code_missing",
            "data.attributes.stripe-auth-code must be the code Stripe sent back (ac_...).",
            field="data.attributes.stripe-auth-code",
        )
    return code


@router.post("/v1/stripe-authorizations", status_code=201)
async def authorize(request: Request, links: LinksDep) -> JSONResponse:
    """JSON:API: ``{"data": {"type": "stripe-authorization", "attributes":
    {"stripe-auth-code": "ac_..."}}}`` links the merchant's Stripe account."""
    body = await request.body()

    async def link(access: Access) -> StripeAccount:
        access.grants(Resource.STRIPE_ACCOUNT, Action.CREATE)  # who asks, before what
        return await links.authorize(access, _auth_code(body))

    return await _jsonapi(request, link, status=201)


@router.get("/v1/stripe-authorizations")
async def list_authorizations(request: Request, links: LinksDep) -> JSONResponse:
    """The merchant's links, newest first (the first is the one it is paid on, if live)."""
    return await _jsonapi(request, links.all)


@router.get("/v1/stripe-authorizations/{link_id}")
async def get_authorization(link_id: str, request: Request, links: LinksDep) -> JSONResponse:
    return await _jsonapi(request, lambda access: links.get(access, link_id))


@router.delete("/v1/stripe-authorizations/{link_id}")
async def unlink(link_id: str, request: Request, links: LinksDep) -> JSONResponse:
    """Revoke the platform's access to the account: the merchant takes no new payments until
    it links one again."""
    return await _jsonapi(request, lambda access: links.unlink(access, link_id))
