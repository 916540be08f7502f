"""The PayPal sandbox's approval page on a phone, in Chromium: the buyer sees the order, logs in
as a test buyer, and is sent back to the shop; the app then captures the order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from paypalserversdk.models.amount_breakdown import AmountBreakdown
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.item import Item
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_application_context import OrderApplicationContext
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest

from tests.e2e.test_browser import TIMEOUT_MS, shoot
from tests.support.paypal import Served, paypal_sandbox, sdk

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.one_database]


class _Shop:
    """A shop's return and cancel pages: plain HTML that says where the buyer came back to."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                where = "Back at the shop" if self.path.startswith("/return") else "Cancelled"
                body = f"<!doctype html><title>{where}</title><h1>{where}</h1>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def shop() -> Iterator[_Shop]:
    made = _Shop()
    yield made
    made.httpd.shutdown()
    made.httpd.server_close()


@pytest.fixture
def paypal() -> Iterator[Served]:
    with paypal_sandbox(business_name="Bean There") as served:
        yield served


@pytest.fixture
def phone(chromium: Browser, paypal: Served) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _order(paypal: Served, shop: _Shop) -> Any:
    amount = AmountWithBreakdown(
        currency_code="USD",
        value="13.00",
        breakdown=AmountBreakdown(item_total=Money(currency_code="USD", value="13.00")),
    )
    unit = PurchaseUnitRequest(
        amount=amount,
        items=[
            Item(
                name="Flat white",
                unit_amount=Money(currency_code="USD", value="4.50"),
                quantity="2",
            ),
            Item(name="Cake", unit_amount=Money(currency_code="USD", value="4.00"), quantity="1"),
        ],
    )
    request = OrderRequest(
        intent=CheckoutPaymentIntent.CAPTURE,
        purchase_units=[unit],
        application_context=OrderApplicationContext(
            return_url=f"{shop.url}/return", cancel_url=f"{shop.url}/cancel"
        ),
    )
    order = sdk(paypal.url).orders.create_order({"body": request}).body
    return order, next(link.href for link in order.links if link.rel == "approve")


def test_a_buyer_approves_on_the_phone_and_the_shop_captures(
    phone: Page, paypal: Served, shop: _Shop, tmp_path: Path
) -> None:
    order, approve = _order(paypal, shop)
    phone.goto(approve)
    assert phone.locator("h1").inner_text() == "Pay Bean There"
    assert phone.locator(".total").inner_text() == "$13.00"
    items = phone.locator("ul.items li").all_inner_texts()
    assert len(items) == 2 and "Flat white" in items[0] and "$9.00" in items[0]
    buttons = phone.get_by_role("button")
    assert buttons.count() == 3
    # Every button fits the phone's width: nothing to scroll sideways to.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(phone, tmp_path, "paypal-approve.png")

    phone.get_by_role("button", name="Pays").click()
    phone.wait_for_url(f"{shop.url}/return*")
    assert phone.locator("h1").inner_text() == "Back at the shop"
    query = parse_qs(urlsplit(phone.url).query)
    assert query["token"] == [order.id] and query["PayerID"]

    captured = sdk(paypal.url).orders.capture_order({"id": order.id}).body
    assert captured.status == "COMPLETED"
    phone.goto(approve)
    assert phone.locator("h1").inner_text() == "Already paid"


def test_a_buyer_who_cancels_is_sent_back_and_the_order_waits(
    phone: Page, paypal: Served, shop: _Shop
) -> None:
    order, approve = _order(paypal, shop)
    phone.goto(approve)
    phone.get_by_role("button", name="Cancels").click()
    phone.wait_for_url(f"{shop.url}/cancel*")
    assert phone.locator("h1").inner_text() == "Cancelled"
    assert sdk(paypal.url).orders.get_order({"id": order.id}).body.status == "CREATED"
    phone.goto(approve)
    assert phone.get_by_role("button", name="Pays").is_visible()


def test_an_unknown_order_says_so(phone: Page, paypal: Served) -> None:
    answer = phone.goto(f"{paypal.url}/checkoutnow?token=NOSUCHORDER")
    assert answer is not None and answer.status == 404
    assert phone.locator("h1").inner_text() == "Order not found"
