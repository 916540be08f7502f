"""Merchant and API key shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    model_validator,
)

from qrcheckout.access.origins import origin_of
from qrcheckout.inputs import Currency, ImageUrl, Input, OneLine
from qrcheckout.money import MAX_AMOUNT

MERCHANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_ORIGINS = 20
NOT_NULL = frozenset({"name", "default_currency", "allowed_origins", "webhook_urls"})
#: What only the platform sets of a merchant.
PLATFORM_SET = frozenset({"fee_bps", "fee_fixed"})


def _origin(value: str) -> str:
    origin = origin_of(value)
    if origin is None or origin != value.rstrip("/").lower():
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port], no path)")
    return origin


Origin = Annotated[str, Field(max_length=300), AfterValidator(_origin)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class MerchantSettings(Input):
    """What a merchant sets: its face on the pages, where it is told, what it trusts."""

    name: OneLine | None = Field(default=None, min_length=1, max_length=200)
    # https only: the pages' Content-Security-Policy loads no other image from another site.
    logo_url: ImageUrl | None = None
    accent_color: Color | None = None
    support_email: EmailStr | None = None
    default_currency: Currency | None = None
    # A product of its catalog that a token made without items sells; null: none.
    default_product_id: str | None = Field(default=None, min_length=1, max_length=64)
    allowed_origins: list[Origin] | None = Field(default=None, max_length=MAX_ORIGINS)
    # http(s) only; ``Merchants`` also refuses localhost and private, loopback or reserved IPs
    # (decimal, hex and IPv4-in-IPv6 spellings are normalised by the URL parser first) unless
    # the service allows private targets; see ``access.targets``.
    webhook_urls: list[HttpUrl] | None = Field(default=None, max_length=MAX_ORIGINS)
    # The platform's fee on its payments into its linked Stripe account (basis points, and a
    # fixed amount in minor units); null: the platform's default. Set with the platform's key.
    fee_bps: int | None = Field(default=None, ge=0, le=10_000, strict=True)
    fee_fixed: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)

    @model_validator(mode="after")
    def _required_are_not_null(self) -> MerchantSettings:
        nulls = sorted(n for n in self.model_fields_set & NOT_NULL if getattr(self, n) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self

    def changes(self) -> dict[str, object]:
        """The fields sent, as stored (URLs as text; null clears an optional one)."""
        values: dict[str, object] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "webhook_urls":
                value = [str(url) for url in value]
            values[name] = value
        return values


class MerchantCreate(MerchantSettings):
    id: str = Field(pattern=MERCHANT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: str = "merchant"
    name: str
    logo_url: str | None
    accent_color: str | None
    support_email: str | None
    default_currency: str
    default_product_id: str | None
    allowed_origins: list[str]
    webhook_urls: list[str]
    fee_bps: int | None
    fee_fixed: int | None
    created_at: datetime


class MerchantList(BaseModel):
    object: str = "list"
    data: list[MerchantOut]


class MerchantCreated(MerchantOut):
    # Shown in this answer only (and again only when rotated).
    webhook_secret: str | None


class WebhookSecret(BaseModel):
    object: str = "webhook_secret"
    merchant_id: str
    # Shown this once: deliveries are signed with it from now on.
    secret: str


class KeyCreate(Input):
    name: OneLine = Field(min_length=1, max_length=100)


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: str = "api_key"
    merchant_id: str | None
    name: str
    last4: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    # Shown this once; only its SHA-256 is kept.
    secret: str


class KeyList(BaseModel):
    object: str = "list"
    data: list[KeyOut]
