"""The QR handoff in a real browser: a desktop shows the code, a phone pays, the desktop updates.

Two Chromium contexts share one server: the desktop (1280x800) orders in the demo shop and
keeps the QR page open; the phone (390x844, touch) opens the QR's link and pays on the
sandbox's hosted page. The desktop must turn "Paid" through its live connection, without a
reload. Screenshots go to pytest's ``tmp_path`` and, for a human to look at, to
``/tmp/qrcheckout-shots/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qrcheckout.checkout.service import token_topic
from tests.support.flows import DECLINED_CARD, GOOD_CARD, create_token, token
from tests.support.server import RunningServer, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/qrcheckout-shots")
WAITING = "Waiting for payment…"
TIMEOUT_MS = 10_000


@pytest.fixture
def desktop(chromium: Browser, server: RunningServer) -> Iterator[Page]:
    # Depends on ``server`` so that it closes (and drops its EventSource) before the server stops.
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(chromium: Browser, server: RunningServer) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot in tmp_path, copied to /tmp/qrcheckout-shots/ for people."""
    path = tmp_path / name
    page.screenshot(path=path, full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / name)


def token_id_of(page: Page) -> str:
    match = re.search(r"/checkout/([^/?#]+)$", page.url)
    assert match, page.url
    return match.group(1)


def wait_for_live_watcher(server: RunningServer, token_id: str) -> None:
    """The desktop's EventSource is subscribed, so "Paid" can only arrive as a pushed update."""
    wait_until(lambda: server.app.state.container.bus.watchers(token_topic(token_id)) >= 1)


def watch_csp(page: Page) -> list[str]:
    """Every Content-Security-Policy violation on ``page`` from now on: the page's
    ``securitypolicyviolation`` events (recorded by an init script, which no CSP blocks) and
    the console's reports; read it with ``csp_violations``."""
    console: list[str] = []
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation', function (e) {"
        "  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return console


def csp_violations(page: Page, console: list[str]) -> list[str]:
    recorded: list[str] = page.evaluate("window.__csp || []")
    return recorded + console


def mark_no_reload(page: Page) -> None:
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload") is True, "the desktop page reloaded"


def open_phone_link(desktop: Page, phone: Page, server: RunningServer, token_id: str) -> None:
    href = desktop.locator("#link").get_attribute("href")
    assert href == f"{server.url}/t/{token_id}"
    phone.goto(href)
    phone.wait_for_url(re.compile(r"/sandbox/pay/cs_test_\w+$"))


def fill_card(phone: Page, number: str) -> None:
    phone.get_by_label("Email", exact=True).fill("buyer@example.com")
    phone.get_by_label("Card number").fill(number)
    phone.get_by_label("Expiry").fill("12 / 34")
    phone.get_by_label("CVC").fill("123")


def pay(phone: Page) -> None:
    phone.get_by_role("button", name=re.compile(r"^Pay\b")).click()


def expect_thank_you(phone: Page, token_id: str) -> None:
    from playwright.sync_api import expect

    phone.wait_for_url(re.compile(rf"/t/{token_id}/done"))
    expect(phone.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Thank you"))


def order_in_shop(desktop: Page) -> str:
    """The desktop, its cart filled in the demo shop (and how to pay picked, if it did), orders
    and lands on the QR page; the token's id."""
    desktop.get_by_role("button", name="Pay with your phone").click()
    desktop.wait_for_url(re.compile(r"/checkout/[^/]+$"))
    return token_id_of(desktop)


def test_phone_pays_and_desktop_turns_paid_live(
    server: RunningServer, desktop: Page, phone: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    desktop_csp, phone_csp = watch_csp(desktop), watch_csp(phone)
    # 1. The desktop orders two espressos in the demo shop and gets the QR page.
    desktop.goto(f"{server.url}/")
    desktop.locator("#qty_espresso").fill("2")
    token_id = order_in_shop(desktop)
    expect(desktop.locator(".qr svg")).to_be_visible()
    expect(desktop.locator(".amount")).to_have_text("$5.00")
    expect(desktop.locator(".pay")).to_contain_text("2 × Espresso")
    status = desktop.locator("#status")
    expect(status).to_have_text(WAITING)
    expect(desktop.locator("#countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    wait_for_live_watcher(server, token_id)
    mark_no_reload(desktop)
    shoot(desktop, tmp_path, "desktop-before.png")

    # 2. The phone follows the QR's link to the hosted pay page and pays with 4242.
    open_phone_link(desktop, phone, server, token_id)
    expect(phone.locator(".total")).to_have_text("$5.00")
    expect(phone.locator("ul.items")).to_contain_text("Espresso")
    fill_card(phone, GOOD_CARD)
    shoot(phone, tmp_path, "phone-pay.png")
    pay(phone)
    expect_thank_you(phone, token_id)
    shoot(phone, tmp_path, "phone-thank-you.png")

    # 3. The desktop turns "Paid" on its own, without reloading.
    expect(status).to_have_text("Paid", timeout=TIMEOUT_MS)
    expect(status).to_have_attribute("data-status", "success")
    expect(desktop.locator("#pay")).to_have_class(re.compile(r"\bdone\b"))
    assert_not_reloaded(desktop)
    assert token(server, token_id)["status"] == "success"
    shoot(desktop, tmp_path, "desktop-after.png")
    # The pages' inline script and style ran under their Content-Security-Policy, unblocked.
    assert csp_violations(desktop, desktop_csp) == []
    assert csp_violations(phone, phone_csp) == []


def test_declined_card_then_good_card(
    server: RunningServer, desktop: Page, phone: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    token_id = create_token(server)["id"]
    desktop.goto(f"{server.url}/checkout/{token_id}")
    status = desktop.locator("#status")
    expect(status).to_have_text(WAITING)
    wait_for_live_watcher(server, token_id)
    mark_no_reload(desktop)

    open_phone_link(desktop, phone, server, token_id)
    fill_card(phone, DECLINED_CARD)
    pay(phone)
    expect(phone.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(phone.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
    assert re.search(r"/sandbox/pay/cs_test_\w+$", phone.url), phone.url
    shoot(phone, tmp_path, "phone-declined.png")

    # A decline is not an outcome: the desktop says so as it happens, and keeps waiting.
    expect(status).to_have_text("Card declined, waiting for another try")
    expect(status).to_have_attribute("data-status", "declined")
    expect(desktop.locator("#reason")).to_have_text("The card was declined.")
    assert token(server, token_id)["status"] == "inprogress"
    expect(desktop.locator("#new-sale")).to_be_hidden()

    # The customer corrects the card on the same page and pays.
    fill_card(phone, GOOD_CARD)
    pay(phone)
    expect_thank_you(phone, token_id)
    expect(status).to_have_text("Paid", timeout=TIMEOUT_MS)
    expect(desktop.locator("#reason")).to_have_text("")
    assert_not_reloaded(desktop)
    shoot(desktop, tmp_path, "desktop-after-retry.png")
    # The till starts the next sale from there.
    desktop.locator("#new-sale").click()
    expect(desktop).to_have_url(f"{server.url}/")


def test_a_static_code_counts_its_payments_live(
    server: RunningServer, desktop: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from tests.support.flows import pay_page, submit_card

    token_id = create_token(server, kind="static")["id"]
    desktop.goto(f"{server.url}/checkout/{token_id}")
    status, count = desktop.locator("#status"), desktop.locator("#paid-count")
    expect(count).to_have_text("0 payments so far")
    wait_for_live_watcher(server, token_id)
    mark_no_reload(desktop)
    for paid in ("1 payment so far", "2 payments so far"):
        assert submit_card(pay_page(server, token_id)).status_code == 303
        expect(count).to_have_text(paid)
        # A café table's code takes the next payment: it never turns "Paid".
        expect(status).to_have_text(WAITING)
    assert_not_reloaded(desktop)
    shoot(desktop, tmp_path, "desktop-static-count.png")


def test_the_qr_page_runs_only_its_own_script_and_cannot_be_framed(
    server: RunningServer, desktop: Page
) -> None:
    from playwright.sync_api import expect

    token_id = create_token(server)["id"]
    console = watch_csp(desktop)
    desktop.goto(f"{server.url}/checkout/{token_id}")
    expect(desktop.locator("#countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    assert csp_violations(desktop, console) == []
    # A script the server did not nonce (as an injection would be) is blocked.
    desktop.evaluate(
        "var s = document.createElement('script');"
        "s.textContent = 'window.__injected = true;';"
        "document.body.appendChild(s);"
    )
    wait_until(lambda: csp_violations(desktop, console))
    assert desktop.evaluate("window.__injected") is None
    # Framed, even by a page of its own origin, it is refused: the frame never gets the page.
    desktop.evaluate(
        "var f = document.createElement('iframe'); f.id = 'framed';"
        f"f.src = '/checkout/{token_id}'; document.body.appendChild(f);"
    )
    frame = desktop.locator("#framed")
    expect(frame).to_be_attached()
    desktop.wait_for_timeout(500)
    assert desktop.evaluate(
        "(function () { var d = document.getElementById('framed').contentDocument;"
        "  return d === null || d.getElementById('status') === null; })()"
    )


def test_phone_approves_with_paypal_and_desktop_turns_paid_live(
    server: RunningServer, desktop: Page, phone: Page, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    desktop_csp, phone_csp = watch_csp(desktop), watch_csp(phone)
    # 1. The desktop orders in the demo shop, picks PayPal, and gets the QR page.
    desktop.goto(f"{server.url}/")
    desktop.locator("#qty_espresso").fill("2")
    expect(desktop.get_by_label("Card")).to_be_checked()
    desktop.get_by_label("PayPal").check()
    shoot(desktop, tmp_path, "desktop-shop-paypal.png")
    token_id = order_in_shop(desktop)
    expect(desktop.locator(".qr svg")).to_be_visible()
    status = desktop.locator("#status")
    expect(status).to_have_text(WAITING)
    wait_for_live_watcher(server, token_id)
    mark_no_reload(desktop)

    # 2. The phone follows the QR's link to PayPal's approval page and pays as the test buyer.
    href = desktop.locator("#link").get_attribute("href")
    assert href == f"{server.url}/t/{token_id}"
    phone.goto(href)
    phone.wait_for_url(re.compile(r"/paypal-sandbox/checkoutnow\?token=\w+$"))
    expect(phone.get_by_text("$5.00").first).to_be_visible()
    shoot(phone, tmp_path, "phone-paypal-approve.png")
    phone.get_by_role("button", name="Pays").click()
    expect_thank_you(phone, token_id)

    # 3. The service captured what the buyer approved; the desktop turns "Paid" on its own.
    expect(status).to_have_text("Paid", timeout=TIMEOUT_MS)
    expect(status).to_have_attribute("data-status", "success")
    assert_not_reloaded(desktop)
    paid = token(server, token_id)
    assert (paid["status"], paid["provider"], paid["paid_count"]) == ("success", "paypal", 1)
    shoot(desktop, tmp_path, "desktop-paypal-after.png")
    assert csp_violations(desktop, desktop_csp) == []
    assert csp_violations(phone, phone_csp) == []
