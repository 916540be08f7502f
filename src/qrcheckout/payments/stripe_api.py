"""The only module that imports the ``stripe`` SDK: Stripe, or any server speaking its protocol."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import httpx
import stripe

from qrcheckout.inputs import has_control_characters, is_name, parse_json
from qrcheckout.payments.events import (
    MAX_EVENT_AMOUNT,
    MAX_EVENT_ID,
    MAX_EVENT_TYPE,
    MAX_OBJECT_ID,
    AccountUnlinked,
    ChargeRefunded,
    ChargeSucceeded,
    CheckoutExpired,
    CheckoutFailed,
    CheckoutPaid,
    CheckoutProcessing,
    Mention,
    PaymentDeclined,
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

# Stripe accepts a Checkout Session expiry from 30 minutes to 24 hours after creation.
SESSION_EXPIRY_WINDOW = (30 * 60, 24 * 60 * 60)
WEBHOOK_TOLERANCE_SECONDS = 300


class StripeProvider:
    name = "stripe"
    supports_session_expiry = True
    session_expiry_window = SESSION_EXPIRY_WINDOW
    needs_completion = False
    session_id_placeholder: str | None = "{CHECKOUT_SESSION_ID}"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        *,
        connect_webhook_secret: str | None = None,
    ) -> None:
        # A Connect endpoint (events of linked accounts) signs with a secret of its own.
        self._webhook_secrets = [webhook_secret, *filter(None, [connect_webhook_secret])]
        # The SDK's OAuth calls are synchronous only: they run on a thread, on this client.
        self._http = stripe.HTTPXClient(allow_sync_methods=True)
        # Without a base, Stripe itself: its API and, for OAuth, connect.stripe.com.
        base: Any = (
            {"api": api_base.rstrip("/"), "connect": api_base.rstrip("/")} if api_base else None
        )
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
        # The payment made through it names the token too: its declines are told by it.
        intent: dict[str, Any] = {"metadata": dict(request.metadata)}
        if request.application_fee:
            intent["application_fee_amount"] = request.application_fee
        params["payment_intent_data"] = intent
        options = _options(request.account, request.idempotency_key)
        return _to_session(
            await _call(self._client.v1.checkout.sessions.create_async(params, options))
        )

    async def retrieve_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        return _to_session(
            await _call(
                self._client.v1.checkout.sessions.retrieve_async(
                    session_id, options=_options(account)
                )
            )
        )

    async def expire_checkout_session(
        self, session_id: str, account: str | None = None
    ) -> CheckoutSession:
        return _to_session(
            await _call(
                self._client.v1.checkout.sessions.expire_async(
                    session_id, options=_options(account)
                )
            )
        )

    async def complete_checkout_session(
        self, session_id: str, idempotency_key: str, account: str | None = None
    ) -> CheckoutSession:
        # A Checkout Session takes the money itself once the buyer pays: nothing to ask for.
        return await self.retrieve_checkout_session(session_id, account)

    async def charge(self, request: ChargeRequest) -> Charge:
        params: Any = {
            "amount": request.amount,
            "currency": request.currency,
            "source": request.source,
            "metadata": dict(request.metadata),
        }
        if request.description:
            params["description"] = request.description
        if request.application_fee:
            params["application_fee_amount"] = request.application_fee
        options = _options(request.account, request.idempotency_key)
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
        if request.account is not None:
            params["refund_application_fee"] = True
        options = _options(request.account, request.idempotency_key)
        obj = (await _call(self._client.v1.refunds.create_async(params, options))).to_dict()
        return Refund(
            id=obj["id"],
            status=refund_status(obj.get("status")),
            amount=obj["amount"],
            currency=obj["currency"],
        )

    def link_url(self, client_id: str, state: str, redirect_uri: str) -> str:
        return self._client.oauth.authorize_url(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "read_write",
                "state": state,
                "redirect_uri": redirect_uri,
            }
        )

    async def link_account(self, code: str) -> LinkedAccount:
        answer = await _call_oauth(
            self._client.oauth.token, {"grant_type": "authorization_code", "code": code}
        )
        return LinkedAccount(
            account_id=answer["stripe_user_id"],
            publishable_key=answer.get("stripe_publishable_key"),
            scope=answer.get("scope"),
            livemode=bool(answer.get("livemode")),
        )

    async def unlink_account(self, client_id: str, account_id: str) -> None:
        await _call_oauth(
            self._client.oauth.deauthorize, {"client_id": client_id, "stripe_user_id": account_id}
        )

    async def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        problem: Exception | None = None
        for secret in self._webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    payload.decode("utf-8"),
                    headers.get("stripe-signature"),
                    secret,
                    WEBHOOK_TOLERANCE_SECONDS,
                )
            except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
                problem = problem or exc
                continue
            return self.read_webhook(payload)
        raise WebhookRejected(
            "invalid_signature", f"Webhook signature rejected: {str(problem) or 'bad signature'}"
        ) from problem

    def read_webhook(self, payload: bytes) -> WebhookEvent:
        try:
            event = parse_json(payload)
        except ValueError as exc:  # not JSON, not UTF-8, or nested too deep
            raise WebhookRejected("invalid_json", "The webhook body is not valid JSON.") from exc
        event_id, event_type, account = _envelope(event)
        created = event.get("created")
        return WebhookEvent(
            id=event_id,
            type=event_type,
            created=created if _is_int(created) and 0 <= created < 2**31 else None,
            payload=event,
            account=account,
        )

    def changes(self, event: WebhookEvent) -> tuple[ProviderEvent, ...]:
        # Raises WebhookRejected("unreadable_event") for an object not in Stripe's shape.
        if event.type == "account.application.deauthorized":
            return (AccountUnlinked(account=event.account),) if event.account else ()
        read = _READERS.get(event.type)
        change = read(event.type, event.payload["data"]["object"]) if read else None
        if change is None:
            return ()
        return (dataclasses.replace(change, account=event.account),)

    @property
    def event_types(self) -> frozenset[str]:
        return _EVENT_TYPES

    def mentions(self, event: WebhookEvent) -> Mention:
        obj = event.payload["data"]["object"]
        try:
            metadata = _metadata(obj)
            return Mention(
                token_id=_object_id(metadata.get("token_id"), "metadata.token_id"),
                order_id=_object_id(metadata.get("order_id"), "metadata.order_id"),
                account=event.account,
            )
        except WebhookRejected:
            return Mention(account=event.account)

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]
        self._http.close()  # type: ignore[no-untyped-call]  # the OAuth calls' client


async def _call(pending: Any) -> Any:
    try:
        return await pending
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def _provider_error(exc: stripe.StripeError) -> ProviderError:
    error = exc.error
    kind = _kind(exc)
    code = (error.code if error is not None else None) or (
        "idempotency_error" if kind == ProviderErrorKind.CONFLICT else type(exc).__name__
    )
    message = (error.message if error is not None else None) or exc.user_message or str(exc)
    param = error.param if error is not None else None
    return ProviderError(
        message,
        kind=kind,
        code=code,
        decline_code=error.decline_code if error is not None else None,
        param=param,
        problem=_PROBLEMS.get(code) or (ProviderProblem.CURRENCY if param == "currency" else None),
    )


def _options(account: str | None, idempotency_key: str | None = None) -> Any:
    """Request options: on a linked account (``Stripe-Account``), with an idempotency key."""
    options: dict[str, str] = {}
    if account is not None:
        options["stripe_account"] = account
    if idempotency_key is not None:
        options["idempotency_key"] = idempotency_key
    return options


async def _call_oauth(method: Callable[[Any], Any], params: dict[str, str]) -> dict[str, Any]:
    """A Connect OAuth call of the SDK (synchronous), run off the event loop."""
    try:
        answer = await asyncio.to_thread(method, params)
    except stripe.oauth_error.OAuthError as exc:
        raise ProviderError(
            exc.user_message or str(exc),
            kind=ProviderErrorKind.REFUSED
            if exc.http_status is not None
            else ProviderErrorKind.UNAVAILABLE,
            code=exc.code or "oauth_error",
        ) from exc
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc
    result: dict[str, Any] = answer.to_dict()
    return result


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


def _envelope(event: Any) -> tuple[str, str, str | None]:
    """The event's id, type and linked account, as the intake can store them: else
    WebhookRejected, before anything is stored."""
    if not isinstance(event, dict):
        raise WebhookRejected("invalid_event", "The webhook body is not an event object.")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not _is_name(event_id, MAX_EVENT_ID):
        raise WebhookRejected(
            "invalid_event",
            f"The event has no valid id: 1 to {MAX_EVENT_ID} printable ASCII characters.",
        )
    if not _is_name(event_type, MAX_EVENT_TYPE):
        raise WebhookRejected(
            "invalid_event",
            f"The event has no valid type: 1 to {MAX_EVENT_TYPE} printable ASCII characters.",
        )
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("invalid_event", "The event has no data.object.")
    account = event.get("account")
    if account is not None and not _is_name(account, MAX_OBJECT_ID):
        raise WebhookRejected("invalid_event", "The event's account is not an account id.")
    return event_id, event_type, account


# -- reading an event's object --------------------------------------------------------------
# Stripe's objects have a known shape. A field the domain reads that is absent or null reads as
# unknown (None); one that is there in another shape (metadata that is not a map of strings, an
# id that is not a short ASCII string) makes the whole event unreadable: ``changes`` raises
# WebhookRejected("unreadable_event"), which no retry of the same event can change.


def _unreadable(field: str, should_be: str) -> WebhookRejected:
    return WebhookRejected(
        "unreadable_event", f"The event's data.object.{field} is not {should_be}."
    )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name(value: Any, longest: int) -> TypeGuard[str]:
    return is_name(value, longest) and value.isascii()


def _object_id(value: Any, field: str) -> str | None:
    """A Stripe id, or an expanded object's; None when absent."""
    if isinstance(value, dict):
        value, field = value.get("id"), field + ".id"
    if value is None:
        return None
    if not _is_name(value, MAX_OBJECT_ID):
        raise _unreadable(field, f"an id (1 to {MAX_OBJECT_ID} printable ASCII characters)")
    return value


def _map(obj: dict[str, Any], field: str) -> dict[str, Any]:
    value = obj.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _unreadable(field, "an object")
    return value


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    metadata = _map(obj, "metadata")
    if not all(isinstance(value, str) for value in metadata.values()):
        raise _unreadable("metadata", "a map of strings")
    return metadata


def _text(obj: dict[str, Any], field: str) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or has_control_characters(value):
        raise _unreadable(field, "text")
    return value


def _amount(obj: dict[str, Any], field: str) -> int | None:
    value = obj.get(field)
    return value if _is_int(value) and 0 <= value <= MAX_EVENT_AMOUNT else None


def _currency(obj: dict[str, Any]) -> str:
    value = obj.get("currency")
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.lower()
    return ""  # unknown: matches no currency asked for


def _session_change(event_type: str, obj: dict[str, Any]) -> ProviderEvent | None:
    session_id = _object_id(obj.get("id"), "id")
    if session_id is None:
        return None
    common: dict[str, Any] = {
        "session_id": session_id,
        "reference": _object_id(_metadata(obj).get("token_id"), "metadata.token_id"),
        "payment_id": _object_id(obj.get("payment_intent"), "payment_intent"),
        "url": _text(obj, "url"),
    }
    match event_type, obj.get("payment_status"):
        case "checkout.session.completed", "unpaid":
            return CheckoutProcessing(**common)
        case ("checkout.session.completed", "paid") | (
            "checkout.session.async_payment_succeeded",
            _,
        ):
            return CheckoutPaid(
                **common, amount=_amount(obj, "amount_total"), currency=_currency(obj)
            )
        case "checkout.session.async_payment_failed", _:
            return CheckoutFailed(**common)
        case "checkout.session.expired", _:
            return CheckoutExpired(**common)
    # A completed session that is neither paid nor waiting for its money changes nothing.
    return None


def _payment_failed(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    """A declined attempt at a session's PaymentIntent (it stays open for another card)."""
    reference = _object_id(_metadata(obj).get("token_id"), "metadata.token_id")
    if reference is None:
        return None
    error = _map(obj, "last_payment_error")
    message = error.get("message") if isinstance(error.get("message"), str) else None
    return PaymentDeclined(
        reference=reference,
        payment_id=_object_id(obj.get("id"), "id"),
        message=(message or "The payment was declined.")[:300],
    )


def _charge_succeeded(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    charge_id = _object_id(obj.get("id"), "id")
    payment_id = _object_id(obj.get("payment_intent"), "payment_intent") or charge_id
    if payment_id is None:
        return None
    return ChargeSucceeded(
        payment_id=payment_id,
        charge_id=charge_id,
        amount=_amount(obj, "amount"),
        currency=_currency(obj),
        order_id=_object_id(_metadata(obj).get("order_id"), "metadata.order_id"),
    )


def _refund(obj: Any, at: str = "") -> RefundSeen | None:
    """A refund object (``at`` is its place in the event's object, ``refunds.data.0.``)."""
    if not isinstance(obj, dict):
        return None
    refund_id = _object_id(obj.get("id"), f"{at}id")
    if refund_id is None:
        return None
    return RefundSeen(
        id=refund_id, amount=_amount(obj, "amount") or 0, status=refund_status(obj.get("status"))
    )


def _refund_changed(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    refund = _refund(obj)
    if refund is None:
        return None
    return RefundChanged(
        refund=refund,
        payment_id=_object_id(obj.get("payment_intent"), "payment_intent"),
        charge_id=_object_id(obj.get("charge"), "charge"),
    )


def _charge_refunded(_: str, obj: dict[str, Any]) -> ProviderEvent | None:
    listed = _map(obj, "refunds").get("data") or []
    if not isinstance(listed, list):
        raise _unreadable("refunds.data", "a list")
    return ChargeRefunded(
        payment_id=_object_id(obj.get("payment_intent"), "payment_intent"),
        charge_id=_object_id(obj.get("id"), "id"),
        amount_refunded=_amount(obj, "amount_refunded"),
        refunds=tuple(
            r
            for r in (_refund(item, f"refunds.data.{i}.") for i, item in enumerate(listed))
            if r is not None
        ),
    )


_READERS: dict[str, Callable[[str, dict[str, Any]], ProviderEvent | None]] = {
    "checkout.session.completed": _session_change,
    "checkout.session.async_payment_succeeded": _session_change,
    "checkout.session.async_payment_failed": _session_change,
    "checkout.session.expired": _session_change,
    "payment_intent.payment_failed": _payment_failed,
    "charge.succeeded": _charge_succeeded,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_changed,
    "refund.updated": _refund_changed,
    "charge.refund.updated": _refund_changed,
}
_EVENT_TYPES = frozenset(_READERS)
