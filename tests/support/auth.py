"""Tokens and keys a test holds: HS256 and RS256 JWTs for buyers, the merchant's API key."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"
API_KEY = "sk_qrcheckout_test_merchant_0123456789"


def hs256(sub: str, *, secret: str = JWT_SECRET, ttl: int = 300, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + ttl, **claims}, secret, "HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def buyer(sub: str, **claims: Any) -> dict[str, str]:
    """Headers of a buyer signed in as ``sub`` (HS256 with ``JWT_SECRET``)."""
    return bearer(hs256(sub, **claims))


def merchant(key: str = API_KEY) -> dict[str, str]:
    return bearer(key)


class RSAKeys:
    """A fresh RSA key pair: the server is given the public PEM, the test signs with the private."""

    def __init__(self) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self._private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, sub: str, *, ttl: int = 300, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        private = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return jwt.encode(
            {"sub": sub, "iat": now, "exp": now + ttl, **claims},
            private,
            "RS256",
            headers={"kid": kid} if kid else None,
        )

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public key as a JWKS entry."""
        found: dict[str, Any] = RSAAlgorithm.to_jwk(self._private.public_key(), as_dict=True)
        return {**found, "kid": kid, "use": "sig", "alg": "RS256"}
