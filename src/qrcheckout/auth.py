"""Buyers' credentials: JWTs (HS256 or RS256) verified against the configured keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from qrcheckout.config import Settings
from qrcheckout.errors import NotConfigured, Unauthenticated

LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Buyer:
    """A verified JWT: ``subject`` owns what it buys; ``email`` when the token carries one."""

    subject: str
    email: str | None

    @property
    def owners(self) -> tuple[str, ...]:
        return (self.subject, self.email) if self.email else (self.subject,)


class JWTVerifier:
    def __init__(self, settings: Settings) -> None:
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.keys: list[tuple[Any, str]] = []
        if settings.jwt_secret:
            self.keys.append((settings.jwt_secret, "HS256"))
        if settings.jwt_public_key:
            self.keys.append((_pem(settings.jwt_public_key), "RS256"))

    def verify(self, token: str) -> Buyer:
        if not self.keys:
            raise NotConfigured("auth_not_configured", "Sign-in is not configured on this server.")
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg"))
        except jwt.PyJWTError as exc:
            raise _invalid("the token is malformed") from exc
        # The algorithm is taken from our configuration, never from the token.
        key = next((key for key, alg in self.keys if alg == algorithm), None)
        if key is None:
            raise _invalid(f"tokens signed with {algorithm} are not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise _invalid(str(exc)) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise _invalid("the token has no subject")
        email = claims.get("email")
        return Buyer(subject, email.lower() if isinstance(email, str) and email else None)


def _pem(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    return Path(value).read_text()


def _invalid(why: str) -> Unauthenticated:
    return Unauthenticated("invalid_token", f"The bearer token was refused: {why}.")
