"""The same checkout, paid through Stripe and through PayPal: the domain behaves the same with
either provider behind it (the built-in sandboxes of both, mounted by the service)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.auth import merchant
from tests.support.flows import create_token, pay_page, submit_card, token, wait_status
from tests.support.orders import (
    create_order,
    entitlements,
    refunded,
    start,
    wait_order_status,
)
from tests.support.paypal import approve
from tests.support.server import RunningServer, wait_until

PROVIDERS = ["stripe", "paypal"]


def pay(url: str, provider: str) -> httpx.Response:
    """The buyer pays on the page the QR code opened: with a card that works on Stripe's, as the
    test account that pays on PayPal's; either sends them back to the shop."""
    paid = submit_card(url) if provider == "stripe" else approve(url)
    assert paid.status_code == 303, paid.text
    return paid


def page_of(provider: str) -> str:
    return {"stripe": "/sandbox/pay/", "paypal": "/paypal-sandbox/checkoutnow?token="}[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_qr_code_opens_the_providers_page_and_paying_there_completes_the_token(
    server: RunningServer, provider: str
) -> None:
    made = create_token(server, provider=provider)
    assert made["provider"] == provider
    url = pay_page(server, made["id"])
    assert page_of(provider) in url
    back = pay(url, provider)
    assert back.headers["location"].startswith(f"{server.url}/t/{made['id']}/done?")
    # Each provider names its session in the way back; no placeholder is left unfilled.
    assert "{" not in back.headers["location"] and "%7B" not in back.headers["location"]
    paid = wait_status(server, made["id"], "success")
    assert paid["paid_count"] == 1
    assert paid["session_id"]
    assert (paid["stripe_session_id"] is not None) == (provider == "stripe")
    # The shop's page the buyer lands on, and a second look, change nothing.
    for _ in range(2):
        assert httpx.get(back.headers["location"], timeout=30).status_code == 200
    assert token(server, made["id"])["paid_count"] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_static_token_takes_one_payment_per_scan(server: RunningServer, provider: str) -> None:
    made = create_token(server, provider=provider, kind="static")
    for count in (1, 2):
        pay(pay_page(server, made["id"]), provider)
        seen = wait_until(
            lambda n=count: (t := token(server, made["id"]))["paid_count"] == n and t, 10
        )
        assert seen["status"] == "inprogress"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_order_paid_through_either_provider_grants_once_and_refunds_partly_then_fully(
    make_server: ServerFactory, provider: str
) -> None:
    server = start(make_server)
    order = create_order(server, ("espresso", 2), payment_mode=provider)
    assert order["payment_mode"] == provider
    assert page_of(provider) in order["payment_url"]
    pay(order["payment_url"], provider)
    completed = wait_order_status(server, order["id"], "completed")
    assert completed["amount_paid"] == completed["amount"]
    assert [(e["product_id"], e["quantity"]) for e in entitlements(server)] == [("espresso", 2)]

    part = refunded(server, order["id"], 100)
    assert part["refund"]["amount"] == 100
    assert part["order"]["status"] == "partially_refunded"
    rest = refunded(server, order["id"])
    assert rest["refund"]["amount"] == completed["amount"] - 100
    done = wait_order_status(server, order["id"], "refunded")
    assert done["amount_refunded"] == done["amount"]
    assert [r["amount"] for r in done["refunds"]] == [100, done["amount"] - 100]
    assert len(done["payments"]) == 1


def test_paypal_is_off_beside_a_live_stripe_key_and_asking_for_it_makes_nothing(
    make_server: ServerFactory,
) -> None:
    # No test buyer may pay a live shop: without a PayPal app, the PayPal sandbox runs only
    # beside Stripe's.
    server = start(
        make_server, stripe_secret_key="sk_live_unreachable", stripe_api_base="http://127.0.0.1:9"
    )
    assert httpx.get(f"{server.url}/paypal-sandbox/v1/oauth2/token").status_code == 404
    refused = server.client.post("/v1/tokens", json={"provider": "paypal"}, headers=merchant())
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "provider_not_configured"
    assert refused.json()["error"]["field"] == "provider"
    order = {
        "items": [{"product_id": "espresso", "quantity": 1}],
        "payment_mode": "paypal",
        "customer_email": "buyer@example.com",
    }
    refused = server.client.post("/v1/orders", json=order, headers=merchant())
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "provider_not_configured"
    assert server.client.get("/v1/tokens", headers=merchant()).json()["data"] == []
    assert server.client.get("/v1/orders", headers=merchant()).json()["data"] == []


def test_a_provider_nobody_knows_is_refused(server: RunningServer) -> None:
    refused = server.client.post("/v1/tokens", json={"provider": "klarna"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "provider_not_configured"
    assert (
        "stripe, paypal" in refused.json()["error"]["message"]
        or "paypal, stripe" in (refused.json()["error"]["message"])
    )
