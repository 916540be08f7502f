"""Secrets kept only as their SHA-256 and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def digest(secret: str) -> str:
    # ``surrogatepass``: a header may carry any character; none may fail the hashing.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def holds(given: str | None, kept_digest: str | None) -> bool:
    """``given`` is the secret whose digest was kept."""
    if given is None or kept_digest is None:
        return False
    return hmac.compare_digest(digest(given), kept_digest)
