"""Every object the sandbox returns has the field names and value types of Stripe's own example.

Stripe publishes an example of each API resource (``shared/stripe/fixtures3.json``). The tests
below drive the sandbox with the official stripe SDK until it has returned one of every object
kind it can return, take each answer's exact JSON, and compare its shape with Stripe's example
of that kind: the same keys at every level, the same JSON types (null allowed where Stripe's
example is null). All differences of all kinds are gathered and shown together.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
import stripe
from stripe.params import PaymentMethodCreateParamsCard, TokenCreateParamsCard

from tests.conftest import FIXTURES
from tests.support.flows import submit_card
from tests.support.sdk import client as _client
from tests.support.sdk import session_params as _session_params
from tests.support.server import RunningServer
from tests.support.shapes import shape_differences

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database

LIST_KEYS = ("object", "data", "has_more", "url")
# Fields Stripe types as one of several object kinds, by the kind of object holding them.
POLYMORPHIC = {"charge": ("source",)}
CARD_NUMBER = "4242424242424242"
EXP_YEAR = date.today().year + 3


@pytest.fixture
def resources() -> dict[str, Any]:
    """Stripe's example of every API resource, by kind."""
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's fixtures are not at {FIXTURES} (shared/ is beside the repo)")
    found: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return found


def _json(answer: stripe.StripeObject) -> dict[str, Any]:
    """The exact JSON the sandbox sent for ``answer`` (not the SDK's reading of it)."""
    assert answer.last_response is not None
    body: dict[str, Any] = json.loads(answer.last_response.body)
    return body


def _get(server: RunningServer, path: str, **headers: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/sandbox{path}",
        headers={"Authorization": f"Bearer {server.sandbox_key}", **headers},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Shapes:
    """Gathers, in order and without repeats, how each object's shape differs from Stripe's."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self.resources = resources
        self.problems: dict[str, None] = {}
        self.kinds: set[str] = set()

    def check(self, label: str, ours: dict[str, Any], kind: str | None = None) -> None:
        """Compare ``ours`` with Stripe's example of ``kind`` (by default, its ``object``).

        A field that Stripe types as one of several kinds (a charge's ``source`` is a card, a
        bank account or a source) holds, in Stripe's example, just one of them; when ours
        holds another kind it is compared with Stripe's example of that kind instead.
        """
        kind = kind or str(ours.get("object"))
        self.kinds.add(kind)
        if kind not in self.resources:
            self.problems[f"{label}: Stripe has no example of a {kind!r}"] = None
            return
        theirs = self.resources[kind]
        for name in POLYMORPHIC.get(kind, ()):
            value, example = ours.get(name), theirs.get(name)
            if (
                isinstance(value, dict)
                and isinstance(example, dict)
                and value.get("object") != example.get("object")
            ):
                self.check(f"{label}.{name}", value)
                ours = ours | {name: None}
        for problem in shape_differences(ours, theirs, label):
            self.problems[problem] = None

    def check_event(self, event: dict[str, Any]) -> None:
        """An event apart from its data, then the object it carries against that object's kind."""
        label = f"event({event.get('type')})"
        theirs = {k: v for k, v in self.resources["event"].items() if k != "data"}
        ours = {k: v for k, v in event.items() if k != "data"}
        self.kinds.add("event")
        for problem in shape_differences(ours, theirs, label):
            self.problems[problem] = None
        carried = event["data"]["object"]
        self.check(f"{label}.data.object", carried, str(carried.get("object")))


def _catalog(client: stripe.StripeClient, shapes: Shapes) -> None:
    product = client.v1.products.create({"name": "Matcha", "description": "Green tea"})
    shapes.check("product", _json(product))
    shapes.check("product(retrieved)", _json(client.v1.products.retrieve(product.id)))
    shapes.check(
        "product(updated)", _json(client.v1.products.update(product.id, {"name": "Sencha"}))
    )
    price = client.v1.prices.create({"product": product.id, "unit_amount": 500, "currency": "jpy"})
    shapes.check("price", _json(price))
    shapes.check("price(retrieved)", _json(client.v1.prices.retrieve(price.id)))


def _customers(server: RunningServer, client: stripe.StripeClient, shapes: Shapes) -> str:
    """Customers, their saved card, and a deleted customer; returns the customer's id."""
    customer = client.v1.customers.create(
        {"email": "buyer@example.com", "name": "Jenny Rosen", "source": "tok_visa"}
    )
    shapes.check("customer", _json(customer))
    shapes.check("customer(retrieved)", _json(client.v1.customers.retrieve(customer.id)))
    expanded = _get(server, f"/v1/customers/{customer.id}?expand[]=default_source")
    card = expanded.get("default_source")
    assert isinstance(card, dict), expanded
    shapes.check("card(customer.default_source)", card, "card")
    gone = client.v1.customers.create({"email": "gone@example.com"})
    shapes.check("deleted_customer", _json(client.v1.customers.delete(gone.id)), "deleted_customer")
    shapes.check(
        "deleted_customer(retrieved)",
        _get(server, f"/v1/customers/{gone.id}"),
        "deleted_customer",
    )
    return str(customer.id)


def _cards(client: stripe.StripeClient, shapes: Shapes, customer_id: str) -> None:
    card: TokenCreateParamsCard = {
        "number": CARD_NUMBER,
        "exp_month": "12",
        "exp_year": str(EXP_YEAR),
        "cvc": "123",
    }
    token = client.v1.tokens.create({"card": card})
    shapes.check("token", _json(token))
    shapes.check("token(retrieved)", _json(client.v1.tokens.retrieve(token.id)))
    typed: PaymentMethodCreateParamsCard = {
        "number": CARD_NUMBER,
        "exp_month": 12,
        "exp_year": EXP_YEAR,
        "cvc": "123",
    }
    method = client.v1.payment_methods.create({"type": "card", "card": typed})
    shapes.check("payment_method", _json(method))
    attached = client.v1.payment_methods.attach(method.id, {"customer": customer_id})
    shapes.check("payment_method(attached)", _json(attached))
    shapes.check("payment_method(retrieved)", _json(client.v1.payment_methods.retrieve(method.id)))


def _payments(client: stripe.StripeClient, shapes: Shapes) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1200, "currency": "jpy", "payment_method": "pm_card_visa"}
    )
    shapes.check("payment_intent(created)", _json(intent))
    confirmed = client.v1.payment_intents.confirm(intent.id)
    shapes.check("payment_intent(succeeded)", _json(confirmed))
    assert isinstance(confirmed.latest_charge, str)
    shapes.check(
        "charge(payment_intent.latest_charge)",
        _json(client.v1.charges.retrieve(confirmed.latest_charge)),
    )
    declined = client.v1.payment_intents.create(
        {"amount": 1200, "currency": "jpy", "payment_method": "pm_card_chargeDeclined"}
    )
    with pytest.raises(stripe.CardError) as error:
        client.v1.payment_intents.confirm(declined.id)
    assert error.value.http_status == 402
    body: Any = error.value.json_body
    assert isinstance(body["error"].get("payment_intent"), dict), body
    shapes.check("payment_intent(402 error body)", body["error"]["payment_intent"])
    shapes.check(
        "payment_intent(declined, retrieved)",
        _json(client.v1.payment_intents.retrieve(declined.id)),
    )

    charge = client.v1.charges.create({"amount": 3000, "currency": "jpy", "source": "tok_visa"})
    shapes.check("charge(legacy, source=tok_visa)", _json(charge))
    partial = client.v1.refunds.create({"charge": charge.id, "amount": 1000})
    shapes.check("refund(partial)", _json(partial))
    shapes.check("charge(partially refunded)", _json(client.v1.charges.retrieve(charge.id)))
    rest = client.v1.refunds.create({"charge": charge.id})
    shapes.check("refund(rest)", _json(rest))
    shapes.check("refund(retrieved)", _json(client.v1.refunds.retrieve(rest.id)))
    shapes.check("charge(refunded)", _json(client.v1.charges.retrieve(charge.id)))
    whole = client.v1.charges.create({"amount": 500, "currency": "jpy", "source": "tok_visa"})
    shapes.check("refund(full)", _json(client.v1.refunds.create({"charge": whole.id})))


def _checkout(server: RunningServer, client: stripe.StripeClient, shapes: Shapes) -> None:
    session = client.v1.checkout.sessions.create(_session_params())
    shapes.check("checkout.session(open)", _json(session))
    items = client.v1.checkout.sessions.line_items.list(session.id)
    shapes.check("item(line item)", _json(items)["data"][0])
    assert session.url is not None
    paid = submit_card(session.url)
    assert paid.status_code == 303, paid.text
    shapes.check("checkout.session(paid)", _json(client.v1.checkout.sessions.retrieve(session.id)))
    expanded = _get(server, f"/v1/checkout/sessions/{session.id}?expand[]=payment_intent")
    intent = expanded["payment_intent"]
    assert isinstance(intent, dict), expanded
    shapes.check("payment_intent(checkout.session.payment_intent)", intent, "payment_intent")
    other = client.v1.checkout.sessions.create(_session_params())
    shapes.check("checkout.session(expired)", _json(client.v1.checkout.sessions.expire(other.id)))


def _endpoints(client: stripe.StripeClient, shapes: Shapes) -> None:
    created = _json(
        client.v1.webhook_endpoints.create(
            {"url": "https://shop.example/hooks", "enabled_events": ["charge.succeeded"]}
        )
    )
    assert str(created.get("secret", "")).startswith("whsec_"), created
    shapes.check(
        "webhook_endpoint(created, minus its one-time secret)",
        {k: v for k, v in created.items() if k != "secret"},
    )
    endpoint_id = str(created["id"])
    shapes.check(
        "webhook_endpoint(retrieved)", _json(client.v1.webhook_endpoints.retrieve(endpoint_id))
    )
    shapes.check(
        "webhook_endpoint(updated)",
        _json(client.v1.webhook_endpoints.update(endpoint_id, {"description": "Shop"})),
    )
    shapes.check(
        "deleted_webhook_endpoint",
        _json(client.v1.webhook_endpoints.delete(endpoint_id)),
        "deleted_webhook_endpoint",
    )


def _connect(server: RunningServer, client: stripe.StripeClient, shapes: Shapes) -> str:
    """The platform's account, a connected one, and the fee on its charge; returns its id."""
    shapes.check("account(platform, GET /v1/account)", _get(server, "/v1/account"))
    connected = client.v1.accounts.create({"type": "standard"})
    shapes.check("account(connected, created)", _json(connected))
    shapes.check(
        "account(connected, GET /v1/account as it)",
        _get(server, "/v1/account", **{"Stripe-Account": str(connected.id)}),
    )
    charge = client.v1.charges.create(
        {
            "amount": 2000,
            "currency": "jpy",
            "source": "tok_visa",
            "application_fee_amount": 100,
        },
        {"stripe_account": connected.id},
    )
    shapes.check("charge(on a connected account, with a fee)", _json(charge))
    assert isinstance(charge.application_fee, str), charge
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    shapes.check("application_fee", _json(fee))
    return str(connected.id)


def _events(client: stripe.StripeClient, shapes: Shapes, account: str) -> int:
    """Check every event of the platform and of ``account``; returns how many there were."""
    seen = 0
    for options in ({}, {"stripe_account": account}):
        page = client.v1.events.list({"limit": 100}, options)  # type: ignore[arg-type]
        body = _json(page)
        assert body["has_more"] is False, "more events than one page holds"
        for event in body["data"]:
            shapes.check_event(event)
            seen += 1
    return seen


def test_every_object_matches_stripes_official_example(
    server: RunningServer, resources: dict[str, Any]
) -> None:
    """Each kind the sandbox returns, in each state reached, has Stripe's example's shape.

    Kinds covered: product, price, customer, deleted customer, token, card, payment_method,
    payment_intent (created, succeeded, declined, expanded on a session), charge (legacy,
    refunded, connected), refund, event (apart from its data, and each carried object),
    webhook_endpoint and its deletion, checkout.session (open, paid, expired), item, account
    (platform and connected) and application_fee.
    """
    client = _client(server)
    shapes = Shapes(resources)
    _catalog(client, shapes)
    customer_id = _customers(server, client, shapes)
    _cards(client, shapes, customer_id)
    _payments(client, shapes)
    _checkout(server, client, shapes)
    _endpoints(client, shapes)
    account = _connect(server, client, shapes)
    assert _events(client, shapes, account) > 10
    expected = {
        "product", "price", "customer", "deleted_customer", "token", "card", "payment_method",
        "payment_intent", "charge", "refund", "event", "webhook_endpoint",
        "deleted_webhook_endpoint", "checkout.session", "item", "account", "application_fee",
    }  # fmt: skip
    assert expected <= shapes.kinds, expected - shapes.kinds
    problems = list(shapes.problems)
    assert problems == [], f"{len(problems)} differences from Stripe's examples:\n" + "\n".join(
        problems
    )


def test_every_list_has_stripes_list_envelope(
    server: RunningServer, resources: dict[str, Any]
) -> None:
    """Every list endpoint answers with Stripe's list envelope (object, data, has_more, url).

    Stripe's own envelope is the one its application fee example embeds; the ``url`` of each
    list is the path it was fetched from, as Stripe's is.
    """
    theirs = resources["application_fee"]["refunds"]
    assert sorted(theirs) == sorted(LIST_KEYS)
    client = _client(server)
    session = client.v1.checkout.sessions.create(_session_params())
    assert session.url is not None
    submit_card(session.url)
    client.v1.customers.create({"email": "buyer@example.com"})
    client.v1.webhook_endpoints.create(
        {"url": "https://shop.example/hooks", "enabled_events": ["charge.succeeded"]}
    )
    connected = client.v1.accounts.create({"type": "standard"})
    client.v1.charges.create(
        {"amount": 2000, "currency": "jpy", "source": "tok_visa", "application_fee_amount": 100},
        {"stripe_account": connected.id},
    )
    paths = [
        "/v1/products",
        "/v1/prices",
        "/v1/customers",
        "/v1/payment_methods",
        "/v1/payment_intents",
        "/v1/charges",
        "/v1/refunds",
        "/v1/checkout/sessions",
        f"/v1/checkout/sessions/{session.id}/line_items",
        "/v1/events",
        "/v1/webhook_endpoints",
        "/v1/accounts",
        "/v1/application_fees",
    ]
    problems: list[str] = []
    for path in paths:
        ours = _get(server, path)
        problems += shape_differences(ours, theirs, f"list({path})")
        if ours.get("object") != "list" or ours.get("url") != path:
            problems.append(f"list({path}): object={ours.get('object')!r} url={ours.get('url')!r}")
    assert problems == [], "\n".join(problems)
