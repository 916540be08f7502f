"""Server-rendered pages: the demo shop, the desktop QR page, and the phone's scan pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from qrcheckout.checkout import qr
from qrcheckout.checkout.schemas import TokenCreate
from qrcheckout.errors import DomainError
from qrcheckout.http.deps import Tokens, container
from qrcheckout.http.errors import status_of
from qrcheckout.money import format_amount

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["money"] = format_amount


async def _shop(request: Request, error: str = "", status: int = 200) -> Response:
    products = await container(request).catalog.products()
    return templates.TemplateResponse(
        request, "shop.html", {"products": products, "error": error}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
async def shop(request: Request) -> Response:
    return await _shop(request)


@router.post("/shop/checkout")
async def shop_checkout(request: Request, tokens: Tokens) -> Response:
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
        body = TokenCreate.model_validate(
            {"items": items, "customer_email": str(form.get("email") or "") or None}
        )
        token = await tokens.create(body)
    except ValidationError as exc:
        return await _shop(request, exc.errors()[0]["msg"], 422)
    except DomainError as exc:
        return await _shop(request, exc.message, status_of(exc))
    return RedirectResponse(f"/checkout/{token.id}", status_code=303)


@router.get("/checkout/{token_id}", response_class=HTMLResponse)
async def qr_page(token_id: str, request: Request, tokens: Tokens) -> Response:
    try:
        out = tokens.to_out(await tokens.get(token_id))
    except DomainError as exc:
        return _notice(request, "Checkout not found", exc.message, status_of(exc))
    svg = Markup(qr.svg(out.url, scale=6).decode())
    return templates.TemplateResponse(request, "qr.html", {"token": out, "qr_svg": svg})


@router.get("/t/{token_id}")
async def scan(token_id: str, request: Request, tokens: Tokens) -> Response:
    try:
        url = await tokens.scan(token_id)
    except DomainError as exc:
        title = _ENDED_TITLES.get(exc.code, "Cannot open this checkout")
        tone = "good" if exc.code == "token_paid" else "bad"
        return _notice(request, title, exc.message, status_of(exc), tone=tone)
    return RedirectResponse(url, status_code=303)


@router.get("/t/{token_id}/done", response_class=HTMLResponse)
async def done(token_id: str, request: Request) -> Response:
    return _notice(
        request,
        "Thank you!",
        "Your payment was received. You can close this page.",
        200,
        tone="good",
    )


@router.get("/t/{token_id}/back", response_class=HTMLResponse)
async def back(token_id: str, request: Request) -> Response:
    return _notice(
        request,
        "Payment not completed",
        "Nothing was charged. Scan the code again to pay.",
        200,
        link=(f"/t/{token_id}", "Try again"),
    )


_ENDED_TITLES = {
    "token_paid": "Already paid",
    "token_cancelled": "Checkout cancelled",
    "token_failed": "Payment failed",
    "token_expired": "Checkout expired",
}


def _notice(
    request: Request,
    title: str,
    message: str,
    status: int,
    *,
    tone: str = "bad",
    link: tuple[str, str] | None = None,
) -> Response:
    return templates.TemplateResponse(
        request,
        "notice.html",
        {"title": title, "message": message, "tone": tone, "link": link},
        status_code=status,
    )
