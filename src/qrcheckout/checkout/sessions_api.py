"""``POST /create-checkout-session``: a hosted checkout for a cart, as shop front-ends ask.

``{"line_items": [...], "customer_email": "..."}`` answers ``{"sessionId": "cs_...", "url"}``.
Line items name catalog products (``{"price": "espresso", "quantity": 2}``), priced here. An
inline ``price_data`` sets its own price, so it is taken only from a caller holding the
service's secret API key: a browser never chooses what it pays.
"""

from __future__ import annotations

import hmac
import json
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, ValidationError

from qrcheckout.catalog import service as catalog
from qrcheckout.checkout.schemas import MAX_ITEMS, MAX_QUANTITY
from qrcheckout.payments.provider import LineItem, ProviderError, SessionRequest

router = APIRouter(tags=["checkout"])

MISSING = "missing required session parameters"
MAX_UNIT_AMOUNT = 99_999_999


class ProductData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=250)
    description: str | None = Field(default=None, max_length=1000)
    images: list[HttpUrl] = Field(default_factory=list, max_length=8)


class PriceData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    unit_amount: int = Field(ge=0, le=MAX_UNIT_AMOUNT)
    product_data: ProductData


class SessionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    price: str | None = Field(default=None, min_length=1, max_length=64)
    price_data: PriceData | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_items: list[SessionItem] = Field(min_length=1, max_length=MAX_ITEMS)
    customer_email: EmailStr
    success_url: HttpUrl | None = None
    cancel_url: HttpUrl | None = None
    shipping_countries: list[str] = Field(default_factory=list, max_length=50)


class SessionRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status)


@router.post("/create-checkout-session")
async def create_checkout_session(request: Request) -> JSONResponse:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _refused(400, "invalid_json", "The request body is not valid JSON.")
    if not isinstance(body, dict) or not body.get("line_items") or not body.get("customer_email"):
        return _refused(400, "missing_parameters", MISSING)
    try:
        wanted = SessionCreate.model_validate(body)
        session_request = await _priced(request, wanted)
        provider = request.app.state.checkout.provider
        opened = await provider.create_checkout_session(session_request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return _refused(422, "validation_error", f"{where}: {first['msg']}")
    except SessionRefused as exc:
        return _refused(exc.status, exc.code, exc.message)
    except ProviderError as exc:
        if exc.http_status is not None and 400 <= exc.http_status < 500:
            status = 402 if exc.http_status == 402 else 400
            return _refused(status, exc.code, f"The payment provider refused: {exc.message}")
        return _refused(502, "provider_unavailable", f"The payment provider failed: {exc.message}")
    return JSONResponse({"sessionId": opened.id, "url": opened.url})


async def _priced(request: Request, wanted: SessionCreate) -> SessionRequest:
    """The session to open, every price from the catalog or from a trusted caller."""
    settings = request.app.state.settings
    header = request.headers.get("authorization")
    trusted = _holds_api_key(header, settings.api_key)
    if header is not None and not trusted:
        raise SessionRefused(401, "invalid_api_key", "The API key in Authorization is not valid.")
    names = [item.price for item in wanted.line_items if item.price is not None]
    async with request.app.state.db.sessions() as session:
        products = await catalog.products_by_id(session, names)
    items: list[LineItem] = []
    currencies: set[str] = set()
    for index, item in enumerate(wanted.line_items):
        if (item.price is None) == (item.price_data is None):
            raise SessionRefused(
                422,
                "validation_error",
                f"line_items.{index}: give either price (a catalog product) or price_data",
            )
        if item.price_data is not None:
            if not trusted:
                raise SessionRefused(
                    403,
                    "price_data_not_allowed",
                    f"line_items.{index}.price_data: a client cannot set its own price; name a "
                    "catalog product in price, or call with the service's API key",
                )
            data = item.price_data
            currencies.add(data.currency.lower())
            items.append(
                LineItem(
                    name=data.product_data.name,
                    unit_amount=data.unit_amount,
                    quantity=item.quantity,
                    description=data.product_data.description or "",
                    images=tuple(str(url) for url in data.product_data.images),
                )
            )
            continue
        product = products.get(item.price or "")
        if product is None or not product.active:
            raise SessionRefused(
                400, "unknown_price", f"line_items.{index}.price: no such product {item.price!r}"
            )
        currencies.add(product.currency)
        items.append(
            LineItem(
                name=product.name,
                unit_amount=product.unit_amount,
                quantity=item.quantity,
                description=product.description or "",
            )
        )
    if len(currencies) != 1:
        raise SessionRefused(400, "mixed_currencies", "All line items must be in one currency.")
    currency = currencies.pop()
    for country in wanted.shipping_countries:
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            raise SessionRefused(
                422, "validation_error", f"shipping_countries: {country!r} is not a country code"
            )
    home = settings.public_url + "/"
    return SessionRequest(
        line_items=tuple(items),
        currency=currency,
        success_url=str(wanted.success_url or home),
        cancel_url=str(wanted.cancel_url or home),
        idempotency_key=_idempotency_key(request),
        customer_email=str(wanted.customer_email),
        shipping_countries=tuple(wanted.shipping_countries),
        metadata={"source": "create-checkout-session"},
    )


def _holds_api_key(header: str | None, api_key: str | None) -> bool:
    if not api_key or not header:
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), api_key)


def _idempotency_key(request: Request) -> str:
    """The caller's ``Idempotency-Key`` (a retried request opens one session), else a new one."""
    given = request.headers.get("idempotency-key")
    if given and len(given) <= 200:
        return f"qrcheckout-session-{given}"
    return f"qrcheckout-session-{uuid.uuid4()}"
