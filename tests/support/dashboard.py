"""The back office as a browser without JavaScript sees it: staff accounts, signing in with a
session cookie, and forms posted with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from qrcheckout.payments.events import CheckoutPaid
from qrcheckout.staff.service import Staff, StaffRole
from tests.support.flows import create_token, pay_page, token
from tests.support.server import RunningServer
from tests.support.stripe_events import deliver, token_paid

PASSWORD = "correct horse battery"
_OPEN: list[httpx.Client] = []
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def add_staff(
    server: RunningServer,
    email: str = "owner@example.com",
    role: str = "owner",
    merchant: str = "default",
    password: str = PASSWORD,
) -> str:
    """An account that accepted its invitation; its id."""

    async def make() -> str:
        staff = Staff(server.db)
        made = await staff.invite(merchant, email, StaffRole(role))
        await staff.accept(made.code, password)
        return made.member_id

    return server.call(make)


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def browser(server: RunningServer) -> httpx.Client:
    """A client of its own, keeping cookies as a browser does (closed after the test)."""
    client = httpx.Client(base_url=server.url, timeout=30)
    _OPEN.append(client)
    return client


def close_all() -> None:
    while _OPEN:
        _OPEN.pop().close()


def sign_in(
    server: RunningServer,
    email: str = "owner@example.com",
    password: str = PASSWORD,
    merchant: str = "default",
) -> httpx.Client:
    """A browser signed in as ``email``."""
    client = browser(server)
    answer = post_form(
        client,
        f"/dashboard/sign-in?merchant={merchant}",
        "/dashboard/sign-in",
        {"email": email, "password": password, "merchant": merchant},
    )
    assert answer.status_code == 303, answer.text
    return client


def post_form(
    client: httpx.Client, page: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    """Open ``page`` and post its form to ``action`` with the CSRF token the page carried."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    return client.post(action, data={"csrf": csrf_of(shown), **fields})


def failed_event(server: RunningServer) -> tuple[dict[str, Any], str]:
    """A token's payment whose event failed once (a handler broke): the token still waits."""
    made = create_token(server)
    session_id = pay_page(server, made["id"]).rsplit("/", 1)[1]
    failures = [RuntimeError("the ledger is unwell")]

    async def fails_once(*_: Any) -> None:
        if failures:
            raise failures.pop()

    server.app.state.container.webhooks["stripe"].on(CheckoutPaid, fails_once)
    event = token_paid(made, session_id)
    assert (
        deliver(server.client, event, server.settings.stripe_webhook_secret or "").status_code
        == 500
    )
    assert token(server, made["id"])["status"] == "inprogress"
    return made, event["id"]
