"""/docs and /redoc render in Chromium with every request to another host blocked: the service
serves Swagger UI and ReDoc itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.support.server import RunningServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

pytestmark = pytest.mark.browser
# How long the page may take to render the whole API: it asserts that it renders offline, not
# how fast (with the suite running beside it on 2 cores, ReDoc has needed more than 5 s).
RENDER_MS = 30_000


@pytest.fixture
def offline(chromium: Browser, server: RunningServer) -> Iterator[tuple[Page, list[str]]]:
    """A page that reaches this service only; the requests it tried elsewhere are listed."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    blocked: list[str] = []
    local = urlsplit(server.url).netloc

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    try:
        yield context.new_page(), blocked
    finally:
        context.close()


def test_swagger_ui_renders_offline(server: RunningServer, offline: tuple[Page, list[str]]) -> None:
    from playwright.sync_api import expect

    page, blocked = offline
    page.goto(f"{server.url}/docs")
    title = page.locator(".swagger-ui .info .title")
    expect(title).to_contain_text("qrcheckout", timeout=RENDER_MS)
    expect(page.locator(".opblock-summary-path", has_text="/v1/tokens").first).to_be_visible()
    assert blocked == []


def test_redoc_renders_offline(server: RunningServer, offline: tuple[Page, list[str]]) -> None:
    from playwright.sync_api import expect

    page, blocked = offline
    page.goto(f"{server.url}/redoc")
    expect(page.locator("h1", has_text="qrcheckout").first).to_be_visible(timeout=RENDER_MS)
    expect(page.get_by_text("/v1/tokens").first).to_be_attached()
    assert blocked == []
