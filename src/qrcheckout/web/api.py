"""Server-rendered pages: the demo shop, the desktop QR page, and the phone's scan pages."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from qrcheckout.access.models import DEFAULT_MERCHANT, Merchant
from qrcheckout.access.permissions import PUBLIC_TOKEN, Access
from qrcheckout.checkout import qr
from qrcheckout.checkout.receipts import ReceiptState, receipt_of
from qrcheckout.checkout.schemas import TokenCreate
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.connect.service import CALLBACK_PATH
from qrcheckout.errors import DomainError, RateLimited
from qrcheckout.http.deps import (
    CANCEL_COOKIE,
    AccessDep,
    LinksDep,
    Sessions,
    Tokens,
    container,
    principal,
)
from qrcheckout.http.errors import headers_of, status_of
from qrcheckout.http.ratelimit import client_ip, limiter
from qrcheckout.money import format_amount
from qrcheckout.ratelimit import Rule

router = APIRouter(include_in_schema=False)
CANCEL_COOKIE_SECONDS = 86_400
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["money"] = format_amount


def brand_of(request: Request) -> Merchant | None:
    found: Merchant | None = getattr(request.state, "brand", None)
    return found


def shop_name(request: Request) -> str:
    brand = brand_of(request)
    return brand.name if brand is not None else "qrcheckout"


# How the shop names each provider's way to pay.
PROVIDER_LABELS = {"stripe": "Card", "paypal": "PayPal"}

templates.env.globals["brand_of"] = brand_of
templates.env.globals["shop_name"] = shop_name


async def _shop(
    request: Request, error: str = "", status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    access = Access(await principal(request))
    products = await container(request).catalog.products(access)
    shop = access.principal.shop
    await _brand(request, shop)
    return templates.TemplateResponse(
        request,
        "shop.html",
        {
            "products": products,
            "error": error,
            "checkout_url": "/shop/checkout"
            + ("" if shop == DEFAULT_MERCHANT else f"?merchant={shop}"),
            # Where more than one provider is set up, the buyer picks one; the first is checked.
            "providers": [
                (name, PROVIDER_LABELS.get(name, name)) for name in container(request).providers
            ],
        },
        status_code=status,
        headers=headers,
    )


@router.get("/", response_class=HTMLResponse)
async def shop(request: Request) -> Response:
    return await _shop(request)


@router.post("/shop/checkout")
async def shop_checkout(request: Request, tokens: Tokens, access: AccessDep) -> Response:
    form = await request.form()
    items = []
    for key, value in form.multi_items():
        if key.startswith("qty_") and str(value).strip() not in ("", "0"):
            try:
                quantity = int(str(value))
            except ValueError:
                return await _shop(request, "Quantities must be whole numbers.", 422)
            items.append({"product_id": key[4:], "quantity": quantity})
    if not items:
        return await _shop(request, "Pick at least one item.", 422)
    try:
        await limiter(request).hit(Rule.TOKENS, client_ip(request))
        body = TokenCreate.model_validate(
            {
                "items": items,
                "customer_email": str(form.get("email") or "") or None,
                "provider": str(form.get("provider") or "") or None,
            }
        )
        token, cancel_secret = await tokens.create(access, body)
    except ValidationError as exc:
        return await _shop(request, exc.errors()[0]["msg"], 422)
    except DomainError as exc:
        return await _shop(request, exc.message, status_of(exc), headers_of(exc))
    moved = RedirectResponse(f"/checkout/{token.id}", status_code=303)
    # This browser made the token, so it may cancel it: the capability rides in a cookie
    # sent only to that token's cancel route, never to script or another site.
    moved.set_cookie(
        CANCEL_COOKIE,
        cancel_secret,
        max_age=CANCEL_COOKIE_SECONDS,
        path=f"/v1/tokens/{token.id}/cancel",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return moved


@router.get("/checkout/{token_id}", response_class=HTMLResponse)
async def qr_page(token_id: str, request: Request, tokens: Tokens) -> Response:
    try:
        token = await tokens.get(token_id)
    except DomainError as exc:
        return _notice(request, "Checkout not found", exc.message, status_of(exc))
    # The page shows what anyone holding the link may see.
    out = tokens.to_out(token).model_copy(update=dict.fromkeys(PUBLIC_TOKEN.hides))
    await _brand(request, out.merchant)
    svg = Markup(qr.svg(out.url, scale=6).decode())
    # After a sale, the till starts the next one in the shop it came from.
    shop = "/" if out.merchant == DEFAULT_MERCHANT else f"/?merchant={out.merchant}"
    return templates.TemplateResponse(
        request, "qr.html", {"token": out, "qr_svg": svg, "new_sale_url": shop}
    )


@router.get("/t/{token_id}")
async def scan(token_id: str, request: Request, tokens: Tokens) -> Response:
    rates, client = limiter(request), client_ip(request)

    async def count_new_session() -> None:
        await rates.hit(Rule.SCANS_PER_IP, client)
        await rates.hit(Rule.SCANS_PER_TOKEN, token_id)

    try:
        url = await tokens.scan(token_id, count_new_session)
    except DomainError as exc:
        await _brand_of_token(request, tokens, token_id)
        title = _ENDED_TITLES.get(exc.code, "Cannot open this checkout")
        tone = "good" if exc.code == "token_paid" else "bad"
        return _notice(
            request, title, exc.message, status_of(exc), tone=tone, headers=headers_of(exc)
        )
    return RedirectResponse(url, status_code=303)


@router.get("/t/{token_id}/done", response_class=HTMLResponse)
async def done(token_id: str, request: Request, tokens: Tokens) -> Response:
    """Where the provider sends the buyer after paying: a receipt once the payment is
    confirmed, a page that waits (and looks again) until then, or why it was not paid."""
    # The provider names the session: Stripe in ``session_id``, PayPal its order in ``token``.
    query = request.query_params
    named = query.get("session_id") or query.get("token")
    rates, client = limiter(request), client_ip(request)

    async def count_call() -> None:
        await rates.hit(Rule.SCANS_PER_IP, client)

    # Its outcome is asked of the provider (PayPal's capture taken), should its event not have
    # come yet; counted like a scan, since it calls the provider. Past the limit the page says
    # what is known, and the event or the job settles the payment.
    with contextlib.suppress(RateLimited):
        await tokens.returned(token_id, named, count_call)
    try:
        token = await tokens.get(token_id)
    except DomainError as exc:
        return _notice(request, "Checkout not found", exc.message, status_of(exc))
    await _brand(request, token.merchant_id)
    receipt = receipt_of(token, named)
    out = tokens.to_out(token).model_copy(update=dict.fromkeys(PUBLIC_TOKEN.hides))
    paid = receipt.paid
    return templates.TemplateResponse(
        request,
        "receipt.html",
        {
            "state": receipt.state.value,
            "token": out,
            "amount": paid.amount_total if paid is not None else out.amount_total,
            "currency": paid.currency if paid is not None else out.currency,
            "paid_at": (paid.updated_at if paid is not None else None) or out.paid_at,
            "reference": paid.id if paid is not None else out.id,
            "retry": f"/t/{token_id}",
        },
        status_code=_RECEIPT_STATUS[receipt.state],
        headers={"Cache-Control": "no-store"},
    )


# Waiting is 202 (looked at again shortly); a payment that did not happen is a conflict, and a
# checkout that ran out is gone, as on the scan page.
_RECEIPT_STATUS = {
    ReceiptState.PAID: 200,
    ReceiptState.WAITING: 202,
    ReceiptState.FAILED: 409,
    ReceiptState.ENDED: 410,
    ReceiptState.GIVEN_BACK: 409,
}


@router.get("/t/{token_id}/back", response_class=HTMLResponse)
async def back(token_id: str, request: Request, tokens: Tokens) -> Response:
    await _brand_of_token(request, tokens, token_id)
    return _notice(
        request,
        "Payment not completed",
        "Nothing was charged. Scan the code again to pay.",
        200,
        link=(f"/t/{token_id}", "Try again"),
    )


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def connect_callback(request: Request, links: LinksDep) -> Response:
    """Where Stripe sends a merchant back after its consent page: the link made, or why not."""
    query = request.query_params
    state, code = query.get("state") or "", query.get("code") or ""
    if query.get("error"):
        # Declined, or Stripe refused the request: nothing to exchange, the state is left to expire.
        reason = query.get("error_description") or query["error"]
        return _notice(request, "Stripe account not linked", reason[:300], 400)
    if not state or not code:
        return _notice(
            request, "Stripe account not linked", "Stripe's answer had no code or state.", 400
        )
    try:
        link = await links.finish(state, code)
    except DomainError as exc:
        return _notice(request, "Stripe account not linked", exc.message, status_of(exc))
    await _brand(request, link.merchant_id)
    return _notice(
        request,
        "Stripe account linked",
        f"Payments to {shop_name(request)} now go to the Stripe account {link.account_id}.",
        200,
        tone="good",
    )


@router.get("/success", response_class=HTMLResponse)
async def hosted_success(request: Request, sessions: Sessions) -> Response:
    """The default return page of ``/create-checkout-session``: paid, or not yet."""
    merchant_id = request.query_params.get("merchant") or DEFAULT_MERCHANT
    session_id = request.query_params.get("session_id") or ""
    await _brand(request, merchant_id)
    if not session_id.isascii() or not session_id.startswith("cs_") or len(session_id) > 255:
        return _notice(request, "Checkout not found", "This link names no checkout.", 404)
    try:
        outcome = await sessions.outcome(merchant_id, session_id)
    except DomainError as exc:
        return _notice(request, "Checkout not found", exc.message, status_of(exc))
    if outcome.payment_status in ("paid", "no_payment_required"):
        paid = format_amount(outcome.amount_total or 0, outcome.currency or "usd")
        return _notice(
            request, "Thank you!", f"Your payment of {paid} was received.", 200, tone="good"
        )
    return _notice(
        request, "Payment not completed", "This checkout has not been paid; nothing was taken.", 200
    )


@router.get("/cancel", response_class=HTMLResponse)
async def hosted_cancel(request: Request) -> Response:
    """The default page a buyer who left ``/create-checkout-session``'s checkout comes back to."""
    await _brand(request, request.query_params.get("merchant") or DEFAULT_MERCHANT)
    return _notice(request, "Payment cancelled", "You left the checkout; nothing was charged.", 200)


_ENDED_TITLES = {
    "token_paid": "Already paid",
    "token_cancelled": "Checkout cancelled",
    "token_failed": "Payment failed",
    "token_expired": "Checkout expired",
    "rate_limited": "Too many attempts",
}


async def _brand(request: Request, merchant_id: str) -> None:
    """The merchant whose name, logo and accent colour the page wears."""
    request.state.brand = await container(request).merchants.brand(merchant_id)


async def _brand_of_token(request: Request, tokens: CheckoutService, token_id: str) -> None:
    with contextlib.suppress(DomainError):  # an unknown token: the page wears no merchant's face
        await _brand(request, (await tokens.get(token_id)).merchant_id)


def _notice(
    request: Request,
    title: str,
    message: str,
    status: int,
    *,
    tone: str = "bad",
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return templates.TemplateResponse(
        request,
        "notice.html",
        {"title": title, "message": message, "tone": tone, "link": link},
        status_code=status,
        headers=headers,
    )
