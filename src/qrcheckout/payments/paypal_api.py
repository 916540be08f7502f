"""The only module that imports PayPal's SDK (``paypal-server-sdk``) or reads PayPal's field
names: PayPal, or any server speaking its REST protocol, such as the built-in sandbox.

A hosted checkout is a PayPal order (intent ``CAPTURE``): the buyer approves it on PayPal's
page, then the service captures it. The SDK is synchronous (requests underneath), so its calls
run in a thread; it has no webhook calls, so ``verify-webhook-signature`` goes over httpx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from paypalserversdk.api_helper import APIHelper
from paypalserversdk.configuration import Configuration, Environment
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from qrcheckout import money
from qrcheckout.inputs import parse_json
from qrcheckout.payments.events import (
    MAX_EVENT_ID,
    MAX_EVENT_TYPE,
    MAX_OBJECT_ID,
    CheckoutApproved,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutProcessing,
    Mention,
    ProviderEvent,
    RefundChanged,
    RefundSeen,
    WebhookEvent,
)
from qrcheckout.payments.provider import (
    Charge,
    ChargeRequest,
    CheckoutSession,
    LinkedAccount,
    ProviderError,
    ProviderErrorKind,
    ProviderProblem,
    Refund,
    RefundRequest,
    RefundStatus,
    SessionRequest,
    WebhookRejected,
)

LIVE_API = "https://api-m.paypal.com"
SANDBOX_API = "https://api-m.sandbox.paypal.com"
# The currencies PayPal takes, and those it counts in whole units there (Stripe counts HUF and
# TWD in hundredths).
CURRENCIES = frozenset(
    "aud brl cad cny czk dkk eur hkd huf ils jpy myr mxn twd nzd nok php pln gbp sgd sek chf "  # noqa: SIM905
    "thb usd".split()
)
WHOLE_UNITS = frozenset({"huf", "jpy", "twd"})
MAX_CUSTOM_ID = 127
# PayPal keeps an order for three hours before the buyer must have approved it.
ORDER_HOURS = 3
SIGNATURE_HEADERS = (
    "paypal-auth-algo",
    "paypal-cert-url",
    "paypal-transmission-id",
    "paypal-transmission-sig",
    "paypal-transmission-time",
)
_REFUND_STATUSES = {
    "COMPLETED": RefundStatus.SUCCEEDED,
    "PENDING": RefundStatus.PENDING,
    "FAILED": RefundStatus.FAILED,
    "CANCELLED": RefundStatus.CANCELED,
}

T = TypeVar("T")


# -- money -------------------------------------------------------------------------------------


def to_value(amount: int, currency: str) -> str:
    """Minor units as PayPal's decimal string: ``to_value(1050, "usd") == "10.50"``; an amount
    PayPal cannot write in the currency (a fraction of a forint) is refused."""
    places = 0 if currency in WHOLE_UNITS else money.decimals(currency)
    exact = Decimal(amount).scaleb(-money.decimals(currency))
    written = exact.quantize(Decimal(1).scaleb(-places))
    if written != exact:
        raise ProviderError(
            f"PayPal takes {currency.upper()} in whole units only.",
            kind=ProviderErrorKind.REFUSED,
            code="amount_precision",
            param="amount",
        )
    return f"{written:f}"


def from_value(value: Any, currency: str) -> int | None:
    """PayPal's decimal string as minor units; None for anything that is not one."""
    minor = money.minor_units(value, currency)
    return minor if minor is not None and minor <= 2**31 - 1 else None


def _checked_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ProviderError(
            f"PayPal does not take payments in {currency.upper()}.",
            kind=ProviderErrorKind.REFUSED,
            code="currency_not_supported",
            param="currency",
            problem=ProviderProblem.CURRENCY,
        )
    return currency.upper()


# -- the SDK -----------------------------------------------------------------------------------


class _Base(Configuration):  # type: ignore[misc]
    """The SDK's configuration, at any API base (PayPal's, or the sandbox's)."""

    def __init__(self, base: str, **kwargs: Any) -> None:
        self._base = base
        super().__init__(**kwargs)

    def get_base_uri(self, server: Any = None) -> str:
        return self._base


def sdk_client(
    api_base: str, client_id: str, client_secret: str, timeout_seconds: float = 60.0
) -> PaypalServersdkClient:
    """PayPal's SDK pointed at ``api_base`` (PayPal's live API, its sandbox, or the built-in
    one), authenticating with the app's client credentials."""
    credentials = ClientCredentialsAuthCredentials(
        o_auth_client_id=client_id, o_auth_client_secret=client_secret
    )
    base = api_base.rstrip("/")
    return PaypalServersdkClient(
        config=_Base(
            base,
            environment=Environment.PRODUCTION if base == LIVE_API else Environment.SANDBOX,
            timeout=timeout_seconds,
            client_credentials_auth_credentials=credentials,
        )
    )


class PayPalProvider:
    name = "paypal"
    #: An order made to capture cannot be voided: an ended token's order is left to run out,
    #: and money that lands for it anyway is refunded.
    supports_session_expiry = False
    session_expiry_window = (0, ORDER_HOURS * 60 * 60)
    #: The buyer approves an order; the money is taken when the service captures it.
    needs_completion = True
    #: PayPal adds ``token`` (the order's id) and ``PayerID`` to the return URL itself.
    session_id_placeholder: str | None = None

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        webhook_id: str,
        *,
        api_base: str = LIVE_API,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.webhook_id = webhook_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._sdk = sdk_client(self.api_base, client_id, client_secret, timeout_seconds)
        self._http = httpx.AsyncClient(
            base_url=self.api_base, timeout=timeout_seconds, transport=transport
        )
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    async def _sdk_call(self, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except ErrorException as exc:
            raise _provider_error(exc) from exc
        except ApiException as exc:
            raise ProviderError(
                f"PayPal answered {exc.response_code}.",
                kind=_kind(exc.response_code),
                code=f"http_{exc.response_code}",
            ) from exc
        except AuthValidationException as exc:  # no token: the client id or secret is refused
            raise ProviderError(
                "PayPal refused the service's client id and secret.",
                kind=ProviderErrorKind.REFUSED,
                code="authentication_failed",
            ) from exc
        except OSError as exc:  # requests' connection errors and timeouts
            raise _unreachable(exc) from exc

    # -- hosted checkout ----------------------------------------------------------------------

    async def create_checkout_session(self, request: SessionRequest) -> CheckoutSession:
        if request.account is not None:
            raise _unsupported("paying into a linked account")
        currency = _checked_currency(request.currency)
        total = sum(item.unit_amount * item.quantity for item in request.line_items)
        items = [
            {
                "name": item.name[:127],
                "unit_amount": {
                    "currency_code": currency,
                    "value": to_value(item.unit_amount, request.currency),
                },
                "quantity": str(item.quantity),
                **({"description": item.description[:127]} if item.description else {}),
            }
            for item in request.line_items
        ]
        value = to_value(total, request.currency)
        body = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "custom_id": _reference(request),
                    "amount": {
                        "currency_code": currency,
                        "value": value,
                        "breakdown": {"item_total": {"currency_code": currency, "value": value}},
                    },
                    "items": items,
                }
            ],
            "application_context": {
                "return_url": request.success_url,
                "cancel_url": request.cancel_url,
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
            },
        }
        answer = await self._sdk_call(
            lambda: self._sdk.orders.create_order(
                {
                    "body": body,
                    "paypal_request_id": request.idempotency_key[:108],
                    "prefer": "return=representation",
                }
            )
        )
        return _session(_dict(answer.body), request.metadata)

    async def retrieve_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        answer = await self._sdk_call(lambda: self._sdk.orders.get_order({"id": session_id}))
        return _session(_dict(answer.body))

    async def expire_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        # PayPal cannot void an order made to capture; it runs out on its own.
        return await self.retrieve_checkout_session(session_id, account)

    async def complete_checkout_session(
        self, session_id: str, idempotency_key: str, account: str | None = None
    ) -> CheckoutSession:
        """Capture an order the buyer approved; an order captured already is answered as it
        stands."""
        try:
            answer = await self._sdk_call(
                lambda: self._sdk.orders.capture_order(
                    {
                        "id": session_id,
                        "paypal_request_id": idempotency_key[:108],
                        "prefer": "return=representation",
                    }
                )
            )
        except ProviderError as exc:
            if exc.code == "ORDER_ALREADY_CAPTURED":
                return await self.retrieve_checkout_session(session_id, account)
            raise
        return _session(_dict(answer.body))

    async def charge(self, request: ChargeRequest) -> Charge:
        raise _unsupported("charging a card token")

    async def refund(self, request: RefundRequest) -> Refund:
        if request.account is not None:
            raise _unsupported("refunds on a linked account")
        capture = _dict(
            (
                await self._sdk_call(
                    lambda: self._sdk.payments.get_captured_payment({"capture_id": request.payment})
                )
            ).body
        )
        currency = str(capture["amount"]["currency_code"]).lower()
        body: dict[str, Any] = {}
        if request.amount is not None:
            value = to_value(request.amount, currency)
            body["amount"] = {"currency_code": currency.upper(), "value": value}
        options = {
            "capture_id": request.payment,
            "paypal_request_id": request.idempotency_key[:108],
            "prefer": "return=representation",
            "body": body,
        }
        try:
            answer = await self._sdk_call(
                lambda: self._sdk.payments.refund_captured_payment(options)
            )
        except ProviderError as exc:
            if exc.code == "CAPTURE_FULLY_REFUNDED":
                exc.problem = ProviderProblem.ALREADY_REFUNDED
            raise
        refund = _dict(answer.body)
        amount = from_value(refund["amount"]["value"], currency)
        return Refund(
            id=str(refund["id"]),
            status=_REFUND_STATUSES.get(str(refund.get("status")), RefundStatus.PENDING),
            amount=amount or 0,
            currency=currency,
        )

    # -- linked accounts: PayPal's partner onboarding is not supported ------------------------

    def link_url(self, client_id: str, state: str, redirect_uri: str) -> str:
        raise _unsupported("linking a merchant's own account")

    async def link_account(self, code: str) -> LinkedAccount:
        raise _unsupported("linking a merchant's own account")

    async def unlink_account(self, client_id: str, account_id: str) -> None:
        raise _unsupported("linking a merchant's own account")

    # -- webhooks -----------------------------------------------------------------------------

    async def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Ask PayPal whether it sent this delivery to this service's webhook (its documented
        check): anything but SUCCESS is refused before anything is stored."""
        missing = [name for name in SIGNATURE_HEADERS if not headers.get(name)]
        if missing:
            raise WebhookRejected("invalid_signature", f"No {missing[0].upper()} header.")
        event = self.read_webhook(payload)
        check = {
            name.removeprefix("paypal-").replace("-", "_"): headers[name]
            for name in SIGNATURE_HEADERS
        } | {"webhook_id": self.webhook_id}
        # The event goes back as the bytes PayPal sent, not re-encoded: PayPal's check is over
        # what it sent.
        try:
            raw = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WebhookRejected("invalid_json", "The webhook body is not UTF-8.") from exc
        fields = json.dumps(check)
        body = f'{fields[:-1]}, "webhook_event": {raw}}}'.encode()
        answer = await self._verify(body)
        if answer.status_code == 401:  # a token revoked early: a new one, once
            self._token = None
            answer = await self._verify(body)
        verdict = answer.json().get("verification_status") if answer.status_code == 200 else None
        if verdict != "SUCCESS":
            raise WebhookRejected("invalid_signature", "PayPal did not confirm this webhook.")
        return event

    async def _verify(self, body: bytes) -> httpx.Response:
        try:
            answer = await self._http.post(
                "/v1/notifications/verify-webhook-signature",
                content=body,
                headers={
                    "Authorization": f"Bearer {await self._access_token()}",
                    "Content-Type": "application/json",
                },
            )
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        if answer.status_code >= 500:
            raise ProviderError(
                "PayPal could not check a webhook now.",
                kind=ProviderErrorKind.UNAVAILABLE,
                code=f"http_{answer.status_code}",
            )
        return answer

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
            try:
                answer = await self._http.post(
                    "/v1/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {basic}"},
                )
            except httpx.HTTPError as exc:
                raise _unreachable(exc) from exc
            if answer.status_code != 200:
                raise ProviderError(
                    "PayPal refused the service's client id and secret.",
                    kind=_kind(answer.status_code),
                    code="authentication_failed",
                )
            body = answer.json()
            # Renewed a minute early, so a token never lapses on its way.
            lifetime = max(float(body.get("expires_in", 0)) - 60, 0)
            self._token = (str(body["access_token"]), time.monotonic() + lifetime)
            return self._token[0]

    def read_webhook(self, payload: bytes) -> WebhookEvent:
        try:
            event = parse_json(payload)
        except ValueError as exc:
            raise WebhookRejected("invalid_json", "The webhook body is not JSON.") from exc
        if not isinstance(event, dict):
            raise WebhookRejected("invalid_event", "The webhook is not an event.")
        event_id, event_type = event.get("id"), event.get("event_type")
        if not _printable(event_id, MAX_EVENT_ID) or not _printable(event_type, MAX_EVENT_TYPE):
            raise WebhookRejected("invalid_event", "The event's id or type cannot be stored.")
        return WebhookEvent(
            id=str(event_id),
            type=str(event_type),
            created=_created(event.get("create_time")),
            payload=event,
        )

    def changes(self, event: WebhookEvent) -> tuple[ProviderEvent, ...]:
        reader = _READERS.get(event.type)
        if reader is None:
            return ()
        resource = event.payload.get("resource")
        if not isinstance(resource, dict):
            raise WebhookRejected("unreadable_event", f"{event.type} carries no resource.")
        try:
            return (reader(resource),)
        except (KeyError, TypeError, ValueError) as exc:
            raise WebhookRejected(
                "unreadable_event", f"{event.type}'s resource is not PayPal's: {exc!r}"
            ) from exc

    @property
    def event_types(self) -> frozenset[str]:
        return _EVENT_TYPES

    def mentions(self, event: WebhookEvent) -> Mention:
        resource = event.payload.get("resource")
        if not isinstance(resource, dict):
            return Mention()
        units = resource.get("purchase_units")
        custom = (
            units[0].get("custom_id")
            if isinstance(units, list) and units and isinstance(units[0], dict)
            else resource.get("custom_id")
        )
        token_id, order_id = _references(custom)
        return Mention(token_id=token_id, order_id=order_id)

    async def aclose(self) -> None:
        await self._http.aclose()
        # The SDK's requests session, which keeps its connections open.
        await asyncio.to_thread(self._sdk.config.http_client.session.close)


# -- reading PayPal's objects ------------------------------------------------------------------


def _dict(model: Any) -> dict[str, Any]:
    """An SDK model as the JSON PayPal sent."""
    found: dict[str, Any] = APIHelper.to_dictionary(model)
    return found


def _reference(request: SessionRequest) -> str:
    """What the order carries back in ``custom_id``: the token and order it was opened for."""
    parts = [f"t={request.client_reference_id}"] if request.client_reference_id else []
    if request.metadata.get("order_id"):
        parts.append(f"o={request.metadata['order_id']}")
    reference = ";".join(parts) or "-"
    if len(reference) > MAX_CUSTOM_ID:
        raise ProviderError(
            "The token and order ids are too long for PayPal's custom_id.",
            kind=ProviderErrorKind.REFUSED,
            code="reference_too_long",
        )
    return reference


def _references(custom: Any) -> tuple[str | None, str | None]:
    if not isinstance(custom, str):
        return None, None
    found = dict(part.split("=", 1) for part in custom.split(";") if "=" in part)
    token, order = found.get("t"), found.get("o")
    return (
        token if _printable(token, MAX_OBJECT_ID) else None,
        order if _printable(order, MAX_OBJECT_ID) else None,
    )


def _session(order: dict[str, Any], metadata: Mapping[str, str] | None = None) -> CheckoutSession:
    unit = order["purchase_units"][0]
    currency = str(unit["amount"]["currency_code"]).lower()
    captures = (unit.get("payments") or {}).get("captures") or []
    capture = captures[-1] if captures else None
    status = str(order["status"])
    taken = capture["status"] if capture is not None else None
    if status == "COMPLETED" and taken in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"):
        state, paid = "complete", "paid"
    elif status == "COMPLETED" and taken == "PENDING":
        state, paid = "complete", "unpaid"  # captured; the money is still settling
    elif status in ("COMPLETED", "VOIDED"):
        state, paid = "expired", "unpaid"  # the capture was denied, or the order voided
    else:
        state, paid = "open", "unpaid"
    approve = next(
        (
            link["href"]
            for link in order.get("links", [])
            if link["rel"] in ("approve", "payer-action")
        ),
        None,
    )
    token_id, order_id = _references(unit.get("custom_id"))
    known = {"token_id": token_id, "order_id": order_id}
    return CheckoutSession(
        id=str(order["id"]),
        url=approve,
        status=state,
        payment_status=paid,
        amount_total=from_value(unit["amount"]["value"], currency),
        currency=currency,
        expires_at=None,
        payment_intent=str(capture["id"]) if capture is not None else None,
        metadata=dict(metadata) if metadata is not None else {k: v for k, v in known.items() if v},
    )


def _capture_change(resource: dict[str, Any]) -> ProviderEvent:
    order_id = resource["supplementary_data"]["related_ids"]["order_id"]
    token_id, _ = _references(resource.get("custom_id"))
    currency = str(resource["amount"]["currency_code"]).lower()
    session_id, payment_id = _object_id(order_id), _object_id(resource["id"])
    status = resource["status"]
    if status == "COMPLETED":
        return CheckoutPaid(
            session_id=session_id,
            reference=token_id,
            payment_id=payment_id,
            amount=from_value(resource["amount"]["value"], currency),
            currency=currency,
        )
    kind = CheckoutProcessing if status == "PENDING" else CheckoutFailed
    return kind(session_id=session_id, reference=token_id, payment_id=payment_id)


def _approved(resource: dict[str, Any]) -> ProviderEvent:
    token_id, _ = _references(resource["purchase_units"][0].get("custom_id"))
    return CheckoutApproved(session_id=_object_id(resource["id"]), reference=token_id)


def _refunded(resource: dict[str, Any]) -> ProviderEvent:
    up = next(link["href"] for link in resource["links"] if link["rel"] == "up")
    capture_id = _object_id(up.rstrip("/").rsplit("/", 1)[1])
    currency = str(resource["amount"]["currency_code"]).lower()
    amount = from_value(resource["amount"]["value"], currency)
    if amount is None:
        raise ValueError("refund amount")
    seen = RefundSeen(
        id=_object_id(resource["id"]),
        amount=amount,
        status=_REFUND_STATUSES.get(str(resource.get("status")), RefundStatus.PENDING),
    )
    return RefundChanged(refund=seen, payment_id=capture_id, charge_id=None)


_READERS: dict[str, Callable[[dict[str, Any]], ProviderEvent]] = {
    "CHECKOUT.ORDER.APPROVED": _approved,
    "PAYMENT.CAPTURE.COMPLETED": _capture_change,
    "PAYMENT.CAPTURE.PENDING": _capture_change,
    "PAYMENT.CAPTURE.DENIED": _capture_change,
    "PAYMENT.CAPTURE.REFUNDED": _refunded,
}
_EVENT_TYPES = frozenset(_READERS)


def _object_id(value: Any) -> str:
    if not _printable(value, MAX_OBJECT_ID):
        raise ValueError(f"not an id: {value!r}")
    return str(value)


def _printable(value: Any, longest: int) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= longest
        and value.isascii()
        and value.isprintable()
    )


def _created(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        seconds = int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 2**31 else None


def _kind(status: int) -> ProviderErrorKind:
    if status >= 500 or status in (408, 429):
        return ProviderErrorKind.UNAVAILABLE
    if status == 409:
        return ProviderErrorKind.CONFLICT
    return ProviderErrorKind.REFUSED


_DECLINES = frozenset({"INSTRUMENT_DECLINED", "PAYER_CANNOT_PAY", "TRANSACTION_REFUSED"})


def _provider_error(exc: ErrorException) -> ProviderError:
    details = getattr(exc, "details", None) or []
    first = details[0] if details else None
    issue = getattr(first, "issue", None) or getattr(exc, "name", None) or "paypal_error"
    description = getattr(first, "description", None) or getattr(exc, "message", None) or str(exc)
    field = getattr(first, "field", None)
    kind = ProviderErrorKind.DECLINED if issue in _DECLINES else _kind(exc.response_code)
    return ProviderError(str(description), kind=kind, code=str(issue), param=field)


def _unreachable(exc: Exception) -> ProviderError:
    return ProviderError(
        f"PayPal could not be reached: {type(exc).__name__}.",
        kind=ProviderErrorKind.UNAVAILABLE,
        code="unreachable",
    )


def _unsupported(what: str) -> ProviderError:
    return ProviderError(
        f"PayPal is not offered for {what}.",
        kind=ProviderErrorKind.REFUSED,
        code="not_supported",
    )
