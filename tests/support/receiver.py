"""Webhook receivers on loopback: one that fails then relays, one that answers and keeps posts."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx


class _Receiver:
    """A threaded HTTP server on a free port; ``answer`` decides each post's status."""

    def __init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.answer({k: v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FlakyReceiver(_Receiver):
    """Answers 503 to the first ``failures`` posts, then relays each post to ``forward_to``.

    With ``only``, just the posts of that event type are counted, failed and kept.
    """

    def __init__(self, failures: int, only: str | None = None) -> None:
        super().__init__()
        self.failures = failures
        self.only = only
        self.forward_to: str | None = None
        self.received: list[tuple[float, dict[str, str], bytes, int]] = []

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        if self.only is not None and json.loads(body)["type"] != self.only:
            return 200
        if len(self.received) < self.failures or self.forward_to is None:
            status = 503
        else:
            status = httpx.post(
                self.forward_to,
                content=body,
                headers={
                    "Content-Type": headers.get("Content-Type", "application/json"),
                    "Stripe-Signature": headers.get("Stripe-Signature", ""),
                },
            ).status_code
        self.received.append((time.monotonic(), headers, body, status))
        return status


class Inbox(_Receiver):
    """A webhook endpoint that answers ``statuses`` in turn (then 200) and keeps every post."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes, int]] = []

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        status = self.statuses.pop(0) if self.statuses else 200
        self.received.append((headers, body, status))
        return status

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body, _ in self.received]
