"""Credentials never reach the access log."""

from __future__ import annotations

import logging

from qrcheckout.logs import RedactCredentials


def test_an_access_token_in_a_path_is_redacted() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5",
            "GET",
            "/v1/realtime/stripe?selector=x&access_token=qrk_secret",
            "1.1",
            101,
        ),
        None,
    )
    assert RedactCredentials().filter(record)
    line = record.getMessage()
    assert "qrk_sec" not in line
    assert "/v1/realtime/stripe?selector=x&access_token=[redacted]" in line
