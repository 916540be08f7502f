"""The PayPal sandbox served on loopback, and PayPal's official SDK pointed at it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from qrcheckout.app import (
    PAYPAL_SANDBOX_CLIENT_ID,
    PAYPAL_SANDBOX_PATH,
    PAYPAL_SANDBOX_WEBHOOK_ID,
    paypal_sandbox_secret,
)
from qrcheckout.payments.paypal_api import sdk_client
from qrcheckout_sandbox.paypal.app import PayPalSandbox
from tests.support.paypal_spec import Answer
from tests.support.server import RunningServer, free_socket, serving

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


def sdk(base: str, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> Any:
    """PayPal's SDK at ``base``, as the service's provider makes it."""
    return sdk_client(base, client_id, secret)


class Recorder:
    """An ASGI wrapper that keeps every JSON answer the sandbox gives (``answers``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answers: list[Answer] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        answer = Answer(scope["method"], scope["path"], 0, None)
        is_json = False

        async def keep(message: Any) -> None:
            nonlocal is_json
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                headers = dict(message.get("headers", []))
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
                # Kept at once: a client has a 204 as soon as its headers arrive.
                if is_json or answer.status == 204:
                    self.answers.append(answer)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and is_json:
                    # Read before the last of it is sent, so before the client has it.
                    answer.body = json.loads(b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)


@dataclass
class Served:
    sandbox: PayPalSandbox
    url: str
    recorder: Recorder

    def http(self, client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> httpx.Client:
        """A plain HTTP client holding a bearer token (for the webhook calls, which the SDK
        does not make)."""
        token = httpx.post(
            f"{self.url}/v1/oauth2/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )


@contextlib.contextmanager
def paypal_sandbox(**kwargs: Any) -> Iterator[Served]:
    sock = free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    kwargs.setdefault("credentials", {CLIENT_ID: CLIENT_SECRET})
    sandbox = PayPalSandbox(public_base=base, **kwargs)
    recorder = Recorder(sandbox.app)
    with serving(recorder, sock) as url:
        yield Served(sandbox, url, recorder)


# -- the PayPal sandbox a running service mounts ------------------------------------------------


def mounted(server: RunningServer) -> Served:
    """The service's own PayPal sandbox, with the service's credentials there."""
    sandbox: PayPalSandbox = server.app.state.paypal_sandbox
    return Served(sandbox, f"{server.url}{PAYPAL_SANDBOX_PATH}", Recorder(sandbox.app))


def service_http(server: RunningServer) -> httpx.Client:
    """HTTP to the mounted sandbox as the service's own PayPal app."""
    return mounted(server).http(PAYPAL_SANDBOX_CLIENT_ID, paypal_sandbox_secret(server.settings))


def service_sdk(server: RunningServer) -> Any:
    """PayPal's SDK as the service's own app (the merchant's PayPal account)."""
    return sdk(
        mounted(server).url, PAYPAL_SANDBOX_CLIENT_ID, paypal_sandbox_secret(server.settings)
    )


def approve(approval_url: str, buyer: str = "approves") -> httpx.Response:
    """The buyer picks a test account on the approval page and presses its button."""
    return httpx.post(approval_url, data={"buyer": buyer}, follow_redirects=False, timeout=30)


def order_id(approval_url: str) -> str:
    """The PayPal order an approval page shows."""
    return parse_qs(urlsplit(approval_url).query)["token"][0]


def drop_webhook(server: RunningServer) -> None:
    """Delete the service's webhook at the sandbox: no event reaches the service any more."""
    with service_http(server) as http:
        gone = http.delete(f"/v1/notifications/webhooks/{PAYPAL_SANDBOX_WEBHOOK_ID}")
        assert gone.status_code == 204, gone.text
