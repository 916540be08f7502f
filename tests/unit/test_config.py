"""Settings from ``QRCHECKOUT_*`` vars: defaults, bounds, no placeholder secrets in production."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from qrcheckout.config import Settings

SECRETS = [
    "stripe_secret_key",
    "stripe_webhook_secret",
    "api_key",
    "jwt_secret",
    "merchant_webhook_secret",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets is seen, whatever the shell running the tests exports."""
    for name in list(os.environ):
        if name.upper().startswith("QRCHECKOUT_"):
            monkeypatch.delenv(name)


def test_defaults_run_a_development_server_on_the_sandbox() -> None:
    settings = Settings()
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.stripe_secret_key is None
    assert settings.uses_sandbox
    assert settings.bus_url == "memory"
    assert settings.max_body_bytes == 64 * 1024
    assert settings.temporary_ttl_seconds == 600
    assert settings.dynamic_ttl_seconds == 3600
    assert settings.order_ttl_seconds == 900
    assert settings.webhook_max_attempts == 8
    assert settings.auto_migrate is True
    assert settings.api_key is None
    assert settings.merchant_webhook_targets == []


def test_values_come_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRCHECKOUT_PUBLIC_URL", "https://pay.example.com")
    monkeypatch.setenv("QRCHECKOUT_DATABASE_URL", "postgresql+asyncpg://qr@db/qrcheckout")
    monkeypatch.setenv("QRCHECKOUT_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("QRCHECKOUT_AUTO_MIGRATE", "false")
    monkeypatch.setenv("QRCHECKOUT_EXPIRY_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("QRCHECKOUT_BUS_URL", "redis://cache:6379/0")
    settings = Settings()
    assert settings.public_url == "https://pay.example.com"
    assert settings.database_url == "postgresql+asyncpg://qr@db/qrcheckout"
    assert settings.max_body_bytes == 2048
    assert settings.auto_migrate is False
    assert settings.expiry_interval_seconds == 2.5
    assert settings.bus_url == "redis://cache:6379/0"


def test_variables_without_the_prefix_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://elsewhere.example")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_not_ours")
    settings = Settings()
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.uses_sandbox


def test_unknown_prefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRCHECKOUT_SOMETHING_ELSE", "1")
    assert Settings().environment == "development"


def test_a_stripe_key_turns_the_sandbox_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRCHECKOUT_STRIPE_SECRET_KEY", "sk_test_51Hx0123456789")
    monkeypatch.setenv("QRCHECKOUT_STRIPE_WEBHOOK_SECRET", "whsec_3f9a8b7c6d5e4f3a2b1c0d9e")
    assert not Settings().uses_sandbox


def test_a_stripe_key_needs_its_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRCHECKOUT_STRIPE_SECRET_KEY", "sk_test_51Hx0123456789")
    with pytest.raises(ValidationError, match="QRCHECKOUT_STRIPE_WEBHOOK_SECRET is required"):
        Settings()


@pytest.mark.parametrize("name", SECRETS)
@pytest.mark.parametrize("placeholder", ["changeme", "CHANGEME", "change-me", "secret"])
def test_placeholder_secrets_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch, name: str, placeholder: str
) -> None:
    monkeypatch.setenv("QRCHECKOUT_ENVIRONMENT", "production")
    monkeypatch.setenv(f"QRCHECKOUT_{name.upper()}", placeholder)
    with pytest.raises(ValidationError, match=f"QRCHECKOUT_{name.upper()} is a placeholder"):
        Settings()


def test_the_placeholder_webhook_secret_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QRCHECKOUT_ENVIRONMENT", "staging")
    monkeypatch.setenv("QRCHECKOUT_STRIPE_WEBHOOK_SECRET", "whsec_changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings()


@pytest.mark.parametrize("name", SECRETS)
def test_placeholder_secrets_are_accepted_in_development(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("QRCHECKOUT_STRIPE_WEBHOOK_SECRET", "whsec_3f9a8b7c6d5e4f3a2b1c0d9e")
    monkeypatch.setenv(f"QRCHECKOUT_{name.upper()}", "changeme")
    assert getattr(Settings(), name) == "changeme"


def test_real_secrets_are_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QRCHECKOUT_ENVIRONMENT", "production")
    monkeypatch.setenv("QRCHECKOUT_STRIPE_SECRET_KEY", "sk_live_51Hx0aBcDeFgHiJkLmNoP")
    monkeypatch.setenv("QRCHECKOUT_STRIPE_WEBHOOK_SECRET", "whsec_3f9a8b7c6d5e4f3a2b1c0d9e")
    monkeypatch.setenv("QRCHECKOUT_JWT_SECRET", "b1946ac92492d2347c6235b4d2611184")
    settings = Settings()
    assert settings.environment == "production"
    assert settings.stripe_webhook_secret == "whsec_3f9a8b7c6d5e4f3a2b1c0d9e"


@pytest.mark.parametrize("environment", ["development", "production"])
def test_the_public_url_loses_its_trailing_slashes(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("QRCHECKOUT_ENVIRONMENT", environment)
    monkeypatch.setenv("QRCHECKOUT_SANDBOX_OUTSIDE_DEVELOPMENT", "true")
    monkeypatch.setenv("QRCHECKOUT_PUBLIC_URL", "https://pay.example.com/shop//")
    assert Settings().public_url == "https://pay.example.com/shop"


@pytest.mark.parametrize(
    ("urls", "targets"),
    [
        ("", []),
        ("https://a.example/hook", ["https://a.example/hook"]),
        (
            "https://a.example/hook, https://b.example/hook",
            ["https://a.example/hook", "https://b.example/hook"],
        ),
        (
            " https://a.example/hook ,, ,https://b.example/hook,",
            [
                "https://a.example/hook",
                "https://b.example/hook",
            ],
        ),
        (" , ", []),
    ],
)
def test_merchant_webhook_targets_are_the_listed_urls(
    monkeypatch: pytest.MonkeyPatch, urls: str, targets: list[str]
) -> None:
    monkeypatch.setenv("QRCHECKOUT_MERCHANT_WEBHOOK_URLS", urls)
    assert Settings().merchant_webhook_targets == targets


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temporary_ttl_seconds", "0"),
        ("dynamic_ttl_seconds", "0"),
        ("order_ttl_seconds", "0"),
        ("temporary_ttl_seconds", "86401"),
        ("dynamic_ttl_seconds", "86401"),
        ("order_ttl_seconds", "86401"),
        ("expiry_interval_seconds", "0"),
        ("expiry_interval_seconds", "61"),
        ("catch_up_interval_seconds", "0"),
        ("catch_up_interval_seconds", "301"),
        ("max_body_bytes", "1023"),
        ("webhook_retry_base_seconds", "0"),
        ("webhook_max_attempts", "0"),
        ("webhook_max_attempts", "51"),
        ("temporary_ttl_seconds", "ten minutes"),
    ],
)
def test_values_out_of_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"QRCHECKOUT_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        Settings()


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("temporary_ttl_seconds", "1", 1),
        ("order_ttl_seconds", "86400", 86400),
        ("max_body_bytes", "1024", 1024),
        ("webhook_max_attempts", "50", 50),
        ("expiry_interval_seconds", "60", 60.0),
        ("catch_up_interval_seconds", "300", 300.0),
    ],
)
def test_values_at_the_bounds_are_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, read: float
) -> None:
    monkeypatch.setenv(f"QRCHECKOUT_{name.upper()}", value)
    assert getattr(Settings(), name) == read


def test_outside_development_the_sandbox_runs_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Test cards would otherwise complete real orders on a production site.
    monkeypatch.setenv("QRCHECKOUT_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="QRCHECKOUT_SANDBOX_OUTSIDE_DEVELOPMENT"):
        Settings()
    monkeypatch.setenv("QRCHECKOUT_SANDBOX_OUTSIDE_DEVELOPMENT", "true")
    assert Settings().uses_sandbox
