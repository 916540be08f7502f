"""The official ``stripe`` SDK pointed at a running server's sandbox, as a user would point it."""

from __future__ import annotations

import stripe

from tests.support.server import RunningServer

_open: list[stripe.HTTPXClient] = []


def client(server: RunningServer, key: str = "sk_test_anything") -> stripe.StripeClient:
    """A client of the sandbox mounted at ``/sandbox``: its API and its Connect OAuth."""
    http = stripe.HTTPXClient(allow_sync_methods=True)
    _open.append(http)
    base = f"{server.url}/sandbox"
    return stripe.StripeClient(
        key,
        base_addresses={"api": base, "connect": base},
        max_network_retries=0,
        http_client=http,
    )


def close_all() -> None:
    while _open:
        _open.pop().close()  # type: ignore[no-untyped-call]
