"""Email out, over SMTP (``aiosmtplib``: the event loop is never blocked)."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

TIMEOUT_SECONDS = 10.0


class Mailer:
    """One SMTP server, from ``smtp://user:password@host:port`` (STARTTLS when the server
    offers it) or ``smtps://`` (TLS from the start)."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"QRCHECKOUT_SMTP_URL must be smtp:// or smtps://, not {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, message: EmailMessage) -> None:
        """Send ``message`` (from ``sender`` unless it says otherwise); an SMTP or network
        failure raises ``aiosmtplib.SMTPException`` or ``OSError``."""
        if "From" not in message:
            message["From"] = self.sender
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls,
            timeout=TIMEOUT_SECONDS,
        )
