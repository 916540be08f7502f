"""The only module that imports the ``stripe`` SDK: Stripe, or any server speaking its protocol."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import stripe

from qrcheckout.payments.events import (
    ChargeRefunded,
    ChargeSucceeded,
    CheckoutExpired,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutProcessing,
    ProviderEvent,
    RefundChanged,
    RefundSeen,
    WebhookEvent,
)
from qrcheckout.payments.provider import (
    Charge,
    ChargeRequest,
    CheckoutSession,
    ProviderError,
    ProviderErrorKind,
    ProviderProblem,
    Refund,
    RefundRequest,
    RefundStatus,
    SessionRequest,
    WebhookRejected,
)

# Stripe accepts a Checkout Session expiry from 30 minutes to 24 hours after creation.
SESSION_EXPIRY_WINDOW = (30 * 60, 24 * 60 * 60)
WEBHOOK_TOLERANCE_SECONDS = 300


class StripeProvider:
    name = "stripe"
    supports_session_expiry = True
    session_expiry_window = SESSION_EXPIRY_WINDOW

    def __init__(self, api_key: str, webhook_secret: str, api_base: str | None = None) -> None:
        self._webhook_secret = webhook_secret
        self._http = stripe.HTTPXClient()
        base: Any = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(
            api_key, base_addresses=base, http_client=self._http, max_network_retries=2
        )

    async def create_checkout_session(self, request: SessionRequest) -> CheckoutSession:
        params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": item.quantity,
                    "price_data": {
                        "currency": request.currency,
                        "unit_amount": item.unit_amount,
                        "product_data": {"name": item.name}
                        | ({"description": item.description} if item.description else {})
                        | ({"images": list(item.images)} if item.images else {}),
                    },
                }
                for item in request.line_items
            ],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": dict(request.metadata),
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        if request.expires_at is not None:
            params["expires_at"] = request.expires_at
        if request.shipping_countries:
            params["shipping_address_collection"] = {
                "allowed_countries": list(request.shipping_countries)
            }
        if request.client_reference_id:
            params["client_reference_id"] = request.client_reference_id
        options: Any = {"idempotency_key": request.idempotency_key}
        return _to_session(
            await _call(self._client.v1.checkout.sessions.create_async(params, options))
        )

    async def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        return _to_session(
            await _call(self._client.v1.checkout.sessions.retrieve_async(session_id))
        )

    async def expire_checkout_session(self, session_id: str) -> CheckoutSession:
        return _to_session(await _call(self._client.v1.checkout.sessions.expire_async(session_id)))

    async def charge(self, request: ChargeRequest) -> Charge:
        params: Any = {
            "amount": request.amount,
            "currency": request.currency,
            "source": request.source,
            "metadata": dict(request.metadata),
        }
        if request.description:
            params["description"] = request.description
        options: Any = {"idempotency_key": request.idempotency_key}
        obj = (await _call(self._client.v1.charges.create_async(params, options))).to_dict()
        return Charge(
            id=obj["id"],
            status=obj.get("status") or "pending",
            amount=obj["amount"],
            currency=obj["currency"],
            payment_intent=_id(obj.get("payment_intent")),
        )

    async def refund(self, request: RefundRequest) -> Refund:
        target = "payment_intent" if request.payment.startswith("pi_") else "charge"
        params: Any = {target: request.payment, "metadata": dict(request.metadata)}
        if request.amount is not None:
            params["amount"] = request.amount
        options: Any = {"idempotency_key": request.idempotency_key}
        obj = (await _call(self._client.v1.refunds.create_async(params, options))).to_dict()
        return Refund(
            id=obj["id"],
            status=refund_status(obj.get("status")),
            amount=obj["amount"],
            currency=obj["currency"],
        )

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"),
                headers.get("stripe-signature"),
                self._webhook_secret,
                WEBHOOK_TOLERANCE_SECONDS,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise WebhookRejected(
                "invalid_signature", f"Webhook signature rejected: {str(exc) or 'bad signature'}"
            ) from exc
        return self.read_webhook(payload)

    def read_webhook(self, payload: bytes) -> WebhookEvent:
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise WebhookRejected("invalid_json", "The webhook body is not valid JSON.") from exc
        event_id, event_type = _envelope(event)
        created = event.get("created")
        return WebhookEvent(
            id=event_id,
            type=event_type,
            created=created if isinstance(created, int) else None,
            payload=event,
        )

    def changes(self, event: WebhookEvent) -> tuple[ProviderEvent, ...]:
        read = _READERS.get(event.type)
        change = read(event.type, event.payload["data"]["object"]) if read else None
        return (change,) if change is not None else ()

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


async def _call(pending: Any) -> Any:
    try:
        return await pending
    except stripe.StripeError as exc:
        error = exc.error
        kind = _kind(exc)
        code = (error.code if error is not None else None) or (
            "idempotency_error" if kind == ProviderErrorKind.CONFLICT else type(exc).__name__
        )
        message = (error.message if error is not None else None) or exc.user_message or str(exc)
        param = error.param if error is not None else None
        raise ProviderError(
            message,
            kind=kind,
            code=code,
            decline_code=error.decline_code if error is not None else None,
            param=param,
            problem=_PROBLEMS.get(code)
            or (ProviderProblem.CURRENCY if param == "currency" else None),
        ) from exc


def _kind(exc: stripe.StripeError) -> ProviderErrorKind:
    # Never answered (no connection, or refused by the SDK itself, as a missing key is): the
    # service cannot reach its provider, whatever the error's class.
    if exc.http_status is None:
        return ProviderErrorKind.UNAVAILABLE
    if isinstance(exc, stripe.CardError):
        return ProviderErrorKind.DECLINED
    # Stripe answers a clash of concurrent requests as a conflict, which the SDK calls APIError.
    if isinstance(exc, stripe.IdempotencyError) or (
        exc.error is not None and exc.error.type == "idempotency_error"
    ):
        return ProviderErrorKind.CONFLICT
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderErrorKind.UNAVAILABLE
    # The SDK calls every answer it has no class for an APIError: a client error among them
    # is still Stripe refusing the request.
    if isinstance(exc, stripe.APIError) and not httpx.codes.is_client_error(exc.http_status):
        return ProviderErrorKind.UNAVAILABLE
    return ProviderErrorKind.REFUSED


# Stripe's codes for refusals the domain acts on.
_PROBLEMS = {"charge_already_refunded": ProviderProblem.ALREADY_REFUNDED}


def refund_status(value: Any) -> RefundStatus:
    """Stripe's refund status; one it has not documented yet counts as pending."""
    try:
        return RefundStatus(value)
    except ValueError:
        return RefundStatus.PENDING


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _to_session(resource: Any) -> CheckoutSession:
    obj = resource.to_dict()
    payment_intent = _id(obj.get("payment_intent"))
    return CheckoutSession(
        id=obj["id"],
        url=obj.get("url"),
        status=obj.get("status") or "open",
        payment_status=obj.get("payment_status") or "unpaid",
        amount_total=obj.get("amount_total"),
        currency=obj.get("currency"),
        expires_at=obj.get("expires_at"),
        payment_intent=payment_intent,
        metadata=dict(obj.get("metadata") or {}),
    )


# -- webhooks: Stripe's events as typed changes ------------------------------------------------


def _envelope(event: Any) -> tuple[str, str]:
    if not isinstance(event, dict):
        raise WebhookRejected("invalid_event", "The webhook body is not an event object.")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise WebhookRejected("invalid_event", "The event has no valid id.")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookRejected("invalid_event", "The event has no type.")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("invalid_event", "The event has no data.object.")
    return event_id, event_type


def _session_change(event_type: str, obj: dict[str, Any]) -> ProviderEvent | None:
    session_id = obj.get("id")
    if not isinstance(session_id, str):
        return None
    # Stripe always sends metadata as a map; anything else fails the event, which is then
    # recorded and retried rather than taken for a session of no token.
    reference = (obj.get("metadata") or {}).get("token_id")
    common: dict[str, Any] = {
        "session_id": session_id,
        "reference": reference if isinstance(reference, str) else None,
        "payment_id": _id(obj.get("payment_intent")),
        "url": obj.get("url") if isinstance(obj.get("url"), str) else None,
    }
    match event_type, obj.get("payment_status"):
        case "checkout.session.completed", "unpaid":
            return CheckoutProcessing(**common)
        case ("checkout.session.completed", "paid") | (
            "checkout.session.async_payment_succeeded",
            _,
        ):
            amount = obj.get("amount_total")
            return CheckoutPaid(
                **common,
                amount=amount if isinstance(amount, int) else None,
                currency=str(obj.get("currency") or "").lower(),
            )
        case "checkout.session.async_payment_failed", _:
            return CheckoutFailed(**common)
        case "checkout.session.expired", _:
            return CheckoutExpired(**common)
    # A completed session that is neither paid nor waiting for its money changes nothing.
    return None


def _charge_succeeded(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    charge_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    payment_id = _id(obj.get("payment_intent")) or charge_id
    if payment_id is None:
        return None
    amount = obj.get("amount")
    metadata = obj.get("metadata")
    order_id = metadata.get("order_id") if isinstance(metadata, dict) else None
    return ChargeSucceeded(
        payment_id=payment_id,
        charge_id=charge_id,
        amount=amount if isinstance(amount, int) else None,
        currency=str(obj.get("currency") or "").lower(),
        order_id=order_id if isinstance(order_id, str) else None,
    )


def _refund(obj: Any) -> RefundSeen | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return None
    return RefundSeen(
        id=obj["id"], amount=int(obj.get("amount") or 0), status=refund_status(obj.get("status"))
    )


def _refund_changed(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    refund = _refund(obj)
    if refund is None:
        return None
    return RefundChanged(
        refund=refund, payment_id=_id(obj.get("payment_intent")), charge_id=_id(obj.get("charge"))
    )


def _charge_refunded(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    refunded = obj.get("amount_refunded")
    listed = (obj.get("refunds") or {}).get("data") or []
    return ChargeRefunded(
        payment_id=_id(obj.get("payment_intent")),
        charge_id=_id(obj.get("id")),
        amount_refunded=refunded if isinstance(refunded, int) else None,
        refunds=tuple(r for r in map(_refund, listed) if r is not None),
    )


_READERS: dict[str, Callable[[str, dict[str, Any]], ProviderEvent | None]] = {
    "checkout.session.completed": _session_change,
    "checkout.session.async_payment_succeeded": _session_change,
    "checkout.session.async_payment_failed": _session_change,
    "checkout.session.expired": _session_change,
    "charge.succeeded": _charge_succeeded,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_changed,
    "refund.updated": _refund_changed,
    "charge.refund.updated": _refund_changed,
}
