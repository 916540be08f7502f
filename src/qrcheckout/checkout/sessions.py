"""Hosted checkouts opened straight from a cart (``/create-checkout-session``), with no token.

Catalog lines are priced by the catalog like every other cart; an inline ``price_data`` line
sets its own price, so it is taken only from a trusted caller (the service's API key).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl

from qrcheckout.catalog.service import price_cart
from qrcheckout.checkout.schemas import MAX_ITEMS, MAX_QUANTITY
from qrcheckout.db import Database
from qrcheckout.errors import (
    DomainError,
    Forbidden,
    Invalid,
    PaymentDeclined,
    ProviderUnavailable,
)
from qrcheckout.money import MAX_AMOUNT
from qrcheckout.payments.provider import (
    LineItem,
    PaymentProvider,
    ProviderError,
    ProviderErrorKind,
    SessionRequest,
)


class ProductData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=250)
    description: str | None = Field(default=None, max_length=1000)
    images: list[HttpUrl] = Field(default_factory=list, max_length=8)


class PriceData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    unit_amount: int = Field(ge=0, le=MAX_AMOUNT)
    product_data: ProductData

    def line(self, quantity: int) -> LineItem:
        data = self.product_data
        return LineItem(
            name=data.name,
            unit_amount=self.unit_amount,
            quantity=quantity,
            description=data.description or "",
            images=tuple(str(url) for url in data.images),
        )


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


@dataclass(frozen=True)
class OpenedSession:
    id: str
    url: str | None


class HostedSessions:
    def __init__(self, db: Database, provider: PaymentProvider, home_url: str) -> None:
        self.db = db
        self.provider = provider
        self.home_url = home_url

    async def open(self, wanted: SessionCreate, *, trusted: bool, key: str) -> OpenedSession:
        """Open a hosted checkout for ``wanted``; ``key`` makes a retried request open one."""
        request = await self._priced(wanted, trusted=trusted, key=key)
        try:
            opened = await self.provider.create_checkout_session(request)
        except ProviderError as exc:
            raise _refusal(exc) from exc
        return OpenedSession(opened.id, opened.url)

    async def _priced(self, wanted: SessionCreate, *, trusted: bool, key: str) -> SessionRequest:
        for index, item in enumerate(wanted.line_items):
            if (item.price is None) == (item.price_data is None):
                raise Invalid(
                    "validation_error",
                    f"line_items.{index}: give either price (a catalog product) or price_data",
                    field=f"line_items.{index}",
                )
            if item.price_data is not None and not trusted:
                raise Forbidden(
                    "price_data_not_allowed",
                    f"line_items.{index}.price_data: a client cannot set its own price; name a "
                    "catalog product in price, or call with the service's API key",
                )
        for country in wanted.shipping_countries:
            if len(country) != 2 or not country.isalpha() or not country.isupper():
                raise Invalid(
                    "validation_error",
                    f"shipping_countries: {country!r} is not a country code",
                    field="shipping_countries",
                )
        lines, currencies = await self._lines(wanted.line_items)
        if len(currencies) != 1:
            raise Invalid("mixed_currencies", "All line items must be in one currency.")
        return SessionRequest(
            line_items=lines,
            currency=currencies.pop(),
            success_url=str(wanted.success_url or self.home_url),
            cancel_url=str(wanted.cancel_url or self.home_url),
            idempotency_key=key,
            customer_email=str(wanted.customer_email),
            shipping_countries=tuple(wanted.shipping_countries),
            metadata={"source": "create-checkout-session"},
        )

    async def _lines(self, items: list[SessionItem]) -> tuple[tuple[LineItem, ...], set[str]]:
        """Each line priced, in the order given, and the currencies they are in."""
        from_catalog = [(i, item) for i, item in enumerate(items) if item.price is not None]
        async with self.db.sessions() as session:
            try:
                cart = await price_cart(
                    session,
                    ((item.price or "", item.quantity) for _, item in from_catalog),
                    merge=False,
                )
            except Invalid as exc:
                raise _unknown_price(exc, from_catalog) from exc
        priced = {
            index: LineItem(
                name=line.product.name,
                unit_amount=line.product.unit_amount,
                quantity=line.quantity,
                description=line.product.description or "",
            )
            for (index, _), line in zip(from_catalog, cart.lines, strict=True)
        }
        currencies = {cart.currency} if from_catalog else set()
        for index, item in enumerate(items):
            if item.price_data is not None:
                priced[index] = item.price_data.line(item.quantity)
                currencies.add(item.price_data.currency.lower())
        return tuple(priced[index] for index in range(len(items))), currencies


def _unknown_price(exc: Invalid, from_catalog: list[tuple[int, SessionItem]]) -> Invalid:
    """The catalog's refusal in the words of this request's fields."""
    if exc.code != "unknown_product" or exc.field is None:
        return Invalid(exc.code, exc.message)
    position = int(exc.field.split(".")[1])
    index, item = from_catalog[position]
    return Invalid(
        "unknown_price",
        f"line_items.{index}.price: no such product {item.price!r}",
        field=f"line_items.{index}.price",
    )


def _refusal(exc: ProviderError) -> DomainError:
    if exc.kind == ProviderErrorKind.UNAVAILABLE:
        return ProviderUnavailable(
            "provider_unavailable", f"The payment provider failed: {exc.message}"
        )
    if exc.kind == ProviderErrorKind.DECLINED:
        return PaymentDeclined(exc.code, f"The payment provider refused: {exc.message}")
    return Invalid(exc.code, f"The payment provider refused: {exc.message}", field=exc.param)
