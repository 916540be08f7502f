"""Signing in to the back office: staff accounts by invitation, passwords checked and
throttled, sessions in an HttpOnly cookie, and no form accepted without its CSRF token."""

from __future__ import annotations

import re

import pytest

from qrcheckout.staff.service import Staff, StaffRole
from tests.conftest import ServerFactory
from tests.support.dashboard import (
    PASSWORD,
    add_staff,
    browser,
    csrf_of,
    post_form,
    sign_in,
)
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.server import RunningServer


def test_the_back_office_asks_to_sign_in_first(server: RunningServer) -> None:
    client = browser(server)
    answer = client.get("/dashboard/payments?status=paid")
    assert answer.status_code == 303
    assert (
        answer.headers["location"]
        == "/dashboard/sign-in?next=%2Fdashboard%2Fpayments%3Fstatus%3Dpaid"
    )
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "Sign in to the back office" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_staff_member_signs_in_and_out(server: RunningServer) -> None:
    add_staff(server)
    client = browser(server)
    answer = post_form(
        client,
        "/dashboard/sign-in?next=/dashboard/payments",
        "/dashboard/sign-in",
        {"email": "Owner@Example.com", "password": PASSWORD, "next": "/dashboard/payments"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/payments"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "qrcheckout_staff=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # served over http here
    overview = client.get("/dashboard")
    assert overview.status_code == 200 and "Overview" in overview.text
    out = client.post("/dashboard/sign-out", data={"csrf": csrf_of(overview)})
    assert out.status_code == 303
    assert client.get("/dashboard").status_code == 303
    # The old cookie signs nobody in once signed out.
    stale = browser(server)
    stale.cookies.set("qrcheckout_staff", cookie.split(";")[0].split("=", 1)[1], path="/dashboard")
    assert stale.get("/dashboard").status_code == 303


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("owner@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
        ("", ""),
        ("x", "y"),
    ],
)
def test_a_wrong_email_or_password_is_one_refusal(
    server: RunningServer, email: str, password: str
) -> None:
    add_staff(server)
    client = browser(server)
    answer = post_form(
        client, "/dashboard/sign-in", "/dashboard/sign-in", {"email": email, "password": password}
    )
    assert answer.status_code == 401
    assert "Wrong email or password." in answer.text
    assert "qrcheckout_staff=" not in answer.headers.get("set-cookie", "")


def test_five_wrong_passwords_throttle_the_account(server: RunningServer) -> None:
    add_staff(server)
    client = browser(server)
    for _ in range(5):
        answer = post_form(
            client,
            "/dashboard/sign-in",
            "/dashboard/sign-in",
            {"email": "owner@example.com", "password": "not the password"},
        )
        assert answer.status_code == 401
    # Even the right password now waits, from any browser.
    answer = post_form(
        browser(server),
        "/dashboard/sign-in",
        "/dashboard/sign-in",
        {"email": "owner@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 60
    assert "Too many wrong passwords" in answer.text


def test_a_form_without_its_csrf_token_is_refused(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    for data in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
        answer = client.post("/dashboard/sign-out", data=data)
        assert answer.status_code == 403 and "csrf_failed" in answer.text
    # Still signed in: nothing was done.
    assert client.get("/dashboard").status_code == 200
    # Another browser's token is not this one's.
    other = browser(server)
    foreign = csrf_of(other.get("/dashboard/sign-in"))
    assert client.post("/dashboard/sign-out", data={"csrf": foreign}).status_code == 403
    # Nor is a form another site sent, token or not.
    token = csrf_of(client.get("/dashboard"))
    answer = client.post(
        "/dashboard/sign-out", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert client.get("/dashboard").status_code == 200


def test_the_sign_in_form_needs_its_token_too(server: RunningServer) -> None:
    add_staff(server)
    answer = browser(server).post(
        "/dashboard/sign-in", data={"email": "owner@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 403


def test_an_invitation_sets_a_password_once(server: RunningServer) -> None:
    made = server.call(
        lambda: Staff(server.db).invite("default", "new@example.com", StaffRole.STAFF)
    )
    client = browser(server)
    link = f"/dashboard/invite/{made.code}"
    page = client.get(link)
    assert page.status_code == 200 and "new@example.com" in page.text
    short = client.post(
        link, data={"csrf": csrf_of(page), "password": "short", "password_again": "short"}
    )
    assert short.status_code == 422 and "10 to 256 characters" in short.text
    differ = client.post(
        link,
        data={"csrf": csrf_of(page), "password": PASSWORD, "password_again": PASSWORD + "x"},
    )
    assert differ.status_code == 422 and "differ" in differ.text
    done = client.post(
        link, data={"csrf": csrf_of(page), "password": PASSWORD, "password_again": PASSWORD}
    )
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    again = browser(server).get(link)
    assert again.status_code == 404
    assert sign_in(server, "new@example.com").get("/dashboard").status_code == 200


def test_an_unknown_invitation_is_not_found(server: RunningServer) -> None:
    assert browser(server).get("/dashboard/invite/inv_nope").status_code == 404


def test_next_never_leaves_the_back_office(server: RunningServer) -> None:
    add_staff(server)
    for where in (
        "https://evil.example/",
        "//evil.example/x",
        "/v1/tokens",
        "/\\evil.example",
        "/dashboard/../t/x",
        "/dashboard/%2e%2e/t/x",
        "/dashboard/..//evil.example",
        "/dashboardx",
    ):
        answer = post_form(
            browser(server),
            "/dashboard/sign-in",
            "/dashboard/sign-in",
            {"email": "owner@example.com", "password": PASSWORD, "next": where},
        )
        assert answer.headers["location"] == "/dashboard", where


def test_staff_of_one_merchant_cannot_sign_in_at_another(make_server: ServerFactory) -> None:
    server = make_server(admin_key=ADMIN_KEY)
    add_acme(server)
    add_staff(server, "owner@acme.example", merchant="acme")
    client = browser(server)
    answer = post_form(
        client,
        "/dashboard/sign-in",
        "/dashboard/sign-in",
        {"email": "owner@acme.example", "password": PASSWORD, "merchant": "default"},
    )
    assert answer.status_code == 401
    acme = sign_in(server, "owner@acme.example", merchant="acme")
    page = acme.get("/dashboard")
    assert page.status_code == 200 and re.search(
        r'class="shop" data-merchant="acme">Acme Tickets<', page.text
    )


def test_another_spelling_of_the_email_is_the_same_account(server: RunningServer) -> None:
    add_staff(server)
    for _ in range(5):
        post_form(
            browser(server),
            "/dashboard/sign-in",
            "/dashboard/sign-in",
            {"email": "owner@example.com", "password": "not the password"},
        )
    for spelling in ("Owner <OWNER@example.com>", " owner@EXAMPLE.com "):
        answer = post_form(
            browser(server),
            "/dashboard/sign-in",
            "/dashboard/sign-in",
            {"email": spelling, "password": PASSWORD},
        )
        assert answer.status_code == 429, spelling


def test_the_live_overview_ends_with_the_session(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    token = csrf_of(client.get("/dashboard"))
    with client.stream("GET", "/dashboard/live") as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 2000"
        assert next(line for line in lines if line.startswith("event:")) == "event: overview"
        client.post("/dashboard/sign-out", data={"csrf": token})
        # Within a keepalive: the stream says so and ends, showing nothing more.
        said = [line for line in lines if line.startswith("event:")]
    assert said == ["event: signed-out"]
