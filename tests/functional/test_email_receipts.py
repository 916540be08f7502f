"""Email receipts: a buyer who gave an email gets one message per payment, with the shop's
name, the amount, the items, the reference and a link to the receipt page; a mail server
that refuses for a while gets it later; without SMTP nothing is sent."""

from __future__ import annotations

import time

import httpx

from tests.conftest import ServerFactory
from tests.support.flows import create_token, pay_page, submit_card, wait_status
from tests.support.server import wait_until
from tests.support.smtp import Inbox


def test_a_paid_checkout_emails_its_receipt_once(make_server: ServerFactory) -> None:
    with Inbox() as inbox:
        server = make_server(smtp_url=inbox.url, mail_from="till@corner.example")
        made = create_token(server, customer_email="ann@example.com")
        session_id = pay_page(server, made["id"]).rsplit("/", 1)[1]
        submit_card(pay_page(server, made["id"]))
        wait_status(server, made["id"], "success")
        [message] = wait_until(lambda: inbox.messages, 15)
        assert message["To"] == "ann@example.com"
        assert message["From"] == "till@corner.example"
        assert message["Subject"] == "Your receipt from qrcheckout café: $5.00"
        body = message.get_content()
        for shown in ("2 × Espresso", "$5.00", session_id, "UTC"):
            assert shown in body, shown
        link = next(line for line in body.splitlines() if "/done?session_id=" in line)
        receipt = httpx.get(link.split(": ", 1)[1], timeout=30)
        assert receipt.status_code == 200 and "Thank you" in receipt.text
        time.sleep(1)  # a few more ticks of the job: still one message
        assert len(inbox.messages) == 1


def test_a_refusing_mail_server_gets_the_receipt_later(make_server: ServerFactory) -> None:
    with Inbox(refuse=2) as inbox:
        server = make_server(smtp_url=inbox.url)
        made = create_token(server, customer_email="bob@example.com", kind="static")
        submit_card(pay_page(server, made["id"]))
        submit_card(pay_page(server, made["id"]))
        wait_until(lambda: len(inbox.messages) == 2, 20)
        assert {m["To"] for m in inbox.messages} == {"bob@example.com"}


def test_no_email_no_receipt(make_server: ServerFactory) -> None:
    with Inbox() as inbox:
        server = make_server(smtp_url=inbox.url)
        made = create_token(server)  # no customer email
        submit_card(pay_page(server, made["id"]))
        wait_status(server, made["id"], "success")
        time.sleep(1)
        assert inbox.messages == []
