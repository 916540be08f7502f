"""An organiser links its own Stripe account in a real browser, then a buyer pays a ticket by QR
on a phone and the money lands on the organiser's account, the platform's fee on the platform's;
a refund gives the fee back in proportion."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.test_browser import (
    TIMEOUT_MS,
    WAITING,
    expect_thank_you,
    fill_card,
    pay,
    shoot,
    wait_for_live_watcher,
)
from tests.support import sdk
from tests.support.auth import buyer, merchant
from tests.support.flows import GOOD_CARD
from tests.support.orders import refunded, start, wait_order_status
from tests.support.server import RunningServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def organiser_server(make_server: Any) -> RunningServer:
    return start(make_server, platform_fee_bps=500, platform_fee_fixed=30)


def _context(chromium: Browser, **options: Any) -> Iterator[Page]:
    context = chromium.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def desktop(chromium: Browser, organiser_server: RunningServer) -> Iterator[Page]:
    yield from _context(chromium, viewport={"width": 1280, "height": 800})


@pytest.fixture
def phone(chromium: Browser, organiser_server: RunningServer) -> Iterator[Page]:
    yield from _context(
        chromium, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )


def test_organiser_links_then_a_ticket_paid_by_qr_lands_on_its_account(
    organiser_server: RunningServer, desktop: Page, phone: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server = organiser_server
    # 1. The organiser starts linking and approves on Stripe's (the sandbox's) consent page.
    started = server.client.post("/v1/merchants/default/stripe-connect", headers=merchant())
    assert started.status_code == 201, started.text
    desktop.goto(started.json()["url"])
    expect(desktop.get_by_role("heading", level=1)).to_have_text("Connect your account")
    desktop.get_by_label("Business name").fill("Ticket Hall")
    shoot(desktop, tmp_path, "connect-consent.png")
    desktop.get_by_role("button", name="Connect account").click()
    desktop.wait_for_url(re.compile(r"/connect/stripe/callback\?"))
    expect(desktop.get_by_role("heading", level=1)).to_have_text("Stripe account linked")
    expect(desktop.locator("main")).to_contain_text(re.compile(r"acct_\w+"))
    shoot(desktop, tmp_path, "connect-linked.png")
    link = server.client.get("/v1/stripe-authorizations", headers=merchant()).json()["data"][0]
    account = link["attributes"]["stripe-user-id"]

    # 2. Tickets with a capacity; a buyer's order shows its QR on the desktop.
    made = server.client.post(
        "/v1/products",
        json={"id": "gig", "name": "Gig ticket", "unit_amount": 2000, "capacity": 100},
        headers=merchant(),
    )
    assert made.status_code == 201, made.text
    order = server.client.post(
        "/v1/orders", json={"items": [{"product_id": "gig", "quantity": 2}]}, headers=buyer("ann")
    ).json()
    token_id = order["token_id"]
    desktop.goto(f"{server.url}/checkout/{token_id}")
    expect(desktop.locator(".amount")).to_have_text("$40.00")
    status = desktop.locator("#status")
    expect(status).to_have_text(WAITING)
    wait_for_live_watcher(server, token_id)

    # 3. The phone follows the QR's link and pays; the desktop turns "Paid".
    phone.goto(desktop.locator("#link").get_attribute("href") or "")
    phone.wait_for_url(re.compile(r"/sandbox/pay/cs_test_\w+$"))
    fill_card(phone, GOOD_CARD)
    pay(phone)
    expect_thank_you(phone, token_id)
    expect(status).to_have_text("Paid", timeout=TIMEOUT_MS)
    shoot(desktop, tmp_path, "connect-ticket-paid.png")
    paid = wait_order_status(server, order["id"], "completed")

    # 4. The charge is the organiser's; the fee (5% + 30) is the platform's.
    client = sdk.client(server)
    [charge] = client.v1.charges.list(
        {"payment_intent": paid["payments"][0]["id"]}, {"stripe_account": account}
    ).data
    assert (charge.amount, charge.application_fee_amount) == (4000, 230)
    fee = client.v1.application_fees.retrieve(str(charge.application_fee))
    assert (fee.account, fee.amount) == (account, 230)
    product = server.client.get("/v1/products", headers=merchant()).json()["data"]
    assert [(p["sold"], p["available"]) for p in product if p["id"] == "gig"] == [(2, 98)]

    # 5. Refunding one ticket of two gives back half the fee, on the organiser's account.
    refunded(server, order["id"], 2000)
    fee = client.v1.application_fees.retrieve(str(charge.application_fee))
    assert (fee.amount_refunded, fee.refunded) == (115, False)
    [refund] = client.v1.refunds.list(
        {"payment_intent": charge.payment_intent}, {"stripe_account": account}
    ).data
    assert refund.amount == 2000
