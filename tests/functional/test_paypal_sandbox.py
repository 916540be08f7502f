"""The built-in PayPal sandbox, driven by PayPal's official SDK (and plain HTTP for webhooks,
which the SDK has no calls for), every answer held against PayPal's OpenAPI documents."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.models.amount_breakdown import AmountBreakdown
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.capture_request import CaptureRequest
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.experience_context import ExperienceContext
from paypalserversdk.models.item import Item
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_application_context import OrderApplicationContext
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from qrcheckout import cli
from tests.support.paypal import Served, paypal_sandbox, sdk
from tests.support.paypal_spec import Answer, Spec
from tests.support.receiver import Inbox
from tests.support.server import serving, wait_until

pytestmark = pytest.mark.one_database

RETURN = "https://shop.example/paypal/return"
CANCEL = "https://shop.example/paypal/cancel"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with Inbox() as receiver:
        yield receiver


@pytest.fixture
def paypal(inbox: Inbox) -> Iterator[Served]:
    """The sandbox, webhooks going to ``inbox``; after the test, every answer it gave and every
    event it sent is held to PayPal's OpenAPI documents."""
    with paypal_sandbox(
        webhook_url=inbox.url, webhook_id="WH0000SANDBOX01", retry_base_seconds=0.05
    ) as served:
        yield served
    assert_documented(served, inbox)


def assert_documented(served: Served, inbox: Inbox) -> None:
    spec = Spec.load()
    answers = [a for a in served.recorder.answers if spec.operation(a.method, a.path)]
    # What was sent is what GET webhooks-events/{id} answers: an event.
    sent = "/v1/notifications/webhooks-events/sent"
    answers += [Answer("GET", sent, 200, json.loads(body)) for _, body, _ in inbox.received]
    assert answers
    assert [problem for answer in answers for problem in spec.problems(answer)] == []


@pytest.fixture
def client(paypal: Served) -> PaypalServersdkClient:
    return sdk(paypal.url)


def order_request(
    value: str = "25.00",
    currency: str = "USD",
    *,
    intent: CheckoutPaymentIntent = CheckoutPaymentIntent.CAPTURE,
    items: list[tuple[str, str, str]] | None = None,
    wallet: bool = False,
) -> OrderRequest:
    """An order for ``value``, with ``items`` (name, unit value, quantity) that add up to it."""
    amount = AmountWithBreakdown(currency_code=currency, value=value)
    unit = PurchaseUnitRequest(amount=amount, custom_id="tok_123", invoice_id="ord_123")
    if items:
        amount.breakdown = AmountBreakdown(item_total=Money(currency_code=currency, value=value))
        unit.items = [
            Item(name=n, unit_amount=Money(currency_code=currency, value=v), quantity=q)
            for n, v, q in items
        ]
    request = OrderRequest(intent=intent, purchase_units=[unit])
    if wallet:
        context = ExperienceContext(return_url=RETURN, cancel_url=CANCEL)
        request.payment_source = PaymentSource(paypal=PaypalWallet(experience_context=context))
    else:
        request.application_context = OrderApplicationContext(
            return_url=RETURN, cancel_url=CANCEL, brand_name="Bean There"
        )
    return request


def create(
    client: PaypalServersdkClient, request: OrderRequest | None = None, **options: Any
) -> Any:
    answer = client.orders.create_order({"body": request or order_request(), **options})
    return answer.body


def approve(order: Any, buyer: str = "approves") -> httpx.Response:
    """The buyer logs in on the approval page and presses its button."""
    href = next(link.href for link in order.links if link.rel in ("approve", "payer-action"))
    page = httpx.get(href)
    assert page.status_code == 200
    return httpx.post(href, data={"buyer": buyer})


def refused(call: Any) -> ErrorException:
    with pytest.raises(ErrorException) as caught:
        call()
    return caught.value


def issue(error: ErrorException) -> str:
    return str(error.details[0].issue)


def events(inbox: Inbox) -> list[dict[str, Any]]:
    """What the inbox received, in the order the sandbox made the events (deliveries run side by
    side, so they may arrive in another)."""
    sent = [json.loads(body) for _, body, _ in inbox.received]
    return sorted(sent, key=lambda event: (event["create_time"], _made.index(event["event_type"])))


# Within one second, the order a flow makes its events in.
_made = [
    "CHECKOUT.ORDER.APPROVED",
    "PAYMENT.AUTHORIZATION.CREATED",
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.DENIED",
    "PAYMENT.CAPTURE.REFUNDED",
    "PAYMENT.AUTHORIZATION.VOIDED",
]


# -- OAuth -------------------------------------------------------------------------------------


def test_only_the_apps_credentials_get_a_token(paypal: Served) -> None:
    token = paypal.url + "/v1/oauth2/token"
    good = httpx.post(
        token,
        auth=("sandbox-client-id", "sandbox-client-secret"),
        data={"grant_type": "client_credentials"},
    )
    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer" and good.json()["expires_in"] == 32400
    wrong = httpx.post(
        token, auth=("sandbox-client-id", "guess"), data={"grant_type": "client_credentials"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    no_grant = httpx.post(token, auth=("sandbox-client-id", "sandbox-client-secret"))
    assert no_grant.status_code == 400 and no_grant.json()["error"] == "unsupported_grant_type"
    anonymous = httpx.get(paypal.url + "/v2/checkout/orders/ABC")
    assert anonymous.status_code == 401 and anonymous.json()["name"] == "AUTHENTICATION_FAILURE"
    forged = httpx.get(
        paypal.url + "/v2/checkout/orders/ABC", headers={"Authorization": "Bearer A21AAforged"}
    )
    assert forged.status_code == 401
    with pytest.raises(Exception, match=r"(?i)oauth|auth"):
        create(sdk(paypal.url, secret="wrong"))


def test_an_app_sees_only_its_own_orders() -> None:
    with paypal_sandbox(credentials={"app-a": "secret-a", "app-b": "secret-b"}) as served:
        order = create(sdk(served.url, "app-a", "secret-a"))
        other = sdk(served.url, "app-b", "secret-b")
        error = refused(lambda: other.orders.get_order({"id": order.id}))
        assert error.response_code == 404 and issue(error) == "INVALID_RESOURCE_ID"


# -- orders, captures and refunds ----------------------------------------------------------


def test_order_approved_captured_and_refunded_in_part_then_in_full(
    paypal: Served, client: PaypalServersdkClient, inbox: Inbox
) -> None:
    request = order_request("25.00", items=[("Flat white", "4.50", "2"), ("Cake", "16.00", "1")])
    order = create(client, request, prefer="return=representation")
    assert order.status == "CREATED" and order.intent == "CAPTURE"
    assert order.purchase_units[0].amount.value == "25.00"
    assert [i.name for i in order.purchase_units[0].items] == ["Flat white", "Cake"]
    assert {link.rel for link in order.links} == {"self", "approve", "update", "capture"}

    page = httpx.get(next(link.href for link in order.links if link.rel == "approve"))
    assert "Bean There" in page.text and "$25.00" in page.text and "Flat white" in page.text
    back = approve(order)
    assert back.status_code == 303
    target = urlsplit(back.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == RETURN
    assert parse_qs(target.query)["token"] == [order.id] and parse_qs(target.query)["PayerID"]

    approved = client.orders.get_order({"id": order.id}).body
    assert approved.status == "APPROVED" and approved.payer.email_address == "buyer@sandbox.example"

    captured = client.orders.capture_order({"id": order.id, "prefer": "return=representation"})
    assert captured.status_code == 201 and captured.body.status == "COMPLETED"
    capture = captured.body.purchase_units[0].payments.captures[0]
    assert capture.status == "COMPLETED" and capture.amount.value == "25.00"
    assert capture.custom_id == "tok_123" and capture.invoice_id == "ord_123"
    breakdown = capture.seller_receivable_breakdown
    assert (breakdown.paypal_fee.value, breakdown.net_amount.value) == ("1.36", "23.64")

    again = refused(lambda: client.orders.capture_order({"id": order.id}))
    assert again.response_code == 422 and issue(again) == "ORDER_ALREADY_CAPTURED"

    part = client.payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "body": RefundRequest(amount=Money(currency_code="USD", value="2.50")),
        }
    ).body
    assert part.status == "COMPLETED" and part.amount.value == "2.50"
    assert client.payments.get_captured_payment({"capture_id": capture.id}).body.status == (
        "PARTIALLY_REFUNDED"
    )
    too_much = refused(
        lambda: client.payments.refund_captured_payment(
            {
                "capture_id": capture.id,
                "body": RefundRequest(amount=Money(currency_code="USD", value="22.51")),
            }
        )
    )
    assert issue(too_much) == "REFUND_AMOUNT_EXCEEDED"
    rest = client.payments.refund_captured_payment({"capture_id": capture.id}).body
    assert rest.amount.value == "22.50"
    assert rest.seller_payable_breakdown.total_refunded_amount.value == "25.00"
    assert (
        client.payments.get_captured_payment({"capture_id": capture.id}).body.status == "REFUNDED"
    )
    assert client.payments.get_refund({"refund_id": part.id}).body.amount.value == "2.50"
    done = refused(lambda: client.payments.refund_captured_payment({"capture_id": capture.id}))
    assert issue(done) == "CAPTURE_FULLY_REFUNDED"
    refunds = client.orders.get_order({"id": order.id}).body.purchase_units[0].payments.refunds
    assert [r.id for r in refunds] == [part.id, rest.id]

    wait_until(lambda: len(inbox.received) >= 4)
    sent = events(inbox)
    assert [e["event_type"] for e in sent] == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.REFUNDED",
        "PAYMENT.CAPTURE.REFUNDED",
    ]
    completed = sent[1]["resource"]
    assert completed["id"] == capture.id and completed["custom_id"] == "tok_123"
    assert completed["supplementary_data"]["related_ids"]["order_id"] == order.id
    assert {sent[2]["resource"]["id"], sent[3]["resource"]["id"]} == {part.id, rest.id}


def test_yen_have_no_decimals(client: PaypalServersdkClient) -> None:
    order = create(client, order_request("1500", "JPY", items=[("Matcha", "750", "2")]))
    approve(order)
    capture = (
        client.orders.capture_order({"id": order.id}).body.purchase_units[0].payments.captures[0]
    )
    assert capture.amount.value == "1500" and capture.amount.currency_code == "JPY"
    assert capture.seller_receivable_breakdown.paypal_fee.value == "92"  # 3.49% + ¥40
    refund = client.payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "body": RefundRequest(amount=Money(currency_code="JPY", value="500")),
        }
    ).body
    assert refund.amount.value == "500"
    cents = refused(lambda: create(client, order_request("1500.50", "JPY")))
    assert cents.response_code == 422 and issue(cents) == "DECIMAL_PRECISION"


def test_a_buyer_whose_funding_fails_gets_a_denied_capture(
    client: PaypalServersdkClient, inbox: Inbox
) -> None:
    order = create(client)
    approve(order, "funding-fails")
    result = client.orders.capture_order({"id": order.id}).body
    capture = result.purchase_units[0].payments.captures[0]
    assert capture.status == "DECLINED"
    no_refund = refused(lambda: client.payments.refund_captured_payment({"capture_id": capture.id}))
    assert issue(no_refund) == "REFUND_NOT_ALLOWED"
    wait_until(lambda: len(inbox.received) >= 2)
    assert [e["event_type"] for e in events(inbox)] == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.DENIED",
    ]


def test_a_buyer_who_cancels_returns_to_the_shop_with_nothing_approved(
    client: PaypalServersdkClient, inbox: Inbox
) -> None:
    order = create(client, order_request(wallet=True))
    assert order.status == "PAYER_ACTION_REQUIRED"
    back = approve(order, "cancels")
    assert back.status_code == 303 and back.headers["location"] == f"{CANCEL}?token={order.id}"
    assert client.orders.get_order({"id": order.id}).body.status == "PAYER_ACTION_REQUIRED"
    early = refused(lambda: client.orders.capture_order({"id": order.id}))
    assert issue(early) == "ORDER_NOT_APPROVED"
    assert inbox.received == []


def test_authorized_then_captured_in_part_and_the_rest_voided(
    client: PaypalServersdkClient, inbox: Inbox
) -> None:
    order = create(client, order_request("40.00", intent=CheckoutPaymentIntent.AUTHORIZE))
    approve(order)
    wrong = refused(lambda: client.orders.capture_order({"id": order.id}))
    assert issue(wrong) == "ACTION_DOES_NOT_MATCH_INTENT"
    authorized = client.orders.authorize_order({"id": order.id}).body
    authorization = authorized.purchase_units[0].payments.authorizations[0]
    assert authorization.status == "CREATED"
    part = client.payments.capture_authorized_payment(
        {
            "authorization_id": authorization.id,
            "body": CaptureRequest(amount=Money(currency_code="USD", value="15.00")),
            "prefer": "return=representation",
        }
    ).body
    assert part.status == "COMPLETED" and part.amount.value == "15.00" and not part.final_capture
    fetched = client.payments.get_authorized_payment({"authorization_id": authorization.id}).body
    assert fetched.status == "PARTIALLY_CAPTURED"
    over = refused(
        lambda: client.payments.capture_authorized_payment(
            {
                "authorization_id": authorization.id,
                "body": CaptureRequest(amount=Money(currency_code="USD", value="25.01")),
            }
        )
    )
    assert issue(over) == "MAX_CAPTURE_AMOUNT_EXCEEDED"
    client.payments.void_payment({"authorization_id": authorization.id})
    assert (
        client.payments.get_authorized_payment({"authorization_id": authorization.id}).body.status
        == "VOIDED"
    )
    late = refused(
        lambda: client.payments.capture_authorized_payment({"authorization_id": authorization.id})
    )
    assert issue(late) == "AUTHORIZATION_VOIDED"
    wait_until(lambda: len(inbox.received) >= 4)
    assert [e["event_type"] for e in events(inbox)] == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.AUTHORIZATION.CREATED",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.AUTHORIZATION.VOIDED",
    ]


def test_a_repeated_request_id_answers_the_first_answer(
    paypal: Served, client: PaypalServersdkClient
) -> None:
    store = paypal.sandbox.store
    orders_before, captures_before = (
        len(store.all_of("paypal.order")),
        len(store.all_of("paypal.capture")),
    )
    first = client.orders.create_order({"body": order_request(), "paypal_request_id": "order-1"})
    again = client.orders.create_order({"body": order_request(), "paypal_request_id": "order-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.body.id == first.body.id
    assert len(store.all_of("paypal.order")) == orders_before + 1
    approve(first.body)
    one = client.orders.capture_order({"id": first.body.id, "paypal_request_id": "capture-1"})
    two = client.orders.capture_order({"id": first.body.id, "paypal_request_id": "capture-1"})
    assert one.body.purchase_units[0].payments.captures[0].id == (
        two.body.purchase_units[0].payments.captures[0].id
    )
    assert len(store.all_of("paypal.capture")) == captures_before + 1


def _usd(value: Any) -> dict[str, Any]:
    return {"currency_code": "USD", "value": value}


def _unit(value: Any = "1.00", currency: str = "USD", **more: Any) -> dict[str, Any]:
    """A purchase unit for ``value``; ``item_total`` and ``items`` go to its breakdown and items."""
    amount: dict[str, Any] = {"currency_code": currency, "value": value}
    if "item_total" in more:
        amount["breakdown"] = {"item_total": more.pop("item_total")}
    return {"amount": amount, **more}


def _capture(*units: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"intent": "CAPTURE", "purchase_units": list(units), **more}


TEA = [{"name": "Tea", "unit_amount": _usd("2.00"), "quantity": "2"}]
AMOUNT = "/purchase_units/0/amount"


@pytest.mark.parametrize(
    ("body", "status", "issue_code", "field"),
    [
        ({"purchase_units": [_unit()]}, 400, "MISSING_REQUIRED_PARAMETER", "/intent"),
        (_capture(_unit()) | {"intent": "SELL"}, 400, "INVALID_PARAMETER_VALUE", "/intent"),
        ({"intent": "CAPTURE"}, 400, "MISSING_REQUIRED_PARAMETER", "/purchase_units"),
        (_capture({}), 400, "MISSING_REQUIRED_PARAMETER", AMOUNT),
        (_capture(_unit("ten")), 400, "INVALID_PARAMETER_SYNTAX", f"{AMOUNT}/value"),
        (_capture(_unit(10)), 400, "INVALID_PARAMETER_SYNTAX", f"{AMOUNT}/value"),
        (_capture(_unit("10\n")), 400, "INVALID_PARAMETER_SYNTAX", f"{AMOUNT}/value"),
        (
            _capture(_unit("4.00", item_total=_usd("4.00"), items=[TEA[0] | {"quantity": "²"}])),
            400,
            "INVALID_PARAMETER_SYNTAX",
            "/purchase_units/0/items/0/quantity",
        ),
        (_capture(_unit(currency="XYZ")), 422, "INVALID_CURRENCY_CODE", f"{AMOUNT}/currency_code"),
        (_capture(_unit("1.001")), 422, "DECIMAL_PRECISION", f"{AMOUNT}/value"),
        (_capture(_unit("-1.00")), 422, "CANNOT_BE_NEGATIVE", f"{AMOUNT}/value"),
        (_capture(_unit("0.00")), 422, "CANNOT_BE_ZERO_OR_NEGATIVE", f"{AMOUNT}/value"),
        (
            _capture(_unit("5.00", item_total=_usd("5.00"), items=TEA)),
            422,
            "ITEM_TOTAL_MISMATCH",
            f"{AMOUNT}/breakdown/item_total",
        ),
        (
            _capture(_unit("4.00", items=TEA)),
            422,
            "ITEM_TOTAL_REQUIRED",
            f"{AMOUNT}/breakdown/item_total",
        ),
        (
            _capture(_unit("9.00", item_total=_usd("5.00"))),
            422,
            "AMOUNT_MISMATCH",
            f"{AMOUNT}/value",
        ),
        (
            _capture(_unit("4.00", item_total={"currency_code": "EUR", "value": "4.00"})),
            422,
            "MULTI_CURRENCY_ORDER",
            f"{AMOUNT}/breakdown/item_total/currency_code",
        ),
        (
            _capture(_unit(custom_id="x" * 256)),
            400,
            "INVALID_STRING_LENGTH",
            "/purchase_units/0/custom_id",
        ),
        (
            _capture(_unit(), payment_source={"card": {"number": "4111111111111111"}}),
            422,
            "PAYMENT_SOURCE_CANNOT_BE_USED",
            "/payment_source",
        ),
    ],
)
def test_a_bad_order_is_refused_as_paypal_refuses_it(
    paypal: Served, body: dict[str, Any], status: int, issue_code: str, field: str
) -> None:
    with paypal.http() as http:
        answer = http.post("/v2/checkout/orders", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["name"] == ("INVALID_REQUEST" if status == 400 else "UNPROCESSABLE_ENTITY")
    assert error["debug_id"] and error["message"]
    assert error["details"][0]["issue"] == issue_code
    assert error["details"][0]["field"] == field
    assert paypal.sandbox.store.all_of("paypal.order") == []


def test_malformed_json_and_unknown_routes_answer_in_paypals_shape(paypal: Served) -> None:
    with paypal.http() as http:
        broken = http.post(
            "/v2/checkout/orders",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        assert broken.json()["details"][0]["issue"] == "MALFORMED_REQUEST_JSON"
        missing = http.get("/v2/checkout/orders/NOSUCHORDER")
        assert missing.status_code == 404 and missing.json()["name"] == "RESOURCE_NOT_FOUND"
        nowhere = http.get("/v2/nowhere")
        assert nowhere.status_code == 404 and nowhere.json()["name"] == "RESOURCE_NOT_FOUND"


# -- webhooks ----------------------------------------------------------------------------------


def _verification(headers: dict[str, str], body: bytes, webhook_id: str) -> dict[str, Any]:
    lower = {k.lower(): v for k, v in headers.items()}
    return {
        "auth_algo": lower["paypal-auth-algo"],
        "cert_url": lower["paypal-cert-url"],
        "transmission_id": lower["paypal-transmission-id"],
        "transmission_sig": lower["paypal-transmission-sig"],
        "transmission_time": lower["paypal-transmission-time"],
        "webhook_id": webhook_id,
        "webhook_event": json.loads(body),
    }


def test_deliveries_are_signed_and_verified_only_as_sent(
    paypal: Served, client: PaypalServersdkClient, inbox: Inbox
) -> None:
    approve(create(client))
    wait_until(lambda: inbox.received)
    headers, body, _ = inbox.received[0]
    verify = "/v1/notifications/verify-webhook-signature"
    with paypal.http() as http:
        good = _verification(headers, body, "WH0000SANDBOX01")
        assert http.post(verify, json=good).json() == {"verification_status": "SUCCESS"}
        tampered = json.loads(json.dumps(good))
        tampered["webhook_event"]["resource"]["status"] = "COMPLETED"
        assert http.post(verify, json=tampered).json()["verification_status"] == "FAILURE"
        other_hook = good | {"webhook_id": "WH0000OTHER0001"}
        assert http.post(verify, json=other_hook).json()["verification_status"] == "FAILURE"
        other_time = good | {"transmission_time": "2026-01-01T00:00:00Z"}
        assert http.post(verify, json=other_time).json()["verification_status"] == "FAILURE"
        bad_cert = good | {"cert_url": "https://attacker.example/cert.pem"}
        assert http.post(verify, json=bad_cert).json()["verification_status"] == "FAILURE"
        incomplete = {k: v for k, v in good.items() if k != "transmission_sig"}
        missing = http.post(verify, json=incomplete)
        assert missing.status_code == 400
        assert missing.json()["details"][0]["field"] == "/transmission_sig"

    # The certificate-based check, offline: the signature over id|time|webhook id|crc32(body).
    lower = {k.lower(): v for k, v in headers.items()}
    certificate = x509.load_pem_x509_certificate(httpx.get(lower["paypal-cert-url"]).content)
    signed = "|".join(
        (
            lower["paypal-transmission-id"],
            lower["paypal-transmission-time"],
            "WH0000SANDBOX01",
            str(zlib.crc32(body)),
        )
    ).encode()
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        base64.b64decode(lower["paypal-transmission-sig"]),
        signed,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_a_failed_delivery_is_sent_again_in_a_new_transmission() -> None:
    with (
        Inbox(statuses=(500, 503)) as flaky,
        paypal_sandbox(
            webhook_url=flaky.url, webhook_id="WH0000SANDBOX01", retry_base_seconds=0.05
        ) as served,
    ):
        approve(create(sdk(served.url)))
        wait_until(lambda: len(flaky.received) >= 3)
        statuses = [status for _, _, status in flaky.received]
        assert statuses == [500, 503, 200]
        transmissions = {h["PAYPAL-TRANSMISSION-ID"] for h, _, _ in flaky.received}
        assert len(transmissions) == 3
        with served.http() as http:
            for headers, body, _ in flaky.received:
                check = _verification(headers, body, "WH0000SANDBOX01")
                answer = http.post("/v1/notifications/verify-webhook-signature", json=check)
                assert answer.json()["verification_status"] == "SUCCESS"


def test_webhooks_registered_listed_deleted_and_events_resent(paypal: Served) -> None:
    with Inbox() as second, paypal.http() as http:
        made = http.post(
            "/v1/notifications/webhooks",
            json={"url": second.url, "event_types": [{"name": "PAYMENT.CAPTURE.COMPLETED"}]},
        )
        assert made.status_code == 201
        hook = made.json()
        assert hook["event_types"][0]["name"] == "PAYMENT.CAPTURE.COMPLETED"
        twice = http.post(
            "/v1/notifications/webhooks", json={"url": second.url, "event_types": [{"name": "*"}]}
        )
        assert twice.status_code == 400
        unknown = http.post(
            "/v1/notifications/webhooks",
            json={"url": "https://x.example/h", "event_types": [{"name": "NOT.AN.EVENT"}]},
        )
        assert unknown.status_code == 400
        assert unknown.json()["details"][0]["field"] == "/event_types/0/name"
        odd = http.post(
            "/v1/notifications/webhooks",
            json={"url": "https://x.example/h", "event_types": [{"name": ["*"]}]},
        )
        assert odd.status_code == 400
        assert http.get("/v1/notifications/webhooks-events?page_size=²").status_code == 400
        ids = {w["id"] for w in http.get("/v1/notifications/webhooks").json()["webhooks"]}
        assert ids == {"WH0000SANDBOX01", hook["id"]}
        assert http.get(f"/v1/notifications/webhooks/{hook['id']}").json()["url"] == second.url

        client = sdk(paypal.url)
        order = create(client)
        approve(order)
        client.orders.capture_order({"id": order.id})
        wait_until(lambda: len(second.received) == 1)
        assert json.loads(second.received[0][1])["event_type"] == "PAYMENT.CAPTURE.COMPLETED"

        listed = http.get(
            "/v1/notifications/webhooks-events", params={"event_type": "PAYMENT.CAPTURE.COMPLETED"}
        ).json()
        assert listed["count"] == 1
        event_id = listed["events"][0]["id"]
        assert http.get(f"/v1/notifications/webhooks-events/{event_id}").json()["id"] == event_id
        resent = http.post(
            f"/v1/notifications/webhooks-events/{event_id}/resend",
            json={"webhook_ids": [hook["id"]]},
        )
        assert resent.status_code == 202
        wait_until(lambda: len(second.received) == 2)
        assert http.delete(f"/v1/notifications/webhooks/{hook['id']}").status_code == 204
        assert http.get(f"/v1/notifications/webhooks/{hook['id']}").status_code == 404


def test_state_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "paypal.db"
    with paypal_sandbox(state_path=state) as first:
        client = sdk(first.url)
        order = create(client)
    with paypal_sandbox(state_path=state) as second:
        fetched = sdk(second.url).orders.get_order({"id": order.id}).body
        assert fetched.status == "CREATED"


# -- PayPal's OpenAPI documents --------------------------------------------------------------


def test_every_endpoint_is_walked_and_holds_to_paypals_openapi_documents(
    paypal: Served, client: PaypalServersdkClient, inbox: Inbox
) -> None:
    """Every endpoint the sandbox serves, each answered at least once (the ``paypal`` fixture
    holds every answer of every test to the documents)."""
    order = create(
        client, order_request(items=[("Tea", "12.50", "2")]), prefer="return=representation"
    )
    approve(order)
    capture = (
        client.orders.capture_order({"id": order.id}).body.purchase_units[0].payments.captures[0]
    )
    client.payments.get_captured_payment({"capture_id": capture.id})
    refund = client.payments.refund_captured_payment({"capture_id": capture.id}).body
    client.payments.get_refund({"refund_id": refund.id})
    refused(lambda: client.payments.refund_captured_payment({"capture_id": capture.id}))
    held = create(client, order_request(intent=CheckoutPaymentIntent.AUTHORIZE, wallet=True))
    approve(held)
    authorized = client.orders.authorize_order({"id": held.id}).body
    authorization = authorized.purchase_units[0].payments.authorizations[0]
    client.payments.get_authorized_payment({"authorization_id": authorization.id})
    client.payments.capture_authorized_payment(
        {
            "authorization_id": authorization.id,
            "body": CaptureRequest(amount=Money(currency_code="USD", value="5.00")),
        }
    )
    client.payments.void_payment({"authorization_id": authorization.id})
    refused(lambda: client.orders.get_order({"id": "NOSUCHORDER"}))
    wait_until(lambda: len(inbox.received) >= 6)
    with paypal.http() as http:
        http.post("/v2/checkout/orders", json={"intent": "CAPTURE"})
        hook = http.post(
            "/v1/notifications/webhooks",
            json={"url": "https://shop.example/hook", "event_types": [{"name": "*"}]},
        ).json()
        http.get("/v1/notifications/webhooks")
        http.get(f"/v1/notifications/webhooks/{hook['id']}")
        headers, body, _ = inbox.received[0]
        check = _verification(headers, body, "WH0000SANDBOX01")
        http.post("/v1/notifications/verify-webhook-signature", json=check)
        http.post("/v1/notifications/verify-webhook-signature", json={})
        event_id = http.get("/v1/notifications/webhooks-events").json()["events"][0]["id"]
        http.get(f"/v1/notifications/webhooks-events/{event_id}")
        http.post(f"/v1/notifications/webhooks-events/{event_id}/resend", json={})
        http.delete(f"/v1/notifications/webhooks/{hook['id']}")
    spec = Spec.load()
    walked = {str(spec.operation(a.method, a.path)) for a in paypal.recorder.answers}
    assert walked >= {
        "POST /v2/checkout/orders",
        "GET /v2/checkout/orders/{id}",
        "POST /v2/checkout/orders/{id}/capture",
        "POST /v2/checkout/orders/{id}/authorize",
        "GET /v2/payments/authorizations/{authorization_id}",
        "POST /v2/payments/authorizations/{authorization_id}/capture",
        "POST /v2/payments/authorizations/{authorization_id}/void",
        "GET /v2/payments/captures/{capture_id}",
        "POST /v2/payments/captures/{capture_id}/refund",
        "GET /v2/payments/refunds/{refund_id}",
        "POST /v1/notifications/webhooks",
        "GET /v1/notifications/webhooks",
        "GET /v1/notifications/webhooks/{webhook_id}",
        "DELETE /v1/notifications/webhooks/{webhook_id}",
        "POST /v1/notifications/verify-webhook-signature",
        "GET /v1/notifications/webhooks-events",
        "GET /v1/notifications/webhooks-events/{event_id}",
        "POST /v1/notifications/webhooks-events/{event_id}/resend",
    }


def test_a_standalone_sandbox_serves_any_app_that_keeps_its_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **_: built.append(app))
    args = ["sandbox", "--provider", "paypal", "--data-dir", str(tmp_path / "alone")]
    assert cli.main(args) == 0
    [app] = built
    with serving(app) as url:
        order = create(sdk(url, "any-app", "its-secret"))
        assert sdk(url, "any-app", "its-secret").orders.get_order({"id": order.id}).body.id
        taken = httpx.post(
            f"{url}/v1/oauth2/token",
            auth=("any-app", "another-secret"),
            data={"grant_type": "client_credentials"},
        )
        assert taken.status_code == 401
        other = sdk(url, "other-app", "secret")
        assert refused(lambda: other.orders.get_order({"id": order.id})).response_code == 404
