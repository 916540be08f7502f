"""Logging, configured once for the service and its server: every line with its UTC time, as
text or as one JSON object a line, and no credential in any of them."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

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


class TextFormatter(logging.Formatter):
    """``2026-12-07T15:20:01.123Z INFO    qrcheckout.orders.ledger: message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time``, ``level``, ``logger``, ``message`` (and ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _utc(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def config(fmt: str = "text") -> dict[str, Any]:
    """The one logging configuration (``logging.config.dictConfig``'s), for the service and
    for uvicorn (its ``log_config``): the application's own events at INFO and up."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    # uvicorn's loggers keep no handlers of their own: their lines go the same way as ours.
    server = {"handlers": [], "level": "INFO", "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactCredentials}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"uvicorn": server, "uvicorn.error": server, "uvicorn.access": server},
    }


def install(fmt: str = "text") -> dict[str, Any]:
    """Configure logging now; returns the configuration for the server to apply again."""
    configured = config(fmt)
    logging.config.dictConfig(configured)
    return configured
