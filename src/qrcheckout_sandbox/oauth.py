"""Connect's OAuth: a consent page, then an authorization code exchanged for an account."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from qrcheckout_sandbox import connect
from qrcheckout_sandbox.forms import FormError, decode
from qrcheckout_sandbox.http import api_key, check_key
from qrcheckout_sandbox.pages import TEMPLATES

if TYPE_CHECKING:
    from qrcheckout_sandbox.app import Sandbox


class OAuth:
    """The consent page and the token endpoints of one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def show(self, request: Request) -> Response:
        query = dict(request.query_params)
        problem = self._problem(query)
        return TEMPLATES.TemplateResponse(
            request,
            "connect.html",
            {"query": query, "problem": problem, "platform": self.sandbox.business_name},
            status_code=400 if problem else 200,
        )

    async def decide(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        problem = self._problem(form)
        if problem:
            return TEMPLATES.TemplateResponse(
                request,
                "connect.html",
                {"query": form, "problem": problem, "platform": self.sandbox.business_name},
                status_code=400,
            )
        answer: dict[str, str] = {}
        if form.get("decision") == "allow":
            answer["code"] = connect.authorize(
                self.sandbox.store,
                business_name=form.get("business_name") or None,
                email=form.get("email") or None,
                scope=form.get("scope") or "read_write",
                created=int(time.time()),
            )
            answer["scope"] = form.get("scope") or "read_write"
        else:
            answer["error"] = "access_denied"
            answer["error_description"] = "The user denied your request"
        if form.get("state"):
            answer["state"] = form["state"]
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return RedirectResponse(f"{form['redirect_uri']}{separator}{urlencode(answer)}", 303)

    @staticmethod
    def _problem(query: dict[str, str]) -> str | None:
        if not query.get("client_id", "").startswith("ca_"):
            return "The client_id is missing or is not a Connect client id (ca_...)."
        if query.get("response_type", "code") != "code":
            return "response_type must be code."
        if query.get("scope", "read_write") not in connect.SCOPES:
            return "scope must be read_write or read_only."
        redirect = urlsplit(query.get("redirect_uri", ""))
        if redirect.scheme not in ("http", "https") or not redirect.netloc:
            return "redirect_uri must be the http(s) URL the platform receives the code at."
        return None

    async def token(self, request: Request) -> Response:
        params = await self._params(request)
        return JSONResponse(connect.token(self.sandbox.store, params))

    async def deauthorize(self, request: Request) -> Response:
        params = await self._params(request)
        return JSONResponse(
            connect.deauthorize(self.sandbox.engine, params, self.sandbox.business_name)
        )

    async def _params(self, request: Request) -> dict[str, Any]:
        """The form of a call made with the platform's secret key (no connected account's)."""
        try:
            params = decode((await request.body()).decode("utf-8", "replace"))
        except FormError as exc:
            raise connect.OAuthError("invalid_request", str(exc)) from exc
        secret = params.get("client_secret")
        if secret:
            key = api_key(f"Bearer {secret}")
        else:
            key = api_key(request.headers.get("authorization"))
        check_key(key, self.sandbox.api_keys)
        return params
