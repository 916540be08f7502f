"""The QR handoff end to end through the real app and the real sandbox."""

from __future__ import annotations

import httpx

from tests.support.flows import (
    DECLINED_CARD,
    NO_FUNDS_CARD,
    create_token,
    pay_page,
    scan,
    submit_card,
    token,
    wait_status,
)
from tests.support.server import RunningServer, wait_until


def test_pay_with_4242_turns_the_token_paid(server: RunningServer) -> None:
    created = create_token(server, customer_email="buyer@example.com")
    assert created["status"] == "inprogress"
    assert created["amount_total"] == 500 and created["currency"] == "usd"
    assert created["url"] == f"{server.url}/t/{created['id']}"

    url = pay_page(server, created["id"])
    assert url.startswith(f"{server.url}/sandbox/pay/cs_test_")
    page = httpx.get(url)
    assert "$5.00" in page.text and 'name="number"' in page.text
    assert "buyer@example.com" in page.text

    paid = submit_card(url)
    assert paid.status_code == 303
    assert paid.headers["location"].startswith(f"{server.url}/t/{created['id']}/done")
    assert "Thank you" in httpx.get(paid.headers["location"]).text

    done = wait_status(server, created["id"], "success")
    assert done["paid_at"] is not None and done["paid_count"] == 1
    assert done["stripe_session_id"] == url.rsplit("/", 1)[1]


def test_session_carries_the_token_terms(server: RunningServer) -> None:
    created = create_token(
        server, customer_email="buyer@example.com", kind="temporary", ttl_seconds=3600
    )
    session_id = pay_page(server, created["id"]).rsplit("/", 1)[1]
    session = server.sandbox.object(session_id)
    assert session["metadata"] == {"token_id": created["id"]}
    assert session["customer_email"] == "buyer@example.com"
    assert session["amount_total"] == 500 and session["currency"] == "usd"
    end_at = server.call(lambda: _end_ts(server, created["id"]))
    assert session["expires_at"] <= end_at
    assert session["success_url"].startswith(f"{server.url}/t/{created['id']}/done")
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    items = server.sandbox.line_items(session_id)
    assert [(i["description"], i["quantity"], i["amount_total"]) for i in items] == [
        ("Espresso", 2, 500)
    ]


async def _end_ts(server: RunningServer, token_id: str) -> int:
    token_row = await server.app.state.container.tokens.get(token_id)
    return int(token_row.end_at.timestamp())


def test_decline_then_retry_on_the_same_page(server: RunningServer) -> None:
    created = create_token(server)
    url = pay_page(server, created["id"])
    declined = submit_card(url, DECLINED_CARD)
    assert declined.status_code == 402
    assert "Your card was declined." in declined.text
    no_funds = submit_card(url, NO_FUNDS_CARD)
    assert "insufficient funds" in no_funds.text
    assert token(server, created["id"])["status"] == "inprogress"

    # A second scan reuses the same session rather than opening another.
    assert pay_page(server, created["id"]) == url
    assert submit_card(url).status_code == 303
    wait_status(server, created["id"], "success")


def test_malformed_card_details_get_clear_messages(server: RunningServer) -> None:
    url = pay_page(server, create_token(server)["id"])
    cases = {
        "4242 4242 4242 4241": "Your card number is invalid.",
        "": "Your card number is incomplete.",
    }
    for number, message in cases.items():
        response = submit_card(url, number)
        assert response.status_code == 400 and message in response.text
    assert "expiration year is in the past" in submit_card(url, expiry="01/20").text
    assert "security code is incomplete" in submit_card(url, cvc="1").text
    assert "email address is invalid" in submit_card(url, email="nope").text


def test_paid_token_is_not_paid_twice(server: RunningServer) -> None:
    created = create_token(server)
    url = pay_page(server, created["id"])
    submit_card(url)
    wait_status(server, created["id"], "success")
    again = scan(server, created["id"])
    assert again.status_code == 409 and "already paid" in again.text
    assert submit_card(url).status_code == 409


def test_static_token_starts_a_payment_per_scan(server: RunningServer) -> None:
    created = create_token(
        server, kind="static", items=[{"product_id": "flat-white", "quantity": 1}]
    )
    assert created["end_at"] is None
    first, second = pay_page(server, created["id"]), pay_page(server, created["id"])
    assert first != second
    submit_card(first)
    submit_card(second)
    wait_until(lambda: token(server, created["id"])["paid_count"] == 2)
    assert token(server, created["id"])["status"] == "inprogress"


def test_cancel_expires_the_provider_session(server: RunningServer) -> None:
    created = create_token(server)
    url = pay_page(server, created["id"])
    cancelled = server.client.post(
        f"/v1/tokens/{created['id']}/cancel", json={"cancel_secret": created["cancel_secret"]}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    refused = scan(server, created["id"])
    assert refused.status_code == 409 and "cancelled" in refused.text
    # The phone that still has the payment page open cannot pay any more.
    late = submit_card(url)
    assert late.status_code == 409 and "expired" in late.text
    assert token(server, created["id"])["status"] == "cancelled"
    again = server.client.post(
        f"/v1/tokens/{created['id']}/cancel", json={"cancel_secret": created["cancel_secret"]}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "token_not_cancellable"


def test_expired_token_is_refused_at_scan(server: RunningServer) -> None:
    created = create_token(server, kind="temporary", ttl_seconds=1)
    wait_status(server, created["id"], "invalid", timeout=5)
    refused = scan(server, created["id"])
    assert refused.status_code == 410 and "expired" in refused.text


def test_unwatched_token_expires_and_its_session_closes(server: RunningServer) -> None:
    created = create_token(server, kind="temporary", ttl_seconds=2)
    url = pay_page(server, created["id"])
    expired = wait_status(server, created["id"], "invalid", timeout=5)
    assert expired["failure_code"] == "expired"
    session_id = url.rsplit("/", 1)[1]
    wait_until(lambda: server.sandbox.object(session_id)["status"] == "expired")
    assert submit_card(url).status_code == 409


def test_unknown_token_pages(server: RunningServer) -> None:
    assert scan(server, "00000000-0000-4000-8000-000000000000").status_code == 404
    assert scan(server, "not-a-token").status_code == 404
    assert server.client.get("/checkout/not-a-token").status_code == 404
