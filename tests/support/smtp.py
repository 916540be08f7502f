"""A real SMTP server on loopback (aiosmtpd) that keeps every message it is sent."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller

from tests.support.server import free_socket


class Inbox:
    def __init__(self, refuse: int = 0) -> None:
        #: How many deliveries to refuse (451, try again later) before taking them.
        self.refuse = refuse
        self.messages: list[EmailMessage] = []
        #: When each delivery was offered (refused or taken), by the monotonic clock.
        self.offered: list[float] = []
        with free_socket() as sock:
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.url = f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.offered.append(time.monotonic())
        if self.refuse:
            self.refuse -= 1
            return "451 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
