"""A webhook receiver that fails its first deliveries, then forwards to a real endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class FlakyReceiver:
    """Answers 503 to the first ``failures`` posts, then relays each post to ``forward_to``.

    With ``only``, just the posts of that event type are counted, failed and kept.
    """

    def __init__(self, failures: int, only: str | None = None) -> None:
        self.failures = failures
        self.only = only
        self.forward_to: str | None = None
        self.received: list[tuple[float, dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                if receiver.only is not None and json.loads(body)["type"] != receiver.only:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if len(receiver.received) < receiver.failures or receiver.forward_to is None:
                    status = 503
                else:
                    status = httpx.post(
                        receiver.forward_to,
                        content=body,
                        headers={
                            "Content-Type": headers.get("Content-Type", "application/json"),
                            "Stripe-Signature": headers.get("Stripe-Signature", ""),
                        },
                    ).status_code
                receiver.received.append((time.monotonic(), headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FlakyReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Inbox:
    """A webhook endpoint that answers ``statuses`` in turn (then 200) and keeps every post."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = inbox.statuses.pop(0) if inbox.statuses else 200
                inbox.received.append(({k: v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body, _ in self.received]

    def __enter__(self) -> Inbox:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
