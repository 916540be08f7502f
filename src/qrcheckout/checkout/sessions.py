"""Hosted checkouts opened straight from a cart (``/create-checkout-session``), with no token.

Catalog lines are priced by the catalog like every other cart; an inline ``price_data`` line
sets its own price, so it is taken only from a trusted caller (the service's API key).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import EmailStr, Field, HttpUrl

from qrcheckout.access.models import DEFAULT_MERCHANT, Merchant
from qrcheckout.access.origins import RedirectOrigins
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.catalog.models import Product
from qrcheckout.catalog.schemas import MAX_QUANTITY
from qrcheckout.catalog.service import (
    PricedCart,
    PricedLine,
    price,
    products_by_id,
    refuse_capacity,
)
from qrcheckout.checkout.schemas import MAX_ITEMS
from qrcheckout.connect.service import Links, paid_on
from qrcheckout.db import Database
from qrcheckout.errors import (
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PaymentDeclined,
    ProviderUnavailable,
)
from qrcheckout.inputs import AnyCaseCurrency, Input
from qrcheckout.money import MAX_AMOUNT
from qrcheckout.payments.provider import (
    CheckoutSession,
    LineItem,
    PaymentProvider,
    ProviderError,
    ProviderErrorKind,
    SessionRequest,
)


class ProductData(Input):
    name: str = Field(min_length=1, max_length=250)
    description: str | None = Field(default=None, max_length=1000)
    images: list[HttpUrl] = Field(default_factory=list, max_length=8)


class PriceData(Input):
    currency: AnyCaseCurrency
    unit_amount: int = Field(ge=0, le=MAX_AMOUNT, strict=True)
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


class SessionItem(Input):
    price: str | None = Field(default=None, min_length=1, max_length=64)
    price_data: PriceData | None = None
    quantity: int = Field(ge=1, le=MAX_QUANTITY, strict=True)


class SessionCreate(Input):
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
    def __init__(
        self, db: Database, provider: PaymentProvider, home_url: str, links: Links
    ) -> None:
        self.db = db
        self.provider = provider
        self.home_url = home_url
        self.links = links

    async def open(self, access: Access, wanted: SessionCreate, *, key: str) -> OpenedSession:
        """Open a hosted checkout for ``wanted`` in the addressed shop; ``key`` makes a retried
        request open one. Only the shop's own key may set prices (``price_data``)."""
        request = await self._priced(access, wanted, key=key)
        try:
            opened = await self.provider.create_checkout_session(request)
        except ProviderError as exc:
            raise _refusal(exc) from exc
        return OpenedSession(opened.id, opened.url)

    async def _priced(self, access: Access, wanted: SessionCreate, *, key: str) -> SessionRequest:
        # Refusals come in the order this route has always checked: each line in turn, then
        # the currencies, then the shipping countries.
        items = wanted.line_items
        merchant_id = access.shop_for_new(Resource.TOKEN)
        trusted = access.may(Resource.PRODUCT, Action.UPDATE)
        async with self.db.sessions() as session:
            merchant = await session.get(Merchant, merchant_id)
            if merchant is None:
                raise NotFound("merchant_not_found", "No such merchant.")
            known = await products_by_id(session, merchant_id, (i.price for i in items if i.price))
            payee = await self.links.payee(session, merchant_id)
        returns = RedirectOrigins(self.home_url, merchant.allowed_origins)
        for index, item in enumerate(items):
            _check_line(index, item, trusted=trusted, known=known)
        try:
            cart = price(known, [(i.price, i.quantity) for i in items if i.price], merge=False)
        except Invalid as exc:  # every product is known: currencies differ, or it is too much
            if exc.code != "mixed_currencies":
                raise
            raise Invalid("mixed_currencies", ONE_CURRENCY) from exc
        refuse_capacity(cart)
        lines, currencies = _assemble(items, cart)
        if len(currencies) != 1:
            raise Invalid("mixed_currencies", ONE_CURRENCY)
        _check_countries(wanted.shipping_countries)
        # Pages of this service that say what happened, when the caller names none.
        shop = "" if merchant_id == DEFAULT_MERCHANT else f"merchant={merchant_id}"
        success = f"{self.home_url}success?session_id={{CHECKOUT_SESSION_ID}}"
        success += f"&{shop}" if shop else ""
        cancel = f"{self.home_url}cancel" + (f"?{shop}" if shop else "")
        return SessionRequest(
            line_items=lines,
            currency=currencies.pop(),
            success_url=returns.check("success_url", wanted.success_url, success),
            cancel_url=returns.check("cancel_url", wanted.cancel_url, cancel),
            idempotency_key=key,
            customer_email=str(wanted.customer_email),
            shipping_countries=tuple(wanted.shipping_countries),
            metadata={"source": "create-checkout-session", "merchant_id": merchant_id},
            account=payee.account,
            application_fee=payee.fee(sum(line.unit_amount * line.quantity for line in lines)),
        )

    async def outcome(self, merchant_id: str, session_id: str) -> CheckoutSession:
        """A hosted checkout of the merchant's as the provider has it now (its success page)."""
        async with self.db.sessions() as session:
            account = await paid_on(session, merchant_id)
        try:
            return await self.provider.retrieve_checkout_session(session_id, account)
        except ProviderError as exc:
            if exc.kind == ProviderErrorKind.UNAVAILABLE:
                raise ProviderUnavailable(
                    "provider_unavailable", f"The payment provider failed: {exc.message}"
                ) from exc
            raise NotFound("session_not_found", "No such checkout.") from exc


ONE_CURRENCY = "All line items must be in one currency."


def _check_line(index: int, item: SessionItem, *, trusted: bool, known: dict[str, Product]) -> None:
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
    if item.price is not None and item.price not in known:
        raise Invalid(
            "unknown_price",
            f"line_items.{index}.price: no such product {item.price!r}",
            field=f"line_items.{index}.price",
        )


def _assemble(items: list[SessionItem], cart: PricedCart) -> tuple[tuple[LineItem, ...], set[str]]:
    """Every line in the order given, the catalog's priced by it; and their currencies."""
    catalog_lines = iter(cart.lines)
    lines = tuple(
        item.price_data.line(item.quantity)
        if item.price_data is not None
        else _catalog_line(next(catalog_lines))
        for item in items
    )
    currencies = {i.price_data.currency.lower() for i in items if i.price_data is not None}
    if cart.lines:
        currencies.add(cart.currency)
    return lines, currencies


def _check_countries(countries: list[str]) -> None:
    for country in countries:
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            raise Invalid(
                "validation_error",
                f"shipping_countries: {country!r} is not a country code",
                field="shipping_countries",
            )


def _catalog_line(line: PricedLine) -> LineItem:
    product = line.product
    return LineItem(
        name=product.name,
        unit_amount=product.unit_amount,
        quantity=line.quantity,
        description=product.description or "",
    )


def _refusal(exc: ProviderError) -> DomainError:
    if exc.kind == ProviderErrorKind.UNAVAILABLE:
        return ProviderUnavailable(
            "provider_unavailable", f"The payment provider failed: {exc.message}"
        )
    if exc.kind == ProviderErrorKind.DECLINED:
        return PaymentDeclined(exc.code, f"The payment provider refused: {exc.message}")
    return Invalid(exc.code, f"The payment provider refused: {exc.message}")
