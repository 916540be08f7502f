"""Whose keys the sandbox takes: the mounted one only the service's own, a stand-alone one any."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import stripe

from qrcheckout import cli, logs
from qrcheckout.app import SANDBOX_KEY_FILE
from qrcheckout.config import Settings
from tests.support.flows import create_token, pay_page
from tests.support.sdk import client as _client
from tests.support.sdk import client_at
from tests.support.server import RunningServer, serving

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database

OWN_KEY = "sk_test_" + "7" * 40


def _random_key(prefix: str = "sk_test_") -> str:
    return prefix + secrets.token_hex(16)


def _refusal(key: str) -> dict[str, Any]:
    """Stripe's answer to an unknown key."""
    return {
        "error": {
            "type": "invalid_request_error",
            "message": f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}",
        }
    }


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_mounted_sandbox_takes_only_the_services_own_key(
    server: RunningServer, tmp_path: Path
) -> None:
    key = server.sandbox_key
    assert key.startswith("sk_test_") and len(key) > 40
    kept = tmp_path / SANDBOX_KEY_FILE
    assert kept.read_text().strip() == key and _mode(kept) == 0o600
    assert _client(server).v1.checkout.sessions.list().object == "list"
    for other in (
        _random_key(),
        _random_key("rk_test_"),
        key[:-1] + ("0" if key[-1] != "0" else "1"),
    ):
        with pytest.raises(stripe.AuthenticationError) as refused:
            _client(server, other).v1.checkout.sessions.list()
        assert refused.value.http_status == 401
        raw = httpx.get(
            f"{server.url}/sandbox/v1/products", headers={"Authorization": f"Bearer {other}"}
        )
        assert (raw.status_code, raw.json()) == (401, _refusal(other))
    curl = httpx.get(f"{server.url}/sandbox/v1/products", auth=(_random_key(), ""))
    assert curl.status_code == 401
    # The service itself drives its sandbox with that key.
    assert "/sandbox/pay/cs_test_" in pay_page(server, create_token(server)["id"])


def test_the_key_is_kept_across_restarts_and_may_be_set(make_server: Any) -> None:
    first = make_server()
    generated = first.sandbox_key
    product = _client(first).v1.products.create({"name": "Kept"})
    first.stop()
    again = make_server()
    assert again.sandbox_key == generated
    assert _client(again).v1.products.retrieve(product.id).name == "Kept"
    again.stop()
    configured = make_server(sandbox_api_key=OWN_KEY)
    assert configured.sandbox_key == OWN_KEY
    assert _client(configured).v1.products.retrieve(product.id).name == "Kept"
    with pytest.raises(stripe.AuthenticationError):
        _client(configured, generated).v1.products.list()
    assert "/sandbox/pay/cs_test_" in pay_page(configured, create_token(configured)["id"])


@pytest.mark.parametrize("key", ["pk_test_not_a_secret_key", "sk_live_0123456789", "sk_test_x"])
def test_a_malformed_configured_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="sandbox_api_key"):
        Settings(sandbox_api_key=key)


def _authorization_code(server: RunningServer) -> str:
    answer = httpx.post(
        f"{server.url}/sandbox/oauth/authorize",
        data={
            "client_id": "ca_platform123",
            "response_type": "code",
            "scope": "read_write",
            "redirect_uri": "https://platform.example/connected",
            "decision": "allow",
        },
    )
    assert answer.status_code == 303
    code: str = httpx.URL(answer.headers["location"]).params["code"]
    return code


def test_connect_oauth_takes_only_the_services_key(server: RunningServer) -> None:
    code = _authorization_code(server)
    grant = {"grant_type": "authorization_code", "code": code}
    with pytest.raises(stripe.AuthenticationError):
        _client(server, _random_key()).oauth.token(grant)
    as_form = httpx.post(
        f"{server.url}/sandbox/oauth/token", data=grant | {"client_secret": _random_key()}
    )
    assert as_form.status_code == 401
    # The code was not spent by the refused calls; the service's key exchanges it.
    token = _client(server).oauth.token(grant)
    seller = _client(server, token.access_token)
    assert seller.v1.accounts.retrieve_current().id == token.stripe_user_id
    # A connected account's token is not the platform's key.
    with pytest.raises(stripe.AuthenticationError):
        seller.oauth.token(
            {"grant_type": "authorization_code", "code": _authorization_code(server)}
        )


def test_a_standalone_sandbox_takes_any_test_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **_: built.append(app))
    assert cli.main(["sandbox", "--port", "12111", "--data-dir", str(tmp_path / "alone")]) == 0
    [app] = built
    with serving(app) as url:
        one, other = client_at(url, _random_key()), client_at(url, _random_key())
        product = one.v1.products.create({"name": "Anyone's"})
        assert other.v1.products.retrieve(product.id).name == "Anyone's"
        assert client_at(url, "sk_test_x" + "1" * 8).v1.products.list().data
        with pytest.raises(stripe.AuthenticationError):
            client_at(url, "sk_live_" + secrets.token_hex(16)).v1.products.list()


def test_serve_prints_the_sandbox_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("QRCHECKOUT_STRIPE_SECRET_KEY", "QRCHECKOUT_SANDBOX_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QRCHECKOUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QRCHECKOUT_PUBLIC_URL", "http://127.0.0.1:8765")
    monkeypatch.setenv("QRCHECKOUT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    built: list[Any] = []

    class Built:
        """The server serve would run, not run: the app it was given is kept."""

        started = True

        def __init__(self, config: Any, _: Any) -> None:
            built.append(config.app)

        def run(self) -> None:
            return None

    monkeypatch.setattr(cli, "Server", Built)
    # Nor is its configuration made: uvicorn's would set up logging.
    monkeypatch.setattr(cli.uvicorn, "Config", lambda app, **_: SimpleNamespace(app=app))
    # Logging stays pytest's: a handler on this test's captured stderr would outlive the test,
    # and the servers of later tests would log to a closed file.
    monkeypatch.setattr(logs, "install", logs.config)
    assert cli.main(["serve", "--port", "8765"]) == 0
    [app] = built
    app.state.sandbox.store.close()  # never started: only its state file was opened
    key = (tmp_path / SANDBOX_KEY_FILE).read_text().strip()
    assert key == app.state.sandbox_api_key
    assert f"http://127.0.0.1:8765/sandbox, secret key {key}" in capsys.readouterr().out
