"""Settings in the back office: the owner changes the shop's face (the shop page wears it),
its endpoints and origins, its API keys and its staff; staff only look; bad values change
nothing."""

from __future__ import annotations

import re

from tests.support.auth import bearer
from tests.support.dashboard import PASSWORD, add_staff, browser, csrf_of, post_form, sign_in
from tests.support.server import RunningServer

FACE = {
    "name": "Corner Café",
    "logo_url": "https://cdn.example/logo.png",
    "accent_color": "#aa3366",
    "support_email": "help@corner.example",
    "default_currency": "eur",
    "allowed_origins": "https://corner.example\n",
    "webhook_urls": "",
}


def test_the_owner_changes_the_shops_face(server: RunningServer) -> None:
    add_staff(server)
    owner = sign_in(server)
    saved = post_form(owner, "/dashboard/settings", "/dashboard/settings", FACE)
    assert saved.status_code == 303, saved.text
    shop = server.client.get("/").text
    for shown in ("Corner Café", "https://cdn.example/logo.png", "#aa3366", "help@corner.example"):
        assert shown in shop, shown
    page = owner.get("/dashboard/settings")
    assert "https://corner.example" in page.text and "The settings were saved." not in page.text


def test_bad_settings_change_nothing(server: RunningServer) -> None:
    add_staff(server)
    owner = sign_in(server)
    for changes, said in (
        ({"accent_color": "red"}, "accent_color"),
        ({"logo_url": "not a url"}, "logo_url"),
        ({"logo_url": "http://cdn.example/logo.png"}, "https"),
        ({"default_currency": "xyz"}, "default_currency"),
        ({"allowed_origins": "https://ok.example/path"}, "not an origin"),
        ({"webhook_urls": "http://127.0.0.1:9/hook"}, "private"),
        ({"name": ""}, "name"),
    ):
        answer = post_form(owner, "/dashboard/settings", "/dashboard/settings", {**FACE, **changes})
        assert answer.status_code == 422, (changes, answer.text[-600:])
        assert said in answer.text, (changes, said)
    assert "Corner Café" not in server.client.get("/").text


def test_staff_look_but_do_not_change(server: RunningServer) -> None:
    add_staff(server)
    add_staff(server, "till@example.com", role="staff")
    staff = sign_in(server, "till@example.com")
    page = staff.get("/dashboard/settings")
    assert page.status_code == 200 and "Only the shop's owner changes these." in page.text
    assert "Create key" not in page.text
    for action, fields in (
        ("/dashboard/settings", FACE),
        ("/dashboard/settings/keys", {"name": "sneaky"}),
        ("/dashboard/settings/staff", {"email": "friend@example.com", "role": "owner"}),
    ):
        answer = staff.post(action, data={"csrf": csrf_of(page), **fields})
        assert answer.status_code == 403, action
    assert "Corner Café" not in server.client.get("/").text


def test_api_keys_are_made_shown_once_and_revoked(server: RunningServer) -> None:
    add_staff(server)
    owner = sign_in(server)
    made = post_form(owner, "/dashboard/settings", "/dashboard/settings/keys", {"name": "till"})
    assert made.status_code == 200
    secret = re.search(r"New API key: <code>(qrk_[\w-]+)</code>", made.text)
    assert secret
    assert server.client.get("/v1/tokens", headers=bearer(secret.group(1))).status_code == 200
    page = owner.get("/dashboard/settings")
    assert secret.group(1) not in page.text
    key_id = re.search(r'data-key="(key_[0-9a-f]+)"', page.text)
    assert key_id
    revoked = owner.post(
        f"/dashboard/settings/keys/{key_id.group(1)}/revoke", data={"csrf": csrf_of(page)}
    )
    assert revoked.status_code == 303
    assert server.client.get("/v1/tokens", headers=bearer(secret.group(1))).status_code == 401


def test_the_owner_invites_and_removes_staff(server: RunningServer) -> None:
    add_staff(server)
    owner = sign_in(server)
    invited = post_form(
        owner, "/dashboard/settings", "/dashboard/settings/staff", {"email": "new@example.com"}
    )
    assert invited.status_code == 200
    link = re.search(r"<code>(http://[^<]+/dashboard/invite/inv_[\w-]+)</code>", invited.text)
    assert link
    newcomer = browser(server)
    path = link.group(1).split(server.url, 1)[1]
    accepted = newcomer.post(
        path,
        data={
            "csrf": csrf_of(newcomer.get(path)),
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert accepted.status_code == 303
    assert newcomer.get("/dashboard").status_code == 200
    page = owner.get("/dashboard/settings")
    member = re.search(
        r'data-staff="new@example.com">.*?/settings/staff/(stf_\w+)/remove', page.text, re.S
    )
    assert member
    removed = owner.post(
        f"/dashboard/settings/staff/{member.group(1)}/remove", data={"csrf": csrf_of(page)}
    )
    assert removed.status_code == 303
    # Removed: the session they had ends at once.
    assert newcomer.get("/dashboard").status_code == 303
    # The last owner stays.
    page = owner.get("/dashboard/settings")
    me = re.search(
        r'data-staff="owner@example.com">.*?/settings/staff/(stf_\w+)/remove', page.text, re.S
    )
    assert me
    kept = owner.post(
        f"/dashboard/settings/staff/{me.group(1)}/remove", data={"csrf": csrf_of(page)}
    )
    assert kept.status_code == 409


def test_names_hold_one_line_and_no_control_characters(server: RunningServer) -> None:
    add_staff(server)
    owner = sign_in(server)
    for name in ("Acme\r\nBcc: victim@evil.example", "Tab\there"):
        answer = post_form(
            owner, "/dashboard/settings", "/dashboard/settings", {**FACE, "name": name}
        )
        assert answer.status_code == 422, name
    for name in ("a\x00b", "\x00", "line\nbreak", ""):
        answer = post_form(owner, "/dashboard/settings", "/dashboard/settings/keys", {"name": name})
        assert answer.status_code == 422, repr(name)
    assert "qrcheckout café" in server.client.get("/").text
    family = "Family café \U0001f468\u200d\U0001f469\u200d\U0001f467"
    kept = post_form(owner, "/dashboard/settings", "/dashboard/settings", {**FACE, "name": family})
    assert kept.status_code == 303
    assert family in server.client.get("/").text
