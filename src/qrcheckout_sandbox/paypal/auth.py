"""OAuth 2 client credentials, as PayPal has them: ``POST /v1/oauth2/token`` with the app's
client id and secret in Basic auth gives a bearer token that every other call carries."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from qrcheckout_sandbox.paypal.core import ACCESS_TOKEN
from qrcheckout_sandbox.paypal.errors import PayPalError
from qrcheckout_sandbox.store import Store

TOKEN_SECONDS = 32400
CLIENT = "paypal.client"
SCOPE = " ".join(
    (
        "https://uri.paypal.com/services/payments/payment/authcapture",
        "https://uri.paypal.com/services/payments/refund",
        "https://uri.paypal.com/services/applications/webhooks",
        "https://uri.paypal.com/services/payments/realtimepayment",
    )
)


class OAuthError(Exception):
    """An error in OAuth's shape: ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Clients:
    """The apps the sandbox serves. ``credentials`` maps each client id to its secret; None takes
    any pair, and holds a client id to the secret it was first used with. Secrets and tokens are
    kept only as SHA-256 digests, and compared in constant time."""

    def __init__(self, store: Store, credentials: Mapping[str, str] | None) -> None:
        self.store = store
        self.credentials = (
            None if credentials is None else {k: _digest(v) for k, v in credentials.items()}
        )

    def issue(self, authorization: str | None, form: Mapping[str, Any]) -> dict[str, Any]:
        client = self._client(authorization)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "unsupported_grant_type", "Grant Type is NULL")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", f"Grant Type {grant} is not supported")
        token = "A21AA" + secrets.token_urlsafe(48)
        expires = int(time.time()) + TOKEN_SECONDS
        self.store.add(
            ACCESS_TOKEN, {"id": _digest(token), "client": client, "expires": expires}, client
        )
        self.store.commit()
        return {
            "scope": SCOPE,
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-" + _digest(client)[:16].upper(),
            "expires_in": TOKEN_SECONDS,
            "nonce": f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}{secrets.token_hex(8)}",
        }

    def _client(self, authorization: str | None) -> str:
        refused = OAuthError(401, "invalid_client", "Client Authentication failed")
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            raise refused
        try:
            client, sep, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise refused from None
        if not sep or not client or not secret or len(client) > 128:
            raise refused
        digest = _digest(secret)
        if self.credentials is not None:
            known = self.credentials.get(client)
            if known is None or not hmac.compare_digest(known, digest):
                raise refused
            return client
        record = self.store.record(_digest("client:" + client))
        if record is None:
            self.store.add(CLIENT, {"id": _digest("client:" + client), "secret": digest}, client)
        elif not hmac.compare_digest(record.obj["secret"], digest):
            raise refused
        return client

    def caller(self, authorization: str | None) -> str:
        """The client id a bearer token was issued to, or PayPal's 401."""
        scheme, _, token = (authorization or "").partition(" ")
        record = self.store.record(_digest(token)) if scheme.lower() == "bearer" and token else None
        if record is None or record.kind != ACCESS_TOKEN or record.obj["expires"] < time.time():
            raise PayPalError(401)
        return str(record.obj["client"])
