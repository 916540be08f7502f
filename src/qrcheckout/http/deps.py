"""Request-reading dependencies shared by routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qrcheckout.errors import Malformed

MAX_IDEMPOTENCY_KEY = 200


def idempotency_key(request: Request) -> str | None:
    """The caller's ``Idempotency-Key``: a retried request with it does its work once."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Malformed(
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters.",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
