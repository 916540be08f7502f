"""Browser fixtures: one headless Chromium per module, SQLite-only servers.

Without Chromium (``/usr/bin/chromium`` or ``chromium`` on PATH) or the ``playwright``
package the browser tests skip, unless ``QRCHECKOUT_REQUIRE_BROWSER=1`` makes them fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("QRCHECKOUT_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> NoReturn:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (QRCHECKOUT_REQUIRE_BROWSER=1 forbids skipping)", pytrace=False)
    pytest.skip(f"{reason}; set QRCHECKOUT_REQUIRE_BROWSER=1 to make this a failure")


def chromium_executable() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Browser tests run against SQLite only (overrides the sqlite/postgres parametrization)."""
    return sqlite_url


# Module scope: Playwright's sync API holds an event loop on the main thread while it
# lives, which other tests' asyncio.run() must not meet.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        _unavailable("Chromium not found at /usr/bin/chromium or as `chromium` on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
