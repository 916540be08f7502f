"""Settings, read from ``QRCHECKOUT_*`` environment variables inside ``create_app``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "whsec_changeme"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QRCHECKOUT_", extra="ignore")

    environment: str = "development"
    database_url: str = "sqlite+aiosqlite:///./qrcheckout.db"
    public_url: str = "http://127.0.0.1:8000"
    # Unset: the built-in Stripe-compatible sandbox is started and used.
    stripe_secret_key: str | None = None
    # Unset with the sandbox: a secret is generated once and kept in ``data_dir``.
    stripe_webhook_secret: str | None = None
    # Unset: Stripe itself with a key, or the built-in sandbox without one.
    stripe_api_base: str | None = None
    # Where the sandbox sends its events; unset: this service's own webhook endpoint.
    sandbox_webhook_url: str | None = None
    data_dir: Path = Path(".")
    # The service's secret API key: callers holding it may set their own prices
    # (inline ``price_data`` on ``/create-checkout-session``). Unset: nobody may.
    api_key: str | None = None
    # The shop's name, shown on the sandbox's hosted pay page.
    business_name: str = "qrcheckout café"
    temporary_ttl_seconds: int = Field(default=600, ge=1, le=86_400)
    dynamic_ttl_seconds: int = Field(default=3600, ge=1, le=86_400)
    expiry_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # "memory" (one process), or a redis:// URL to share live status between instances.
    bus_url: str = "memory"
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
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # Comma-separated URLs told about orders (order.completed, order.refunded, order.expired).
    merchant_webhook_urls: str = ""
    # Signs those deliveries; unset: a secret is generated once and kept in ``data_dir``.
    merchant_webhook_secret: str | None = None

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> Settings:
        if self.environment != "development":
            for name in (
                "stripe_secret_key",
                "stripe_webhook_secret",
                "api_key",
                "jwt_secret",
                "merchant_webhook_secret",
            ):
                value = getattr(self, name)
                if value is not None and value.lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"QRCHECKOUT_{name.upper()} is a placeholder; set a real one")
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def merchant_webhook_targets(self) -> list[str]:
        return [url.strip() for url in self.merchant_webhook_urls.split(",") if url.strip()]

    @property
    def uses_sandbox(self) -> bool:
        return self.stripe_secret_key is None
