"""What ``/metrics`` tells Prometheus about this process: requests, provider events, live
watchers, payments and refunds, merchant webhook deliveries and background jobs. Each process
counts its own (Prometheus adds up the instances it scrapes)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

registry: CollectorRegistry = REGISTRY

requests = Counter(
    "qrcheckout_http_requests",
    "HTTP requests answered, by method, route (its path template) and status.",
    ["method", "route", "status"],
)
request_seconds = Histogram(
    "qrcheckout_http_request_duration_seconds",
    "Time to answer an HTTP request (its response started), by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
webhook_events = Counter(
    "qrcheckout_webhook_events",
    "Provider webhook deliveries, by provider, event type and outcome (processed, ignored, "
    "failed, duplicate, rejected, error).",
    ["provider", "type", "outcome"],
)
watchers = Gauge(
    "qrcheckout_live_watchers",
    "Watchers connected now, by transport (sse, websocket, graphql).",
    ["transport"],
)
payments = Counter(
    "qrcheckout_payments",
    "Payments confirmed, by provider and currency.",
    ["provider", "currency"],
)
payments_amount = Counter(
    "qrcheckout_payments_amount",
    "Money of the payments confirmed, in the currency's minor units.",
    ["provider", "currency"],
)
refunds = Counter(
    "qrcheckout_refunds",
    "Refunds made, by currency and source (api, automatic).",
    ["currency", "source"],
)
refunds_amount = Counter(
    "qrcheckout_refunds_amount",
    "Money of the refunds made, in the currency's minor units.",
    ["currency", "source"],
)
deliveries = Counter(
    "qrcheckout_merchant_webhook_deliveries",
    "Attempts to deliver an event to a merchant's webhook, by outcome (delivered, retrying, "
    "failed).",
    ["outcome"],
)
job_lag = Gauge(
    "qrcheckout_job_lag_seconds",
    "How much later than planned the last run of each background job started.",
    ["job"],
)
job_seconds = Histogram(
    "qrcheckout_job_duration_seconds",
    "Time a run of each background job took.",
    ["job"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)


def paid(provider: str, currency: str, amount: int) -> None:
    payments.labels(provider, currency).inc()
    payments_amount.labels(provider, currency).inc(amount)


def refunded(currency: str, source: str, amount: int) -> None:
    refunds.labels(currency, source).inc()
    refunds_amount.labels(currency, source).inc(amount)
