"""``/metrics`` in Prometheus' format: the counters an operator watches move with what the
service does (a request, a payment, its event, a refund, a watcher), and only whoever may read
them does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx

from tests.conftest import ServerFactory
from tests.support.auth import bearer
from tests.support.flows import create_token, pay_page, submit_card, wait_status
from tests.support.metrics import samples, value
from tests.support.orders import create_order, pay_order, refunded, start
from tests.support.server import RunningServer, wait_until


def test_a_payment_moves_the_counters(server: RunningServer) -> None:
    before = samples(server)
    made = create_token(server)
    submit_card(pay_page(server, made["id"]))
    wait_status(server, made["id"], "success")
    after = samples(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("qrcheckout_payments_total", provider="stripe", currency="usd") == 1
    assert moved("qrcheckout_payments_amount_total", provider="stripe", currency="usd") == 500
    event = {"provider": "stripe", "type": "checkout.session.completed", "outcome": "processed"}
    assert moved("qrcheckout_webhook_events_total", **event) == 1
    created = {"method": "POST", "route": "/v1/tokens", "status": "201"}
    assert moved("qrcheckout_http_requests_total", **created) == 1
    # Routes are their templates, never the ids in a path.
    assert not [k for k in after if any(made["id"] in value for _, value in k[1])]
    timed = {"method": "POST", "route": "/v1/tokens", "le": "+Inf"}
    assert moved("qrcheckout_http_request_duration_seconds_bucket", **timed) == 1
    assert ("qrcheckout_job_lag_seconds", frozenset({("job", "expiring tokens")})) in after


def test_refunds_and_unsigned_events_are_counted(make_server: ServerFactory) -> None:
    server = start(make_server)
    order = pay_order(server, create_order(server, ("espresso", 2)))
    before = samples(server)
    refunded(server, order["id"], 100)
    forged = server.client.post("/v1/webhooks/stripe", content=b"{}")
    assert forged.status_code == 400
    after = samples(server)
    refunds = {"currency": "usd", "source": "api"}
    assert (
        value(after, "qrcheckout_refunds_total", **refunds)
        - value(before, "qrcheckout_refunds_total", **refunds)
        == 1
    )
    # The mounted sandbox's routes keep their prefix: not counted as the service's own.
    assert server.client.post("/sandbox/v1/tokens").status_code == 401
    sandbox = {"method": "POST", "route": "/sandbox/v1/tokens", "status": "401"}
    assert value(samples(server), "qrcheckout_http_requests_total", **sandbox) >= 1
    rejected = {"provider": "stripe", "type": "unverified", "outcome": "rejected"}
    assert (
        value(after, "qrcheckout_webhook_events_total", **rejected)
        - value(before, "qrcheckout_webhook_events_total", **rejected)
        == 1
    )


def _watching(server: RunningServer, transport: str) -> float:
    return value(samples(server), "qrcheckout_live_watchers", transport=transport)


def test_live_watchers_are_counted_while_connected(server: RunningServer) -> None:
    made = create_token(server)
    base = _watching(server, "sse")
    opened, leave = threading.Event(), threading.Event()

    def watch() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            client.stream("GET", f"/v1/tokens/{made['id']}/events") as stream,
        ):
            lines: Iterator[str] = stream.iter_lines()
            next(lines)
            opened.set()
            leave.wait(10)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert opened.wait(10)
        wait_until(lambda: _watching(server, "sse") == base + 1)
    finally:
        leave.set()
        watcher.join(10)
    wait_until(lambda: _watching(server, "sse") == base)


def test_with_a_token_only_its_bearer_reads_them(make_server: ServerFactory) -> None:
    token = "metrics-token-0123456789abcdef"
    server = start(make_server, metrics_token=token)
    for headers in ({}, bearer("metrics-token-wrong-0123456789")):
        refused = server.client.get("/metrics", headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "invalid_credentials"
    assert "qrcheckout_http_requests_total" in str(samples(server, **bearer(token)))


def test_jobs_that_catch_up_on_owed_work_run_at_their_own_pace(
    make_server: ServerFactory,
) -> None:
    server = make_server(expiry_interval_seconds=0.2, catch_up_interval_seconds=300)
    runs = "qrcheckout_job_duration_seconds_count"
    before = samples(server)
    time.sleep(2.0)
    after = samples(server)

    def ran(job: str) -> float:
        return value(after, runs, job=job) - value(before, runs, job=job)

    # Expiry keeps a watched page's pace; work owed waits for its own interval (after its
    # first run, as the server starts, which may fall inside the two seconds).
    assert ran("expiring tokens") >= 5
    assert ran("expiring orders") >= 5
    assert ran("refunding") <= 1
    assert ran("replaying stripe events") <= 1
