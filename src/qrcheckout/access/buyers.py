"""Buyers' credentials: JWTs verified with an HS256 secret, an RS256 public key or a JWKS URL,
read as plain ``sub`` claims or as Hasura's (``x-hasura-user-id``, roles)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from qrcheckout.access.roles import Role
from qrcheckout.config import Settings
from qrcheckout.errors import Forbidden, NotConfigured, Unauthenticated
from qrcheckout.inputs import is_name

LEEWAY_SECONDS = 30
MAX_USER_ID = 255
MAX_EMAIL = 320
JWKS_CACHE_SECONDS = 300
# The roles a buyer's token may act in; merchants and the platform use API keys.
TOKEN_ROLES = {Role.USER.value: Role.USER, Role.ANONYMOUS.value: Role.ANONYMOUS}


@dataclass(frozen=True)
class Buyer:
    """A verified JWT: ``subject`` (the user id) owns what it buys; ``email`` when the token
    carries one its issuer verified (``email_verified``); ``role`` is the one it acts in
    (``X-Hasura-Role`` among the allowed); ``expires`` its ``exp``."""

    subject: str
    email: str | None
    role: Role = Role.USER
    expires: int | None = None


class JWTVerifier:
    def __init__(self, settings: Settings) -> None:
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.namespace = settings.jwt_claims_namespace
        self.keys: list[tuple[Any, str]] = []
        if settings.jwt_secret:
            self.keys.append((settings.jwt_secret, "HS256"))
        if settings.jwt_public_key:
            self.keys.append((_pem(settings.jwt_public_key), "RS256"))
        self.jwks: jwt.PyJWKClient | None = None
        self.jwks_algorithms: list[str] = []
        if settings.jwt_jwks_url:
            # Cached; an unknown ``kid`` fetches the set again (a rotated key).
            self.jwks = jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=True,
                lifespan=JWKS_CACHE_SECONDS,
                timeout=5,
                cooldown_duration=settings.jwt_jwks_refresh_seconds,
            )
            self.jwks_algorithms = settings.jwt_jwks_algorithm_list

    @property
    def configured(self) -> bool:
        return bool(self.keys) or self.jwks is not None

    def verify(self, token: str, requested_role: str | None = None) -> Buyer:
        """The buyer a token names, acting in ``requested_role`` when it is allowed. Blocking
        (a JWKS fetch): call it off the event loop."""
        if not self.configured:
            raise NotConfigured("auth_not_configured", "Sign-in is not configured on this server.")
        key, algorithm = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise _invalid(str(exc)) from exc
        hasura = _namespaced(claims.get(self.namespace))
        subject = hasura.get("x-hasura-user-id", claims.get("sub"))
        if not is_name(subject, MAX_USER_ID):
            raise _invalid("the token names no user (sub or x-hasura-user-id)")
        # An email owns what was bought under it only when the issuer checked it is theirs.
        email = claims.get("email") if claims.get("email_verified") is True else None
        expires = claims.get("exp")
        return Buyer(
            subject,
            email.lower() if is_name(email, MAX_EMAIL) else None,
            _role(hasura, requested_role),
            expires if isinstance(expires, int) else None,
        )

    def _key_for(self, token: str) -> tuple[Any, str]:
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg"))
        except jwt.PyJWTError as exc:
            raise _invalid("the token is malformed") from exc
        # The algorithm is taken from our configuration, never from the token.
        key = next((key for key, alg in self.keys if alg == algorithm), None)
        if key is not None:
            return key, algorithm
        if self.jwks is not None and algorithm in self.jwks_algorithms:
            try:
                return self.jwks.get_signing_key_from_jwt(token).key, algorithm
            except jwt.PyJWKClientConnectionError as exc:
                raise Unauthenticated(
                    "jwks_unavailable", "The sign-in keys could not be fetched; try again."
                ) from exc
            except jwt.PyJWTError as exc:
                raise _invalid(f"no signing key for it ({exc})") from exc
        raise _invalid(f"tokens signed with {algorithm} are not accepted")


def _namespaced(value: Any) -> dict[str, Any]:
    # Hasura also allows the claims as a JSON string.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _invalid("the Hasura claims are not JSON") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("the Hasura claims are not an object")
    return {str(k).lower(): v for k, v in value.items()}


def _role(hasura: dict[str, Any], requested: str | None) -> Role:
    allowed = hasura.get("x-hasura-allowed-roles")
    default = hasura.get("x-hasura-default-role", Role.USER.value)
    if not isinstance(default, str):
        raise _invalid("x-hasura-default-role is not a role name")
    roles = {r for r in allowed if isinstance(r, str)} if isinstance(allowed, list) else {default}
    wanted = requested.strip() if requested is not None else default
    if wanted not in roles:
        raise Forbidden("role_not_allowed", f"The token may not act as {wanted!r}.")
    if wanted not in TOKEN_ROLES:
        raise Forbidden("unknown_role", f"No role {wanted!r} here: a token acts as 'user'.")
    return TOKEN_ROLES[wanted]


def _pem(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    return Path(value).read_text()


def _invalid(why: str) -> Unauthenticated:
    return Unauthenticated("invalid_token", f"The bearer token was refused: {why}.")
