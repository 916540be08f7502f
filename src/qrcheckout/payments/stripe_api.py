"""The only module that imports the ``stripe`` SDK: Stripe, or any server speaking its protocol."""

from __future__ import annotations

import json
from typing import Any

import stripe

from qrcheckout.payments.provider import (
    Charge,
    ChargeRequest,
    CheckoutSession,
    ProviderError,
    ProviderErrorKind,
    Refund,
    RefundRequest,
    RefundStatus,
    SessionRequest,
    WebhookSignatureError,
)

# Stripe accepts a Checkout Session expiry from 30 minutes to 24 hours after creation.
SESSION_EXPIRY_WINDOW = (30 * 60, 24 * 60 * 60)
WEBHOOK_TOLERANCE_SECONDS = 300


class StripeProvider:
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

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict[str, Any]:
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"),
                signature_header,
                self._webhook_secret,
                WEBHOOK_TOLERANCE_SECONDS,
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise WebhookSignatureError(str(exc) or "bad signature") from exc
        event: dict[str, Any] = json.loads(payload)
        return event

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
        raise ProviderError(
            message,
            kind=kind,
            code=code,
            decline_code=error.decline_code if error is not None else None,
            param=error.param if error is not None else None,
        ) from exc


def _kind(exc: stripe.StripeError) -> ProviderErrorKind:
    # The SDK's error classes already sort Stripe's answers: a card error, an idempotency
    # clash, no answer or a failure on Stripe's side, and every other refusal of the request.
    if isinstance(exc, stripe.CardError):
        return ProviderErrorKind.DECLINED
    # Stripe answers a clash of concurrent requests as a conflict, which the SDK calls APIError.
    if isinstance(exc, stripe.IdempotencyError) or (
        exc.error is not None and exc.error.type == "idempotency_error"
    ):
        return ProviderErrorKind.CONFLICT
    if isinstance(exc, stripe.APIConnectionError | stripe.APIError):
        return ProviderErrorKind.UNAVAILABLE
    return ProviderErrorKind.REFUSED


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
