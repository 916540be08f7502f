"""The back office in Chromium, as a shop's staff use it: sign in, watch a payment arrive live,
refund part of it, change a product and see the shop change, rotate the webhook secret, replay
a failed event; wrong passwords throttled; a form without its CSRF token refused; readable on a
phone. Screenshots go to ``/tmp/qrcheckout-shots/`` as in the other browser tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ServerFactory
from tests.e2e.test_browser import csp_violations, shoot, watch_csp
from tests.support.dashboard import PASSWORD, add_staff, failed_event
from tests.support.flows import token
from tests.support.orders import create_order, get_order, pay_order, start
from tests.support.server import RunningServer, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


@pytest.fixture
def shop_server(make_server: ServerFactory) -> RunningServer:
    server = start(make_server)
    add_staff(server, "owner@example.com")
    return server


@pytest.fixture
def staff_page(chromium: Browser, shop_server: RunningServer) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, server: RunningServer, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/dashboard")
    page.wait_for_url(re.compile(r"/dashboard/sign-in"))
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_day_in_the_back_office(
    shop_server: RunningServer, staff_page: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server, page = shop_server, staff_page
    console = watch_csp(page)
    sign_in(page, server)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")
    expect(page.locator("#live-state")).to_have_text("● live")
    page.evaluate("window.__noReload = true")

    # A payment arrives while the overview is open: it shows up without a reload.
    order = create_order(server, customer_email="cleo@example.com")
    pay_order(server, order)
    latest = page.locator("#latest")
    expect(latest).to_contain_text(order["id"], timeout=TIMEOUT_MS)
    expect(latest).to_contain_text("cleo@example.com")
    expect(page.locator('[data-takings="today"]')).to_contain_text("$5.00")
    assert page.evaluate("window.__noReload") is True
    shoot(page, tmp_path, "dashboard-overview.png")

    # Part of it is refunded from the order's page, after a confirmation.
    latest.get_by_role("link", name=order["id"]).click()
    expect(page.locator("#order-status")).to_have_text("completed")
    page.get_by_label(re.compile(r"^Refund")).fill("2.00")
    page.get_by_role("button", name="Refund…").click()
    confirm = page.get_by_role("button", name="Confirm refund of $2.00")
    expect(confirm).to_be_visible()
    assert get_order(server, order["id"])["amount_refunded"] == 0
    confirm.click()
    expect(page.get_by_role("status")).to_have_text(re.compile("refund"))
    expect(page.locator("#refunded")).to_have_text("$2.00")
    expect(page.locator("#order-status")).to_have_text("partially_refunded")
    assert get_order(server, order["id"])["amount_refunded"] == 200
    shoot(page, tmp_path, "dashboard-order.png")

    # A product is changed, and the shop shows it.
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="Espresso").first.click()
    page.get_by_label("Name").fill("Espresso doppio")
    page.get_by_label("Price").fill("3.10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("The product was saved.")
    shop = page.context.new_page()
    shop.goto(f"{server.url}/")
    expect(shop.get_by_text("Espresso doppio")).to_be_visible()
    expect(shop.locator("table")).to_contain_text("$3.10")
    shop.close()

    # The webhook secret is rotated, and shown this once.
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("button", name="Rotate the signing secret").click()
    expect(page.locator("#new-secret")).to_contain_text(re.compile(r"whsec_[0-9a-f]{48}"))
    page.goto(f"{server.url}/dashboard/webhooks")
    expect(page.locator("#new-secret")).to_have_count(0)

    # A provider's event that failed is replayed, and its payment lands.
    made, event_id = failed_event(server)
    page.goto(f"{server.url}/dashboard/webhooks?status=failed")
    row = page.locator(f'tr[data-event="{event_id}"]')
    expect(row).to_contain_text("the ledger is unwell")
    row.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_have_text("The event was processed again.")
    wait_until(lambda: token(server, made["id"])["status"] == "success")
    shoot(page, tmp_path, "dashboard-webhooks.png")
    assert csp_violations(page, console) == []

    # Signed out, the back office asks to sign in again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/sign-in"))
    page.goto(f"{server.url}/dashboard/payments")
    page.wait_for_url(re.compile(r"/dashboard/sign-in\?next="))


def test_five_wrong_passwords_are_throttled(shop_server: RunningServer, staff_page: Page) -> None:
    from playwright.sync_api import expect

    for _ in range(5):
        sign_in(staff_page, shop_server, "not the password")
        expect(staff_page.get_by_role("alert")).to_have_text("Wrong email or password.")
    sign_in(staff_page, shop_server)  # the right one, too soon
    expect(staff_page.get_by_role("alert")).to_contain_text("Too many wrong passwords")
    assert "/dashboard/sign-in" in staff_page.url


def test_a_form_without_its_csrf_token_is_refused(
    shop_server: RunningServer, staff_page: Page
) -> None:
    from playwright.sync_api import expect

    page = staff_page
    sign_in(page, shop_server)
    expect(page.locator("#live-state")).to_have_text("● live")
    page.goto(f"{shop_server.url}/dashboard/catalog/espresso")
    page.evaluate("document.querySelector('#product-form input[name=csrf]').remove()")
    page.get_by_label("Name").fill("Stolen name")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Form refused")
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "csrf_failed")
    shop = shop_server.client.get("/").text
    assert "Stolen name" not in shop and "Espresso" in shop


def test_the_back_office_reads_on_a_phone(chromium: Browser, shop_server: RunningServer) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, shop_server)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Overview")
        for path in ("", "/payments", "/orders", "/catalog", "/webhooks", "/settings"):
            page.goto(f"{shop_server.url}/dashboard{path}")
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert wide <= 0, (path, wide)
    finally:
        context.close()
