"""Log hygiene: no credential reaches a log line."""

from __future__ import annotations

import logging
import re

# ``?access_token=`` (a WebSocket's credential, which browsers cannot send as a header).
_CREDENTIAL = re.compile(r"(?i)([?&]access_token=)[^&\s]*")


def redact(text: str) -> str:
    return _CREDENTIAL.sub(r"\1[redacted]", text)


class RedactCredentials(logging.Filter):
    """Rewrites credentials in a record's arguments (uvicorn's access lines carry the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Redact credentials from the server's access log."""
    logging.getLogger("uvicorn.access").addFilter(RedactCredentials())
