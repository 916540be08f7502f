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
        server = make_server(smtp_url=inbox.url, mail_retry_base_seconds=0.5)
        made = create_token(server, customer_email="bob@example.com")
        submit_card(pay_page(server, made["id"]))
        [message] = wait_until(lambda: inbox.messages, 20)
        assert message["To"] == "bob@example.com"
        # Refused twice, it waited 0.5 s, then 2 s (four times longer): not once a tick.
        first, second, third = inbox.offered
        assert second - first >= 0.5 and third - second >= 2.0


def test_no_email_no_receipt(make_server: ServerFactory) -> None:
    with Inbox() as inbox:
        server = make_server(smtp_url=inbox.url)
        made = create_token(server)  # no customer email
        submit_card(pay_page(server, made["id"]))
        wait_status(server, made["id"], "success")
        # A payment after it with an email is sent its receipt: the job ran past the first.
        later = create_token(server, customer_email="cleo@example.com")
        submit_card(pay_page(server, later["id"]))
        [message] = wait_until(lambda: inbox.messages, 15)
        assert message["To"] == "cleo@example.com"
        time.sleep(1)
        assert len(inbox.messages) == 1
