"""Connect in the sandbox: OAuth links an account, ``Stripe-Account`` scopes every object to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from tests.support.sdk import client as _client
from tests.support.server import RunningServer

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database

REDIRECT = "https://platform.example/connected"


def _authorize(server: RunningServer, decision: str = "allow", **extra: str) -> dict[str, str]:
    """The seller's click on the consent page; the query the platform's redirect receives."""
    query = {
        "client_id": "ca_platform123",
        "response_type": "code",
        "scope": "read_write",
        "redirect_uri": REDIRECT,
        "state": "csrf-42",
    }
    page = httpx.get(f"{server.url}/sandbox/oauth/authorize", params=query)
    assert page.status_code == 200 and "Connect account" in page.text
    answer = httpx.post(
        f"{server.url}/sandbox/oauth/authorize",
        data=query | {"decision": decision, "business_name": "Ticket Hall", **extra},
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _connected(server: RunningServer) -> dict[str, Any]:
    code = _authorize(server)["code"]
    token = _client(server).oauth.token({"grant_type": "authorization_code", "code": code})
    return token.to_dict()


def test_oauth_links_an_account_and_the_code_works_once(server: RunningServer) -> None:
    query = _authorize(server)
    assert query["state"] == "csrf-42" and query["scope"] == "read_write"
    assert query["code"].startswith("ac_")
    client = _client(server)
    token = client.oauth.token({"grant_type": "authorization_code", "code": query["code"]})
    assert token.stripe_user_id.startswith("acct_")
    assert token.access_token.startswith("sk_test_") and token.token_type == "bearer"
    assert token.scope == "read_write" and token.livemode is False
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token({"grant_type": "authorization_code", "code": query["code"]})
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token({"grant_type": "authorization_code", "code": "ac_made_up"})
    account = client.v1.accounts.retrieve(token.stripe_user_id)
    assert account.id == token.stripe_user_id and account.object == "account"


def test_a_denied_or_malformed_authorization_is_refused(server: RunningServer) -> None:
    assert _authorize(server, decision="deny")["error"] == "access_denied"
    bad = httpx.get(
        f"{server.url}/sandbox/oauth/authorize",
        params={"client_id": "nope", "redirect_uri": REDIRECT},
    )
    assert bad.status_code == 400 and "client_id" in bad.text
    no_redirect = httpx.get(
        f"{server.url}/sandbox/oauth/authorize", params={"client_id": "ca_platform123"}
    )
    assert no_redirect.status_code == 400 and "redirect_uri" in no_redirect.text


def test_stripe_account_scopes_objects_and_takes_an_application_fee(
    server: RunningServer,
) -> None:
    seller = _connected(server)["stripe_user_id"]
    client = _client(server)
    on_seller = {"stripe_account": seller}
    intent = client.v1.payment_intents.create(
        {
            "amount": 5000,
            "currency": "eur",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "application_fee_amount": 250,
        },
        on_seller,
    )
    assert intent.status == "succeeded" and intent.application_fee_amount == 250
    charge = client.v1.charges.retrieve(intent.latest_charge, options=on_seller)
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (fee.amount, fee.account, fee.charge) == (250, seller, charge.id)
    # The seller's objects are the seller's alone.
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.v1.payment_intents.retrieve(intent.id)
    assert hidden.value.http_status == 404
    assert intent.id not in [pi.id for pi in client.v1.payment_intents.list().data]
    seller_events = client.v1.events.list({"type": "payment_intent.succeeded"}, on_seller)
    assert [e.account for e in seller_events.data] == [seller]
    assert client.v1.events.list({"type": "payment_intent.succeeded"}).data == []


def test_the_access_token_acts_for_the_seller_until_deauthorized(server: RunningServer) -> None:
    token = _connected(server)
    as_seller = _client(server, token["access_token"])
    product = as_seller.v1.products.create({"name": "Gig ticket"})
    assert as_seller.v1.accounts.retrieve_current().id == token["stripe_user_id"]
    platform = _client(server)
    seen = platform.v1.products.retrieve(
        product.id, options={"stripe_account": token["stripe_user_id"]}
    )
    assert seen.name == "Gig ticket"
    platform.oauth.deauthorize(
        {"client_id": "ca_platform123", "stripe_user_id": token["stripe_user_id"]}
    )
    with pytest.raises(stripe.AuthenticationError):
        as_seller.v1.products.list()
    with pytest.raises(stripe.PermissionError):
        platform.v1.products.list(options={"stripe_account": token["stripe_user_id"]})


def test_fees_need_a_connected_account_and_unknown_accounts_are_refused(
    server: RunningServer,
) -> None:
    client = _client(server)
    with pytest.raises(stripe.InvalidRequestError) as fee:
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "application_fee_amount": 10}
        )
    assert fee.value.param == "application_fee_amount"
    with pytest.raises(stripe.PermissionError):
        client.v1.customers.list(options={"stripe_account": "acct_doesnotexist"})
    created = client.v1.accounts.create({"type": "express", "email": "shop@example.com"})
    assert created.type == "express" and created.email == "shop@example.com"
    assert [a.id for a in client.v1.accounts.list().data] == [created.id]


def test_the_platform_may_name_its_own_account(server: RunningServer) -> None:
    client = _client(server)
    platform = client.v1.accounts.retrieve_current()
    on_itself = {"stripe_account": platform.id}
    customer = client.v1.customers.create({"email": "a@example.com"}, on_itself)
    # Made on the platform's own books, as without the header.
    assert client.v1.customers.retrieve(customer.id).email == "a@example.com"


def test_deauthorizing_tells_the_platform_and_unlists_the_account(server: RunningServer) -> None:
    seller = _connected(server)["stripe_user_id"]
    client = _client(server)
    assert seller in [a.id for a in client.v1.accounts.list().data]
    client.oauth.deauthorize({"client_id": "ca_platform123", "stripe_user_id": seller})
    assert seller not in [a.id for a in client.v1.accounts.list().data]
    [event] = [
        e
        for e in server.sandbox.events
        if e["type"] == "account.application.deauthorized" and e["account"] == seller
    ]
    application = event["data"]["object"]
    assert (application["object"], application["id"]) == ("application", "ca_platform123")


def test_refunding_a_connected_charge_returns_the_fee_in_proportion(
    server: RunningServer,
) -> None:
    seller = _connected(server)["stripe_user_id"]
    client = _client(server)
    on_seller = {"stripe_account": seller}
    intent = client.v1.payment_intents.create(
        {
            "amount": 10000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "application_fee_amount": 333,
        },
        on_seller,
    )
    charge = client.v1.charges.retrieve(intent.latest_charge, options=on_seller)
    client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 2500, "refund_application_fee": True}, on_seller
    )
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (83, False)  # a quarter of 333, rounded down
    assert [r.amount for r in fee.refunds.data] == [83]
    # The rest of the charge refunded: all the fee that is left comes back.
    client.v1.refunds.create(
        {"payment_intent": intent.id, "refund_application_fee": True}, on_seller
    )
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (333, True)
    own = client.v1.charges.create({"amount": 500, "currency": "usd", "source": "tok_visa"})
    with pytest.raises(stripe.InvalidRequestError) as platform_own:
        client.v1.refunds.create({"charge": own.id, "refund_application_fee": True})
    assert platform_own.value.param == "refund_application_fee"
