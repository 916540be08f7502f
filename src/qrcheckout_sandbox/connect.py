"""Connect: the platform's account, connected accounts, and the OAuth flow that links them."""

from __future__ import annotations

import secrets
from typing import Any

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox import shapes
from qrcheckout_sandbox.core import Ctx, Engine
from qrcheckout_sandbox.objects import StripeAPIError, invalid, new_id
from qrcheckout_sandbox.store import Store

ACCOUNT_TYPES = ("standard", "express", "custom")
SCOPES = ("read_write", "read_only")


class OAuthError(Exception):
    """Answered in OAuth's shape: ``{"error": code, "error_description": message}``."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


def platform_account(store: Store, business_name: str) -> dict[str, Any]:
    """The sandbox's own account, made on first start and kept."""
    for record in store.find("account", None, lambda r: bool(r.extra.get("platform"))):
        return record.obj
    account = _account(business_name=business_name, email=None, created=0, kind="standard")
    store.add("account", account, None, platform=True)
    store.commit()
    return account


def _account(
    *, business_name: str | None, email: str | None, created: int, kind: str
) -> dict[str, Any]:
    account = shapes.blank(
        "account", id=new_id("acct_", 16), email=email, created=created, type=kind
    )
    account["business_profile"]["name"] = business_name
    account["settings"]["dashboard"]["display_name"] = business_name
    return account


def connected(store: Store, account_id: str) -> dict[str, Any] | None:
    record = store.record(account_id)
    if record is None or record.kind != "account" or not record.extra.get("connected"):
        return None
    if record.extra.get("deauthorized"):
        return None
    return record.obj


def account_for_token(store: Store, api_key: str) -> str | None:
    """The connected account an OAuth access token acts for, if ``api_key`` is one."""
    record = store.record(api_key)
    if record is None or record.kind != "oauth_token" or record.obj.get("revoked"):
        return None
    return str(record.obj["account"])


def revoked(store: Store, api_key: str) -> bool:
    record = store.record(api_key)
    return record is not None and record.kind == "oauth_token" and bool(record.obj["revoked"])


def connect_account(
    store: Store, *, business_name: str | None, email: str | None, created: int, kind: str
) -> dict[str, Any]:
    account = _account(business_name=business_name, email=email, created=created, kind=kind)
    store.add("account", account, None, connected=True)
    return account


def create_account(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if ctx.account is not None:
        raise StripeAPIError(
            400, "Connected accounts cannot create other accounts.", code="platform_api_key_expired"
        )
    profile = p.nested(params, "business_profile")
    account = connect_account(
        ctx.store,
        business_name=p.text(profile, "name"),
        email=p.text(params, "email"),
        created=ctx.now(),
        kind=p.choice(params, "type", ACCOUNT_TYPES, "standard"),
    )
    account["metadata"] = p.metadata(params)
    ctx.emit("account.updated", account)
    return account


def current_account(ctx: Ctx, params: dict[str, Any], platform: dict[str, Any]) -> dict[str, Any]:
    if ctx.account is None:
        return platform
    account = connected(ctx.store, ctx.account)
    assert account is not None
    return account


def get_account(ctx: Ctx, account_id: str, platform: dict[str, Any]) -> dict[str, Any]:
    if account_id == platform["id"] and ctx.account is None:
        return platform
    if ctx.account is not None and account_id == ctx.account:
        return current_account(ctx, {}, platform)
    account = connected(ctx.store, account_id) if ctx.account is None else None
    if account is None:
        raise StripeAPIError(
            403,
            f"The provided key does not have access to account '{account_id}' (or that "
            "account does not exist). Application access may have been revoked.",
            type="invalid_request_error",
            code="account_invalid",
        )
    return account


# -- OAuth -------------------------------------------------------------------------------------


def authorize(
    store: Store, *, business_name: str | None, email: str | None, scope: str, created: int
) -> str:
    """Link a new connected account; the authorization code the platform exchanges for it."""
    if scope not in SCOPES:
        raise invalid("scope", f"Invalid scope: {scope}")
    account = connect_account(
        store, business_name=business_name, email=email, created=created, kind="standard"
    )
    code = "ac_" + secrets.token_urlsafe(24)
    store.add(
        "oauth_code", {"id": code, "account": account["id"], "scope": scope, "used": False}, None
    )
    store.commit()
    return code


def token(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    grant = params.get("grant_type")
    if grant == "authorization_code":
        code = str(params.get("code") or "")
        record = store.record(code)
        if record is None or record.kind != "oauth_code":
            raise OAuthError("invalid_grant", f"Authorization code does not exist: {code}")
        if record.obj["used"]:
            raise OAuthError("invalid_grant", f"Authorization code already used: {code}")
        record.obj["used"] = True
        store.saved(record.obj)
        account_id, scope = str(record.obj["account"]), str(record.obj["scope"])
    elif grant == "refresh_token":
        refresh = str(params.get("refresh_token") or "")
        record = store.record(refresh)
        if record is None or record.kind != "oauth_refresh":
            raise OAuthError("invalid_grant", f"Invalid refresh token: {refresh}")
        account_id, scope = str(record.obj["account"]), str(record.obj["scope"])
    else:
        raise OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant or '(none)'}")
    if connected(store, account_id) is None:
        raise OAuthError("invalid_grant", f"The account {account_id} is no longer connected.")
    access = "sk_test_" + secrets.token_urlsafe(32)
    refresh_token = "rt_" + secrets.token_urlsafe(32)
    store.add("oauth_token", {"id": access, "account": account_id, "revoked": False}, None)
    store.add("oauth_refresh", {"id": refresh_token, "account": account_id, "scope": scope}, None)
    store.commit()
    return {
        "access_token": access,
        "livemode": False,
        "refresh_token": refresh_token,
        "scope": scope,
        "stripe_publishable_key": "pk_test_" + secrets.token_urlsafe(24),
        "stripe_user_id": account_id,
        "token_type": "bearer",
    }


def deauthorize(engine: Engine, params: dict[str, Any], platform_name: str) -> dict[str, Any]:
    """Unlink an account: its tokens stop working, and the platform hears of it as Stripe tells
    it (``account.application.deauthorized``, on the account's behalf)."""
    store = engine.store
    account_id = str(params.get("stripe_user_id") or "")
    client_id = str(params.get("client_id") or "")
    if not client_id:
        raise OAuthError("invalid_request", "No client_id provided.")
    record = store.record(account_id)
    if record is None or not record.extra.get("connected") or record.extra.get("deauthorized"):
        raise OAuthError(
            "invalid_client", f"No such account connected to this application: {account_id}", 401
        )
    record.extra["deauthorized"] = True
    store.saved(record.obj)
    for token_record in store.all_of("oauth_token"):
        if token_record.obj["account"] == account_id:
            token_record.obj["revoked"] = True
            store.saved(token_record.obj)
    application = {"id": client_id, "object": "application", "name": platform_name}
    engine.emit("account.application.deauthorized", application, account=account_id)
    store.commit()
    return {"stripe_user_id": account_id}
