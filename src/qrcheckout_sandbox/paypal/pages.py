"""The approval page (``/checkoutnow?token=ORDER_ID``): the order's items and a button for each
test buyer; approving returns the buyer to the app's ``return_url``, cancelling to its
``cancel_url``, as PayPal does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from qrcheckout_sandbox.pages import TEMPLATES
from qrcheckout_sandbox.paypal import money, orders
from qrcheckout_sandbox.paypal.core import ORDER, Call

if TYPE_CHECKING:
    from qrcheckout_sandbox.paypal.app import PayPalSandbox


class ApprovalPage:
    def __init__(self, sandbox: PayPalSandbox) -> None:
        self.sandbox = sandbox

    def _order(self, request: Request) -> tuple[Call, dict[str, Any]] | None:
        order_id = request.query_params.get("token", "")
        record = self.sandbox.store.record(order_id)
        if record is None or record.kind != ORDER or record.account is None:
            return None
        return self.sandbox.call(record.account), record.obj

    async def show(self, request: Request) -> Response:
        found = self._order(request)
        return self._render(request, found, status=200 if found else 404)

    async def decide(self, request: Request) -> Response:
        found = self._order(request)
        if found is None:
            return self._render(request, None, status=404)
        call, order = found
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            return self._render(request, found, status=409)
        form = await request.form()
        buyer = orders.BUYERS.get(str(form.get("buyer", "")))
        if buyer is None:
            return self._render(request, found, status=400)
        urls = call.store.extra(order["id"])["urls"]
        if buyer.outcome is None:
            cancel = urls.get("cancel_url")
            if cancel:
                return RedirectResponse(_with(cancel, token=order["id"]), status_code=303)
            return self._render(request, found)
        orders.approve(call, order["id"], buyer)
        call.store.commit()
        back = urls.get("return_url")
        if back:
            target = _with(back, token=order["id"], PayerID=buyer.payer_id)
            return RedirectResponse(target, status_code=303)
        return self._render(request, found)

    def _render(
        self, request: Request, found: tuple[Call, dict[str, Any]] | None, *, status: int = 200
    ) -> Response:
        order = found[1] if found else None
        context: dict[str, Any] = {"order": order, "buyers": list(orders.BUYERS.values())}
        if found is not None and order is not None:
            call = found[0]
            urls = call.store.extra(order["id"])["urls"]
            units = order["purchase_units"]
            currency = units[0]["amount"]["currency_code"]
            total = sum(money.read(u["amount"], "/amount")[0] for u in units)
            context |= {
                "total": money.display(total, currency),
                "merchant": urls.get("brand_name") or self.sandbox.business_name,
                "items": [_item(item) for unit in units for item in unit.get("items", [])],
                "return_url": _with(urls["return_url"], token=order["id"])
                if urls.get("return_url")
                else None,
                "action": f"{request.url.path}?{urlencode({'token': order['id']})}",
            }
        return TEMPLATES.TemplateResponse(
            request, "paypal_approve.html", context, status_code=status
        )


def _item(item: dict[str, Any]) -> dict[str, str]:
    unit, currency = money.read(item["unit_amount"], "/unit_amount")
    return {
        "name": item["name"],
        "quantity": item["quantity"],
        "unit": money.display(unit, currency),
        "total": money.display(unit * int(item["quantity"]), currency),
    }


def _with(url: str, **query: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)
