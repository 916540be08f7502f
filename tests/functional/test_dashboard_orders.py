"""An order's page in the back office: its items, payments and timeline; a refund asked, then
confirmed, made once however often the confirmation is sent; a pending order cancelled; and
nobody else's order shown or changed."""

from __future__ import annotations

import re

from tests.conftest import ServerFactory
from tests.support.dashboard import add_staff, csrf_of, sign_in
from tests.support.flows import create_token, wait_status
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import create_order, get_order, pay_order, start
from tests.support.server import RunningServer


def _paid_order(make_server: ServerFactory, **overrides: object) -> tuple[RunningServer, dict]:
    server = start(make_server, **overrides)
    order = create_order(server, customer_email="cleo@example.com")
    pay_order(server, order)
    return server, order


def test_an_order_page_tells_its_story(make_server: ServerFactory) -> None:
    server, order = _paid_order(make_server)
    add_staff(server, role="staff")
    page = sign_in(server).get(f"/dashboard/orders/{order['id']}")
    assert page.status_code == 200
    for shown in (
        "completed",
        "cleo@example.com",
        "Espresso",
        "$5.00",
        "Order placed",
        "Payment session paid",
        "Order completed",
        "checkout.session.completed",
    ):
        assert shown in page.text, shown
    listed = sign_in(server).get("/dashboard/orders", params={"status": "completed"})
    assert order["id"] in listed.text


def test_a_partial_refund_is_confirmed_then_made_once(make_server: ServerFactory) -> None:
    server, order = _paid_order(make_server)
    add_staff(server, role="staff")
    client = sign_in(server)
    path = f"/dashboard/orders/{order['id']}"
    page = client.get(path)
    asked = client.post(f"{path}/refund", data={"csrf": csrf_of(page), "amount": "2.00"})
    assert asked.status_code == 200 and "Confirm refund of $2.00" in asked.text
    assert get_order(server, order["id"])["amount_refunded"] == 0  # nothing yet
    key = re.search(r'name="key" value="([0-9a-f]{32})"', asked.text)
    assert key
    confirm = {"csrf": csrf_of(asked), "amount": "2.00", "key": key.group(1), "confirmed": "yes"}
    first = client.post(f"{path}/refund", data=confirm)
    assert first.status_code == 303 and first.headers["location"].startswith(path + "?done=")
    again = client.post(f"{path}/refund", data=confirm)  # the same confirmation, sent twice
    assert again.status_code in (303, 409), again.text
    after = get_order(server, order["id"])
    assert (after["amount_refunded"], after["status"]) == (200, "partially_refunded")
    shown = client.get(first.headers["location"])
    assert "The refund was made." in shown.text and "$2.00" in shown.text


def test_a_bad_refund_amount_changes_nothing(make_server: ServerFactory) -> None:
    server, order = _paid_order(make_server)
    add_staff(server)
    client = sign_in(server)
    path = f"/dashboard/orders/{order['id']}"
    for amount, status, said in (
        ("", 422, "Give the amount"),
        ("abc", 422, "Give the amount"),
        ("-1", 422, "Give the amount"),
        ("0.001", 422, "Give the amount"),
        ("0", 422, "Give the amount"),
    ):
        answer = client.post(
            f"{path}/refund", data={"csrf": csrf_of(client.get(path)), "amount": amount}
        )
        assert answer.status_code == status and said in answer.text, amount
    too_much = {
        "csrf": csrf_of(client.get(path)),
        "amount": "6.00",
        "key": "0" * 32,
        "confirmed": "yes",
    }
    answer = client.post(f"{path}/refund", data=too_much)
    assert answer.status_code == 422 and "left to refund" in answer.text
    assert get_order(server, order["id"])["amount_refunded"] == 0


def test_a_pending_order_and_a_checkout_are_cancelled(make_server: ServerFactory) -> None:
    server = start(make_server)
    add_staff(server)
    client = sign_in(server)
    order = create_order(server)
    path = f"/dashboard/orders/{order['id']}"
    done = client.post(f"{path}/cancel", data={"csrf": csrf_of(client.get(path))})
    assert done.status_code == 303
    assert get_order(server, order["id"])["status"] == "cancelled"
    assert "The order was cancelled." in client.get(done.headers["location"]).text
    again = client.post(f"{path}/cancel", data={"csrf": csrf_of(client.get(path))})
    assert again.status_code == 409
    made = create_token(server)
    path = f"/dashboard/tokens/{made['id']}"
    assert (
        client.post(f"{path}/cancel", data={"csrf": csrf_of(client.get(path))}).status_code == 303
    )
    wait_status(server, made["id"], "cancelled")


def test_another_merchants_order_is_not_found(make_server: ServerFactory) -> None:
    server, order = _paid_order(make_server, admin_key=ADMIN_KEY)
    add_acme(server)
    add_staff(server, "owner@acme.example", merchant="acme")
    acme = sign_in(server, "owner@acme.example", merchant="acme")
    path = f"/dashboard/orders/{order['id']}"
    assert acme.get(path).status_code == 404
    csrf = csrf_of(acme.get("/dashboard"))
    refund = {"csrf": csrf, "amount": "1.00", "key": "1" * 32, "confirmed": "yes"}
    assert acme.post(f"{path}/refund", data=refund).status_code == 404
    cancelled = acme.post(f"{path}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 404, cancelled.text
    assert acme.get(f"/dashboard/tokens/{order['token_id']}").status_code == 404
    assert get_order(server, order["id"])["amount_refunded"] == 0


def test_a_static_code_prints_as_a_poster(make_server: ServerFactory) -> None:
    import io

    from PIL import Image

    server = start(make_server)
    add_staff(server, role="staff")
    client = sign_in(server)
    made = create_token(server, kind="static")
    page = client.get(f"/dashboard/tokens/{made['id']}")
    assert "poster.png" in page.text and "poster.pdf" in page.text
    png = client.get(f"/dashboard/tokens/{made['id']}/poster.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (1165, 1654)  # A5 at 200 dpi
    pdf = client.get(f"/dashboard/tokens/{made['id']}/poster.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert client.get(f"/dashboard/tokens/{made['id']}/poster.gif").status_code in (400, 404)
    assert client.get("/dashboard/tokens/nope/poster.png").status_code == 404
