"""The PayPal sandbox served on loopback, and PayPal's official SDK pointed at it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from qrcheckout.payments.paypal_api import sdk_client
from qrcheckout_sandbox.paypal.app import PayPalSandbox
from tests.support.paypal_spec import Answer
from tests.support.server import free_socket, serving

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
