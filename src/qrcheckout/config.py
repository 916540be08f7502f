"""Settings, read from ``QRCHECKOUT_*`` environment variables inside ``create_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qrcheckout.money import MAX_AMOUNT

SANDBOX_CONNECT_CLIENT_ID = "ca_qrcheckout_sandbox"
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "whsec_changeme"}


def _rate_limit(text: str) -> str:
    limits.parse_many(text)  # a ValueError names what it could not read
    return text


# A rate limit in the ``limits`` notation: "30/minute", "5 per second", "5/second;100/hour".
RateLimitText = Annotated[str, AfterValidator(_rate_limit)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QRCHECKOUT_", extra="ignore")

    environment: str = "development"
    database_url: str = "sqlite+aiosqlite:///./qrcheckout.db"
    public_url: str = "http://127.0.0.1:8000"
    # Unset: the built-in Stripe-compatible sandbox is started and used.
    stripe_secret_key: str | None = None
    # Outside development, the sandbox (no Stripe key) runs only when asked for: a staging site.
    sandbox_outside_development: bool = False
    # Unset with the sandbox: a secret is generated once and kept in ``data_dir``.
    stripe_webhook_secret: str | None = None
    # Unset: Stripe itself with a key, or the built-in sandbox without one.
    stripe_api_base: str | None = None
    # The platform's Connect client id (``ca_...``): merchants link their own Stripe accounts
    # and are paid there. Unset: the sandbox takes a made-up one; with Stripe, linking is off.
    stripe_connect_client_id: str | None = Field(default=None, pattern=r"^ca_[A-Za-z0-9_]{4,}$")
    # The signing secret of a Connect webhook endpoint (linked accounts' events), if separate.
    stripe_connect_webhook_secret: str | None = None
    # The platform's publishable key, told to buyers' apps of merchants paid on the platform.
    stripe_publishable_key: str | None = Field(default=None, pattern=r"^pk_(test|live)_\w{8,}$")
    # The platform's fee on payments into a merchant's linked account: basis points of the
    # amount plus a fixed amount in its minor units (a merchant may have its own, set by the
    # platform's key).
    platform_fee_bps: int = Field(default=0, ge=0, le=10_000)
    platform_fee_fixed: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    # PayPal: a REST app's client id and secret, and the id of the webhook PayPal signs its events
    # for (``/v1/webhooks/paypal``). Unset while Stripe runs on the sandbox: the built-in PayPal
    # sandbox is started and used; unset with a Stripe key: PayPal is off.
    paypal_client_id: str | None = Field(default=None, min_length=1, max_length=255)
    paypal_client_secret: str | None = Field(default=None, min_length=1, max_length=255)
    paypal_webhook_id: str | None = Field(default=None, min_length=1, max_length=64)
    # Unset: PayPal itself (``https://api-m.paypal.com``; its test site is
    # ``https://api-m.sandbox.paypal.com``), or the built-in sandbox without credentials.
    paypal_api_base: str | None = None
    # Where the sandbox sends its events; unset: this service's own webhook endpoint.
    sandbox_webhook_url: str | None = None
    # The one secret key the mounted sandbox takes (this service uses it too); unset: generated
    # once and kept in ``data_dir``. Set it to share one sandbox between instances.
    sandbox_api_key: str | None = Field(default=None, pattern=r"^sk_test_[A-Za-z0-9_]{8,}$")
    data_dir: Path = Path(".")
    # The service's secret API key: callers holding it may set their own prices
    # (inline ``price_data`` on ``/create-checkout-session``). Unset: nobody may.
    api_key: str | None = None
    # The platform's key: it manages merchants (``/v1/merchants``). Unset: only from the CLI.
    admin_key: str | None = None
    # The shop's name, shown on the sandbox's hosted pay page.
    business_name: str = "qrcheckout café"
    temporary_ttl_seconds: int = Field(default=600, ge=1, le=86_400)
    dynamic_ttl_seconds: int = Field(default=3600, ge=1, le=86_400)
    # How often tokens and orders past their end are expired, and merchant webhooks due sent.
    expiry_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # How often the jobs run that catch up on work owed: payments to complete, refunds,
    # receipts, stored events to replay, ended back-office sessions. Nobody watches these to
    # the half second, and an idle service should not ask its database for them twice a second.
    catch_up_interval_seconds: float = Field(default=2.0, gt=0, le=300)
    # "memory" (one process), or a redis:// URL to share live status between instances.
    bus_url: str = "memory"
    # ``text``: a line a record with its UTC time; ``json``: one JSON object a line.
    log_format: Literal["text", "json"] = "text"
    # The bearer token Prometheus scrapes ``/metrics`` with; unset: this machine only.
    metrics_token: str | None = Field(default=None, min_length=16, max_length=255)
    # While the bus is down, live-status watchers read the database this often instead.
    watch_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    auto_migrate: bool = True
    seed_demo_catalog: bool = True
    webhook_retry_base_seconds: float = Field(default=1.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    # Pending orders expire this long after they were created.
    order_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    # Buyers' JWTs: HS256 with this secret, or RS256 with this public key (PEM text or a path).
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    # Or RS256 (ES256, ...) keys from a JWKS URL: cached, fetched again for an unknown ``kid``.
    jwt_jwks_url: str | None = None
    jwt_jwks_algorithms: str = "RS256"
    # An unknown ``kid`` fetches the set again at most this often (the issuer is not hammered).
    jwt_jwks_refresh_seconds: float = Field(default=30.0, ge=0, le=3600)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # Where Hasura-style claims sit (``x-hasura-user-id``, ``x-hasura-allowed-roles``, ...).
    jwt_claims_namespace: str = "https://hasura.io/jwt/claims"
    # GraphQL clients may ask for the schema (``__schema``), as Hasura allows by default.
    graphql_introspection: bool = True
    # Comma-separated URLs told about orders (order.completed, order.refunded, order.expired).
    merchant_webhook_urls: str = ""
    # Signs those deliveries; unset: a secret is generated once and kept in ``data_dir``.
    merchant_webhook_secret: str | None = None
    # Let merchants' own webhook URLs reach private, loopback and link-local addresses
    # (localhost, 10.x, 169.254.169.254, ...): for development only; refused otherwise.
    merchant_webhooks_private_ok: bool = False
    # Email receipts: an SMTP server (``smtp://user:password@host:587`` with STARTTLS when the
    # server offers it, ``smtps://`` for TLS from the start); unset: no emails are sent.
    smtp_url: str | None = Field(default=None, pattern=r"^smtps?://[^\s]+$")
    # Who receipts come from.
    mail_from: str = Field(default="receipts@qrcheckout.invalid", max_length=320)
    # A receipt the server refused is tried again after this, then 4 times longer each time.
    mail_retry_base_seconds: float = Field(default=60.0, gt=0)
    # Browser origins besides the public URL's allowed to call the API (CORS), comma-separated.
    cors_origins: str = ""
    # Rate limits, per client IP unless said otherwise. Counted in memory, or in Redis (shared by
    # every instance) at rate_limit_url, else at a redis:// bus_url.
    rate_limit_enabled: bool = True
    rate_limit_url: str | None = None
    # POST /v1/tokens, /v1/orders and the demo shop's checkout.
    rate_limit_tokens: RateLimitText = "120/minute"
    # Scans that open a provider session (a billable call): per token and per client IP.
    rate_limit_scans_per_token: RateLimitText = "60/minute"
    rate_limit_scans_per_ip: RateLimitText = "60/minute"
    # POST /create-checkout-session.
    rate_limit_sessions: RateLimitText = "60/minute"
    # Refused credentials (API keys, JWTs); past it even a good one waits.
    rate_limit_auth_failures: RateLimitText = "20/minute"
    # Wrong passwords at the back office's sign-in, per account; past it even the right one waits.
    rate_limit_sign_in: RateLimitText = "5 per 15 minutes"

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> Settings:
        if self.environment != "development":
            for name in (
                "stripe_secret_key",
                "stripe_webhook_secret",
                "stripe_connect_webhook_secret",
                "paypal_client_secret",
                "api_key",
                "admin_key",
                "jwt_secret",
                "merchant_webhook_secret",
                "metrics_token",
            ):
                value = getattr(self, name)
                if value is not None and value.lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"QRCHECKOUT_{name.upper()} is a placeholder; set a real one")
            if self.stripe_secret_key is None and not self.sandbox_outside_development:
                # Test cards would complete real orders and grant real entitlements.
                raise ValueError(
                    "no QRCHECKOUT_STRIPE_SECRET_KEY: outside development the built-in sandbox "
                    "runs only with QRCHECKOUT_SANDBOX_OUTSIDE_DEVELOPMENT=true"
                )
        if self.stripe_secret_key is not None and not self.stripe_webhook_secret:
            raise ValueError("QRCHECKOUT_STRIPE_WEBHOOK_SECRET is required with a Stripe key")
        paypal = (self.paypal_client_id, self.paypal_client_secret, self.paypal_webhook_id)
        if any(paypal) and not all(paypal):
            raise ValueError(
                "PayPal needs QRCHECKOUT_PAYPAL_CLIENT_ID, QRCHECKOUT_PAYPAL_CLIENT_SECRET and "
                "QRCHECKOUT_PAYPAL_WEBHOOK_ID together"
            )
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def merchant_webhook_targets(self) -> list[str]:
        return _comma_list(self.merchant_webhook_urls)

    @property
    def cors_origin_list(self) -> list[str]:
        return _comma_list(self.cors_origins)

    @property
    def jwt_jwks_algorithm_list(self) -> list[str]:
        return _comma_list(self.jwt_jwks_algorithms)

    @property
    def rate_limit_storage(self) -> str:
        """Where rate limits are counted: "memory", or a Redis URL."""
        if self.rate_limit_url:
            return self.rate_limit_url
        return (
            self.bus_url
            if self.bus_url.startswith(("redis://", "rediss://", "unix://"))
            else "memory"
        )

    @property
    def uses_sandbox(self) -> bool:
        return self.stripe_secret_key is None

    @property
    def uses_paypal_sandbox(self) -> bool:
        """The built-in PayPal sandbox runs: no PayPal app, and Stripe on its sandbox too (a
        live service never takes test buyers' money)."""
        return self.paypal_client_id is None and self.uses_sandbox

    @property
    def connect_client_id(self) -> str | None:
        """The Connect client id merchants link with; None: linking is not set up."""
        if self.stripe_connect_client_id:
            return self.stripe_connect_client_id
        return SANDBOX_CONNECT_CLIENT_ID if self.uses_sandbox else None


def _comma_list(text: str) -> list[str]:
    """A comma-separated setting as its items, blanks left out."""
    return [item.strip() for item in text.split(",") if item.strip()]
