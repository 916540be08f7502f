"""Organisers paid into their own Stripe accounts: linked through Stripe's OAuth (the sandbox's),
paid there with the platform's fee, refunded with the fee in proportion, and unlinked."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import WEBHOOK_SECRET
from tests.support import sdk
from tests.support.auth import API_KEY, bearer, buyer, merchant
from tests.support.flows import create_token, pay_page, submit_card, wait_status
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import (
    charge,
    create_order,
    error,
    get_order,
    pay_order,
    post_order,
    refunded,
    session_id,
    start,
    wait_order,
)
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import deliver, session_event

# 5% and 30 cents of every payment into an organiser's account.
FEES = {"platform_fee_bps": 500, "platform_fee_fixed": 30, "admin_key": ADMIN_KEY}


def consent(server: RunningServer, url: str, decision: str = "allow") -> str:
    """The organiser on Stripe's consent page: where Stripe sends its browser next."""
    parts = urlsplit(url)
    assert url.startswith(f"{server.url}/sandbox/oauth/authorize?"), url
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code" and query["scope"] == "read_write"
    assert query["redirect_uri"] == f"{server.url}/connect/stripe/callback"
    page = httpx.get(url)
    assert page.status_code == 200, page.text
    answer = httpx.post(
        f"{server.url}/sandbox/oauth/authorize",
        data=query | {"decision": decision, "business_name": "Ticket Hall"},
    )
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def start_link(server: RunningServer, merchant_id: str = "default", key: str = API_KEY) -> str:
    started = server.client.post(f"/v1/merchants/{merchant_id}/stripe-connect", headers=bearer(key))
    assert started.status_code == 201, started.text
    url: str = started.json()["url"]
    return url


def link(server: RunningServer, merchant_id: str = "default", key: str = API_KEY) -> str:
    """Link the merchant's own (new) Stripe account; its id."""
    back = httpx.get(consent(server, start_link(server, merchant_id, key)))
    assert back.status_code == 200 and "Stripe account linked" in back.text, back.text
    [current, *_] = links(server, key)
    account: str = current["attributes"]["stripe-user-id"]
    assert account in back.text
    return account


def links(server: RunningServer, key: str = API_KEY) -> list[dict[str, Any]]:
    listed = server.client.get("/v1/stripe-authorizations", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    data: list[dict[str, Any]] = listed.json()["data"]
    return data


def code_for_front_end(server: RunningServer) -> str:
    """An authorization code the organiser's own front-end received from Stripe."""
    query = {
        "client_id": "ca_front_end",
        "response_type": "code",
        "scope": "read_write",
        "redirect_uri": "https://tickets.example/stripe/callback",
    }
    answer = httpx.post(f"{server.url}/sandbox/oauth/authorize", data=query | {"decision": "allow"})
    code: str = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    return code


def on(account: str) -> dict[str, Any]:
    return {"stripe_account": account}


def test_an_organiser_links_its_account_and_a_ticket_is_paid_there(make_server: Any) -> None:
    server = start(make_server, **FEES)
    account = link(server)
    key = server.client.get("/v1/merchants/default/publishable-key").json()
    assert key["stripe_account"] == account and key["publishable_key"].startswith("pk_test_")

    order = create_order(server, ("espresso", 2))  # 5.00: a fee of 25 + 30
    paid = pay_order(server, order)
    [payment] = paid["payments"]
    client = sdk.client(server)
    intent = client.v1.payment_intents.retrieve(payment["id"], options=on(account))
    assert (intent.amount, intent.application_fee_amount) == (500, 55)
    [ticket_charge] = client.v1.charges.list({"payment_intent": intent.id}, on(account)).data
    fee = client.v1.application_fees.retrieve(str(ticket_charge.application_fee))
    assert (fee.amount, fee.account) == (55, account)
    # The money is the organiser's: the platform's own books do not hold the payment.
    assert intent.id not in [pi.id for pi in client.v1.payment_intents.list().data]

    refunded(server, order["id"], 250)
    fee = client.v1.application_fees.retrieve(fee.id)
    assert fee.amount_refunded == 27  # half the fee, for half the price
    [refund] = client.v1.refunds.list({"payment_intent": intent.id}, on(account)).data
    assert refund.amount == 250
    refunded(server, order["id"])
    fee = client.v1.application_fees.retrieve(fee.id)
    assert (fee.amount_refunded, fee.refunded) == (55, True)
    assert get_order(server, order["id"])["status"] == "refunded"


def test_a_card_token_charge_goes_to_the_account_with_its_message(make_server: Any) -> None:
    server = start(make_server, **FEES)
    account = link(server)
    order = create_order(server, ("espresso", 4))  # 10.00: 50 + 30
    answer = charge(server, order["id"])
    assert answer.status_code == 200, answer.text
    attributes = answer.json()["data"]["attributes"]
    assert attributes["status"] == "completed" and attributes["message"].startswith(
        "Charge successful"
    )
    charged = sdk.client(server).v1.charges.list({"limit": 5}, on(account)).data
    assert [(c.amount, c.application_fee_amount) for c in charged] == [(1000, 80)]
    declined = charge(server, create_order(server)["id"], "tok_chargeDeclined")
    assert declined.status_code == 422
    outcome = declined.json()["data"]["attributes"]
    assert outcome == {"status": False, "message": "Your card was declined."}


def test_a_front_end_with_the_code_links_through_jsonapi(make_server: Any) -> None:
    server = start(make_server, admin_key=ADMIN_KEY)
    body = {
        "data": {
            "type": "stripe-authorization",
            "attributes": {"stripe-auth-code": code_for_front_end(server)},
        }
    }
    assert server.client.post("/v1/stripe-authorizations", json=body).status_code == 401
    made = server.client.post("/v1/stripe-authorizations", json=body, headers=merchant())
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/vnd.api+json")
    data = made.json()["data"]
    assert data["type"] == "stripe-authorization" and data["id"].startswith("sa_")
    attributes = data["attributes"]
    assert attributes["stripe-user-id"].startswith("acct_")
    assert attributes["stripe-publishable-key"].startswith("pk_test_")
    # No secret is kept, so none can be shown.
    assert "sk_test_" not in made.text and "rt_" not in made.text
    assert "stripe-auth-code" not in attributes
    seen = server.client.get(f"/v1/stripe-authorizations/{data['id']}", headers=merchant())
    assert seen.status_code == 200 and seen.json()["data"] == data
    # The code works once; another merchant cannot see the link.
    again = server.client.post("/v1/stripe-authorizations", json=body, headers=merchant())
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "invalid_grant"
    acme_key, _ = add_acme(server)
    hidden = server.client.get(f"/v1/stripe-authorizations/{data['id']}", headers=bearer(acme_key))
    assert hidden.status_code == 404
    for bad in (
        {},
        {"data": {"type": "charge", "attributes": {"stripe-auth-code": "ac_x"}}},
        {"data": {"type": "stripe-authorization", "attributes": {"stripe-auth-code": 5}}},
        {"data": {"type": "stripe-authorization", "attributes": {}}},
    ):
        refused = server.client.post("/v1/stripe-authorizations", json=bad, headers=merchant())
        assert refused.status_code == 422, (bad, refused.text)
    not_json = server.client.post("/v1/stripe-authorizations", content=b"{", headers=merchant())
    assert not_json.status_code == 400
    assert len(links(server)) == 1


def test_the_state_binds_the_round_trip_and_works_once(make_server: Any) -> None:
    server = start(make_server, admin_key=ADMIN_KEY)
    back = consent(server, start_link(server))
    assert httpx.get(back).status_code == 200
    replayed = httpx.get(back)
    assert replayed.status_code == 422 and "start linking again" in replayed.text
    made_up = back.replace("state=", "state=x")
    assert httpx.get(made_up).status_code == 422
    denied = httpx.get(consent(server, start_link(server), decision="deny"))
    assert denied.status_code == 400 and "denied" in denied.text
    assert len(links(server)) == 1
    # Only the merchant itself starts linking itself.
    acme_key, _ = add_acme(server)
    other = server.client.post("/v1/merchants/default/stripe-connect", headers=bearer(acme_key))
    assert other.status_code == 404
    anonymous = server.client.post("/v1/merchants/default/stripe-connect")
    assert anonymous.status_code == 401


def test_an_event_from_another_merchants_account_changes_nothing(make_server: Any) -> None:
    server = start(make_server, **FEES)
    acme_key, _ = add_acme(server)
    intruder = link(server, "acme", acme_key)
    token = create_token(server)
    url = pay_page(server, token["id"])
    session = url.rsplit("/", 1)[1]
    order = create_order(server)

    forged = session_event(
        "checkout.session.completed",
        session_id=session,
        token_id=token["id"],
        amount_total=token["amount_total"],
        currency="usd",
    )
    forged["account"] = intruder
    assert deliver(server.client, forged, WEBHOOK_SECRET).status_code == 200
    by_order = session_event(
        "checkout.session.completed",
        session_id=session_id(order),
        token_id=order["token_id"],
        amount_total=order["amount"],
        currency="usd",
    )
    by_order["account"] = intruder
    assert deliver(server.client, by_order, WEBHOOK_SECRET).status_code == 200
    charge_event = {
        **forged,
        "id": "evt_forged_charge",
        "type": "charge.succeeded",
        "data": {
            "object": {
                "id": "ch_forged",
                "object": "charge",
                "amount": order["amount"],
                "currency": "usd",
                "metadata": {"order_id": order["id"]},
                "payment_intent": "pi_forged",
                "status": "succeeded",
            }
        },
    }
    assert deliver(server.client, charge_event, WEBHOOK_SECRET).status_code == 200

    seen = server.client.get(f"/v1/tokens/{token['id']}", headers=merchant()).json()
    assert seen["status"] == "inprogress" and seen["paid_count"] == 0
    still = get_order(server, order["id"])
    assert still["status"] == "pending" and still["payments"] == []
    # The real payment still completes both.
    assert submit_card(url).status_code == 303
    wait_status(server, token["id"], "success")
    pay_order(server, order)


def test_unlinked_by_the_organiser_new_payments_are_refused(make_server: Any) -> None:
    server = start(make_server)
    account = link(server)
    waiting = create_token(server)
    [current] = links(server)
    gone = server.client.delete(f"/v1/stripe-authorizations/{current['id']}", headers=merchant())
    assert gone.status_code == 200, gone.text
    assert gone.json()["data"]["attributes"]["unlinked-by"] == "merchant"
    client = sdk.client(server)
    assert account not in [a.id for a in client.v1.accounts.list().data]
    _refused_everywhere(server, waiting["id"])


def test_unlinked_at_stripe_new_payments_are_refused(make_server: Any) -> None:
    server = start(make_server)
    account = link(server)
    waiting = create_token(server)
    # The organiser revokes the platform in its own Stripe dashboard: Stripe tells the service.
    sdk.client(server).oauth.deauthorize(
        {"client_id": "ca_qrcheckout_sandbox", "stripe_user_id": account}
    )
    wait_until(lambda: links(server)[0]["attributes"]["unlinked-by"] == "stripe", timeout=10)
    _refused_everywhere(server, waiting["id"])


def _refused_everywhere(server: RunningServer, waiting_token: str) -> None:
    """No new payment starts for an unlinked merchant, and nothing is half made."""
    before = server.client.get("/v1/orders", headers=merchant()).json()["data"]
    order = post_order(server, {"items": [{"product_id": "espresso", "quantity": 1}]}, buyer("a"))
    assert error(order) == (409, "stripe_account_unlinked")
    token = server.client.post(
        "/v1/tokens", json={"items": [{"product_id": "espresso", "quantity": 1}]}
    )
    assert error(token) == (409, "stripe_account_unlinked")
    scanned = server.client.get(f"/t/{waiting_token}", follow_redirects=False)
    assert scanned.status_code == 409 and "unlinked" in scanned.text
    session = server.client.post(
        "/create-checkout-session",
        json={"line_items": [{"price": "espresso", "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert session.status_code == 409
    key = server.client.get("/v1/merchants/default/publishable-key")
    assert error(key) == (409, "stripe_account_unlinked")
    assert server.client.get("/v1/orders", headers=merchant()).json()["data"] == before


def test_an_organiser_paid_on_its_stripe_account_is_not_paid_through_paypal(
    make_server: Any,
) -> None:
    # PayPal cannot pay into a linked Stripe account: the money would land on the platform's.
    server = start(make_server)
    waiting = create_token(server, provider="paypal")  # made before the organiser linked
    link(server)
    before = server.client.get("/v1/orders", headers=merchant()).json()["data"]
    paypal = {"items": [{"product_id": "espresso", "quantity": 1}], "payment_mode": "paypal"}
    assert error(post_order(server, paypal, buyer("a"))) == (409, "provider_not_linked")
    item = {"items": [{"product_id": "espresso", "quantity": 1}]}
    token = server.client.post("/v1/tokens", json=item | {"provider": "paypal"})
    assert error(token) == (409, "provider_not_linked")
    assert token.json()["error"]["field"] == "provider"
    scanned = server.client.get(f"/t/{waiting['id']}", follow_redirects=False)
    assert scanned.status_code == 409 and "Stripe account" in scanned.text
    assert server.client.get("/v1/orders", headers=merchant()).json()["data"] == before
    # Through Stripe, it is paid as before.
    assert server.client.post("/v1/tokens", json=item).status_code == 201


def test_only_the_platform_sets_a_merchants_fee(make_server: Any) -> None:
    server = start(make_server, **FEES)
    own = server.client.patch("/v1/merchants/default", json={"fee_bps": 0}, headers=merchant())
    assert own.status_code == 403
    set_fee = server.client.patch(
        "/v1/merchants/default", json={"fee_bps": 100, "fee_fixed": 0}, headers=bearer(ADMIN_KEY)
    )
    assert set_fee.status_code == 200 and set_fee.json()["fee_bps"] == 100
    account = link(server)
    order = create_order(server, ("espresso", 4))
    pay_order(server, order)
    [charged] = sdk.client(server).v1.charges.list({"limit": 5}, on(account)).data
    assert charged.application_fee_amount == 10  # 1% of 10.00
    for bad in ({"fee_bps": 10_001}, {"fee_fixed": -1}, {"fee_bps": "5"}):
        refused = server.client.patch("/v1/merchants/default", json=bad, headers=bearer(ADMIN_KEY))
        assert refused.status_code == 422, bad


# -- the source documents' other clients, as they are written ---------------------------------


def test_a_bare_one_product_order_from_a_gateway_client(make_server: Any) -> None:
    server = start(make_server)
    made = post_order(server, {"productId": "espresso", "quantity": 10}, merchant())
    assert made.status_code == 201, made.text
    order = made.json()
    assert {"id", "amount", "amount_paid", "amount_due", "currency", "status", "attempts"} <= set(
        order
    ) and "created_at" in order
    assert (order["amount"], order["amount_paid"], order["amount_due"]) == (2500, 0, 2500)
    assert (order["currency"], order["status"], order["attempts"]) == ("usd", "pending", 0)
    assert order["items"][0]["quantity"] == 10
    paid = pay_order(server, order)
    assert paid["amount_paid"] == 2500
    # A buyer still has to say who they are; a bad bare body is refused as any other.
    assert error(post_order(server, {"productId": "espresso", "quantity": 1})) == (
        422,
        "owner_required",
    )
    assert (
        post_order(server, {"productId": "espresso", "quantity": 0}, merchant()).status_code == 422
    )


def test_an_app_key_charges_a_card_token_in_the_default_currency(make_server: Any) -> None:
    server = start(make_server)
    answer = server.client.post(
        "/services/Stripe/charge", json={"token": "tok_visa", "amount": 1200}, headers=merchant()
    )
    assert answer.status_code == 200, answer.text
    charged = sdk.client(server).v1.charges.retrieve(answer.json()["id"])
    assert (charged.amount, charged.currency, charged.status) == (1200, "usd", "succeeded")
    with_jwt = server.client.post(
        "/services/Stripe/charge",
        json={"token": "tok_visa", "amount": 300, "currency": "eur"},
        headers=buyer("alice"),
    )
    assert with_jwt.status_code == 200, with_jwt.text
    assert (
        server.client.post(
            "/services/Stripe/charge", json={"token": "tok_visa", "amount": 1}
        ).status_code
        == 401
    )


def test_hosted_checkout_comes_back_to_pages_that_say_what_happened(make_server: Any) -> None:
    server = start(make_server)
    opened = server.client.post(
        "/create-checkout-session",
        json={"line_items": [{"price": "espresso", "quantity": 2}], "customer_email": "a@b.co"},
    )
    assert opened.status_code == 200, opened.text
    session = server.sandbox.object(opened.json()["sessionId"])
    assert session["success_url"] == f"{server.url}/success?session_id={{CHECKOUT_SESSION_ID}}"
    assert session["cancel_url"] == f"{server.url}/cancel"
    waiting = server.client.get(f"/success?session_id={session['id']}")
    assert waiting.status_code == 200 and "not been paid" in waiting.text
    paid = submit_card(opened.json()["url"])
    assert paid.status_code == 303
    assert paid.headers["location"] == f"{server.url}/success?session_id={session['id']}"
    done = server.client.get(paid.headers["location"])
    assert done.status_code == 200 and "Thank you" in done.text and "$5.00" in done.text
    left = server.client.get("/cancel")
    assert left.status_code == 200 and "nothing was charged" in left.text
    assert server.client.get("/success?session_id=cs_nope").status_code == 404
    assert server.client.get("/success").status_code == 404


@pytest.mark.parametrize("where", ["order", "token"])
def test_a_ticket_order_on_the_organisers_account_expires_its_session_there(
    make_server: Any, where: str
) -> None:
    # Cancelled, it must not have expired first on a busy machine; expiring, it should soon.
    server = start(make_server, order_ttl_seconds=60 if where == "order" else 2)
    account = link(server)
    order = create_order(server)
    sid = session_id(order)
    if where == "order":
        cancelled = server.client.post(f"/v1/orders/{order['id']}/cancel", headers=merchant())
        assert cancelled.status_code == 200
    else:
        wait_order(server, order["id"], lambda o: o["status"] == "expired", timeout=10)
    session = wait_until(
        lambda: (
            (s := sdk.client(server).v1.checkout.sessions.retrieve(sid, options=on(account))).status
            == "expired"
            and s
        ),
        timeout=10,
    )
    assert session.id == sid
