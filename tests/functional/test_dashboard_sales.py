"""What the back office shows of the shop's sales: takings per currency, every payment in one
list (a token's, an order's) with search, filters, pages and CSV, and only its own merchant's."""

from __future__ import annotations

import csv
import html
import io
import re

from tests.conftest import ServerFactory
from tests.support.dashboard import add_staff, sign_in
from tests.support.flows import DECLINED_CARD, create_token, pay_page, submit_card, wait_status
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.orders import create_order, pay_order, start
from tests.support.server import RunningServer


def _pay(server: RunningServer, card: str | None = None, email: str = "buyer@example.com") -> str:
    made = create_token(server, customer_email=email)
    if card is None:
        submit_card(pay_page(server, made["id"]), email=email)
        wait_status(server, made["id"], "success")
    else:
        submit_card(pay_page(server, made["id"]), card, email=email)
    return str(made["id"])


def test_the_overview_counts_todays_takings(server: RunningServer) -> None:
    add_staff(server, role="staff")
    client = sign_in(server)
    empty = client.get("/dashboard")
    assert empty.status_code == 200 and "no payments" in empty.text
    _pay(server)
    _pay(server)
    page = client.get("/dashboard")
    assert "$10.00" in page.text and "2 payments" in page.text
    assert page.text.count("buyer@example.com") == 2


def test_payments_are_listed_searched_and_filtered(make_server: ServerFactory) -> None:
    server = start(make_server)
    add_staff(server)
    paid = _pay(server, email="ann@example.com")
    declined = _pay(server, DECLINED_CARD, email="bob@example.com")
    order = create_order(server, customer_email="cleo@example.com")
    pay_order(server, order)
    client = sign_in(server)
    everything = client.get("/dashboard/payments")
    assert everything.status_code == 200
    for shown in (paid, order["id"], "ann@example.com", "cleo@example.com"):
        assert shown in everything.text, shown
    by_email = client.get("/dashboard/payments", params={"q": "ANN@"})
    assert paid in by_email.text and order["id"] not in by_email.text
    by_reference = client.get("/dashboard/payments", params={"q": order["id"]})
    assert order["id"] in by_reference.text and paid not in by_reference.text
    only_paid = client.get("/dashboard/payments", params={"status": "paid"})
    assert paid in only_paid.text and order["id"] in only_paid.text
    assert declined not in only_paid.text
    none_yet = client.get("/dashboard/payments", params={"since": "2099-01-01"})
    assert "No payments yet." in none_yet.text
    for bad in (
        {"status": "stolen"},
        {"since": "yesterday"},
        {"after": "!!"},
        {"since": "2026-02-01", "until": "2026-01-01"},
    ):
        refused = client.get("/dashboard/payments", params=bad)
        assert refused.status_code == 400, (bad, refused.text)


def test_payments_come_a_page_at_a_time_and_as_csv(server: RunningServer) -> None:
    add_staff(server)
    made = [_pay(server, email=f"p{i}@example.com") for i in range(3)]
    client = sign_in(server)
    seen: list[str] = []
    url: str | None = "/dashboard/payments?status=paid&limit=2"
    while url is not None:
        page = client.get(url if url.startswith("/") else "/dashboard/payments" + url)
        assert page.status_code == 200, page.text
        seen += [token for token in made if token in page.text]
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        url = html.unescape(found.group(1)) if found else None
    assert sorted(seen) == sorted(made)
    export = client.get("/dashboard/payments.csv", params={"status": "paid"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(row["token"] for row in rows) == sorted(made)
    assert {row["amount"] for row in rows} == {"5.00"}
    assert {row["currency"] for row in rows} == {"USD"}
    for bad in ("0", "101", "two"):
        assert client.get("/dashboard/payments", params={"limit": bad}).status_code == 400


def test_staff_see_only_their_own_merchants_payments(make_server: ServerFactory) -> None:
    server = make_server(admin_key=ADMIN_KEY)
    add_acme(server)
    ours = _pay(server)
    add_staff(server, "owner@acme.example", merchant="acme")
    acme = sign_in(server, "owner@acme.example", merchant="acme")
    for path in ("/dashboard", "/dashboard/payments", "/dashboard/payments.csv"):
        answer = acme.get(path)
        assert answer.status_code == 200 and ours not in answer.text, path
    searched = acme.get("/dashboard/payments", params={"q": ours})
    assert "No payments yet." in searched.text and "data-payment" not in searched.text


def test_odd_queries_are_refused_not_failed(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    for path, query in (
        ("/dashboard/payments", {"limit": "²"}),
        ("/dashboard/payments", {"until": "9999-12-31"}),
        ("/dashboard/payments", {"since": "0001-01-01"}),
        ("/dashboard/payments.csv", {"after": "garbage"}),
        ("/dashboard/payments.csv", {"until": "9999-12-31"}),
        ("/dashboard/orders", {"since": "someday"}),
        ("/dashboard/orders", {"status": "lost"}),
    ):
        answer = client.get(path, params=query)
        assert answer.status_code == 400, (path, query, answer.status_code)
        assert "text/html" in answer.headers["content-type"]


def test_refunds_show_in_the_list_and_come_off_the_takings(make_server: ServerFactory) -> None:
    from tests.support.orders import refund

    server = start(make_server)
    add_staff(server)
    client = sign_in(server)
    partly, fully = create_order(server), create_order(server)
    for order in (partly, fully):
        pay_order(server, order)
    assert refund(server, partly["id"], 200).status_code == 201
    assert refund(server, fully["id"]).status_code == 201
    listed = client.get("/dashboard/payments", params={"status": "partially_refunded"})
    assert partly["id"] in listed.text and fully["id"] not in listed.text
    assert "$2.00 refunded" in listed.text
    listed = client.get("/dashboard/payments", params={"status": "refunded"})
    assert fully["id"] in listed.text and partly["id"] not in listed.text
    assert (
        client.get("/dashboard/payments", params={"status": "paid"}).text.count("data-payment") == 0
    )
    overview = client.get("/dashboard")
    # $10.00 taken, $7.00 given back.
    assert "$3.00" in overview.text and "2 payments" in overview.text
    rows = list(csv.DictReader(io.StringIO(client.get("/dashboard/payments.csv").text)))
    assert sorted(row["refunded"] for row in rows) == ["2.00", "5.00"]
