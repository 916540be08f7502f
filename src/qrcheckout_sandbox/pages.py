"""The hosted checkout page: a plain HTML form that works without JavaScript."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qrcheckout_sandbox import checkout
from qrcheckout_sandbox.cards import CardInputError, parse_card
from qrcheckout_sandbox.money import display

if TYPE_CHECKING:
    from qrcheckout_sandbox.app import Sandbox

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SHIPPING_FIELDS = ("name", "line1", "city", "postal_code", "country")


class PayPage:
    """``/pay/{session_id}``: the session's items and a card form; paying redirects to success."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def _session(self, session_id: str) -> dict[str, Any] | None:
        record = self.sandbox.store.record(session_id)
        return record.obj if record is not None and record.kind == "checkout.session" else None

    async def show(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        return self._render(request, session, status=200 if session else 404)

    async def pay(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        if session is None:
            return self._render(request, None, status=404)
        if session["status"] != "open":
            return self._render(request, session, status=409)
        form = await request.form()
        names = ("number", "expiry", "cvc", "email", *(f"ship_{f}" for f in SHIPPING_FIELDS))
        fields = {k: str(form.get(k, "")).strip() for k in names}
        email = fields["email"] or (session.get("customer_email") or "")
        try:
            _check_email(email)
            shipping = _shipping(session, fields)
            card = parse_card(
                fields["number"],
                fields["expiry"],
                fields["cvc"],
                date.today(),
                self.sandbox.engine.hash_key,
            )
        except CardInputError as exc:
            return self._render(
                request, session, error=exc.message, field=exc.field, values=fields, status=400
            )
        ctx = self.sandbox.ctx_for(session_id)
        decline = checkout.pay_session(ctx, session_id, card, email, shipping)
        self.sandbox.store.commit()
        if decline is not None:
            return self._render(
                request, session, error=decline.message, field="number", values=fields, status=402
            )
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
        return RedirectResponse(target, status_code=303)

    def _render(
        self,
        request: Request,
        session: dict[str, Any] | None,
        *,
        error: str = "",
        field: str = "",
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        items = self.sandbox.line_items(session["id"]) if session else []
        merchant = self.sandbox.business_name
        if session is not None:
            record = self.sandbox.store.record(session["id"])
            if record is not None and record.account is not None:
                account = self.sandbox.store.record(record.account)
                profile = (account.obj.get("business_profile") or {}) if account else {}
                merchant = profile.get("name") or merchant
        # The form comes back filled in after a refusal, but for its CVC, which is never kept.
        values = {k: v for k, v in (values or {}).items() if k != "cvc"}
        context = {
            "session": session,
            "items": items,
            "total": display(session["amount_total"], session["currency"]) if session else "",
            "money": display,
            "merchant": merchant,
            "countries": (
                (session.get("shipping_address_collection") or {}).get("allowed_countries")
                if session
                else None
            ),
            "error": error,
            "field": field,
            "values": values,
            "action": str(request.url.path),
        }
        return TEMPLATES.TemplateResponse(request, "pay.html", context, status_code=status)


def _check_email(email: str) -> None:
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        raise CardInputError("email", "Your email address is invalid.")


def _shipping(session: dict[str, Any], fields: dict[str, str]) -> dict[str, str] | None:
    """The address typed, when the session collects one: complete, in an allowed country."""
    allowed = (session.get("shipping_address_collection") or {}).get("allowed_countries")
    if not allowed:
        return None
    shipping = {f: fields[f"ship_{f}"] for f in SHIPPING_FIELDS}
    for name in SHIPPING_FIELDS:
        if not shipping[name]:
            raise CardInputError(f"ship_{name}", "Your shipping address is incomplete.")
    if shipping["country"] not in allowed:
        raise CardInputError("ship_country", "We can't ship to that country.")
    return shipping
