"""Of a card the sandbox keeps what Stripe keeps: never its number or CVC, in memory or on disk.

Its files are its owner's alone; test cards still decline as documented, also after a restart.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import stripe

from qrcheckout_sandbox.app import STATE_FILE
from tests.support.flows import submit_card
from tests.support.sdk import client as _client
from tests.support.sdk import session_params
from tests.support.server import RunningServer

# The sandbox keeps its own state: the product's database plays no part here.
pytestmark = pytest.mark.one_database

YEAR = date.today().year + 3
# Every number and CVC typed below; none may be kept.
TYPED = {
    "4000000000000002": "7391",  # declined on the hosted page
    "4000056655665556": "8264",  # paid on the hosted page
    "5555555555554444": "5190",  # a token
    "4000000000009995": "6047",  # a PaymentMethod, declined for insufficient funds
    "378282246310005": "4410",  # a customer's saved card
}


def _card(number: str) -> Any:
    return {"number": number, "exp_month": 11, "exp_year": YEAR, "cvc": TYPED[number]}


def _strings(node: Any) -> Iterator[str]:
    """Every key and string value in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _leaks(documents: list[Any]) -> list[str]:
    """What of the typed cards ``documents`` keep: a number inside any string, a CVC as one."""
    found = []
    for text in (s for doc in documents for s in _strings(doc)):
        digits = text.replace(" ", "")
        found += [number for number in TYPED if number in digits]
        found += [cvc for cvc in TYPED.values() if text == cvc]
        if text in ("number", "cvc"):
            found.append(f"a field named {text}")
    return found


def _state_on_disk(path: Path) -> list[Any]:
    db = sqlite3.connect(str(path))
    try:
        rows = db.execute("SELECT body, extra FROM records").fetchall()
        replays = db.execute("SELECT fingerprint, body FROM idempotency").fetchall()
    finally:
        db.close()
    return (
        [json.loads(text) for row in rows for text in row]
        + [json.loads(body) for _, body in replays]
        + [fingerprint for fingerprint, _ in replays]
    )


def _pay_with_every_kind_of_card(server: RunningServer) -> None:
    client = _client(server)
    session = client.v1.checkout.sessions.create(session_params())
    declined = submit_card(session.url, "4000 0000 0000 0002", cvc=TYPED["4000000000000002"])
    assert declined.status_code == 402 and "Your card was declined." in declined.text
    assert TYPED["4000000000000002"] not in declined.text  # the form comes back without its CVC
    paid = submit_card(session.url, "4000 0566 5566 5556", cvc=TYPED["4000056655665556"])
    assert paid.status_code == 303
    token = client.v1.tokens.create({"card": _card("5555555555554444")})
    assert token.card is not None and token.card.last4 == "4444"
    client.v1.charges.create({"amount": 700, "currency": "usd", "source": token.id})
    method = client.v1.payment_methods.create(
        {"type": "card", "card": _card("4000000000009995")}, {"idempotency_key": "pm-1"}
    )
    with pytest.raises(stripe.CardError) as no_funds:
        client.v1.payment_intents.create(
            {"amount": 900, "currency": "usd", "payment_method": method.id, "confirm": True}
        )
    assert no_funds.value.code == "card_declined"
    assert no_funds.value.error is not None
    assert no_funds.value.error.decline_code == "insufficient_funds"
    saved = client.v1.tokens.create({"card": _card("378282246310005")})
    client.v1.customers.create({"email": "saved@example.com", "source": saved.id})


def test_no_card_number_or_cvc_is_kept_in_memory_or_in_the_state_file(
    make_server: Any, tmp_path: Path
) -> None:
    data = tmp_path / "made" / "here"
    server = make_server(data_dir=data)
    _pay_with_every_kind_of_card(server)
    store = server.sandbox.store
    in_memory = [doc for record in store.records() for doc in (record.obj, record.extra)]
    assert len(in_memory) > 20 and _leaks(in_memory) == []
    store.wait()
    # While it runs, SQLite's -wal and -shm files too are the owner's alone.
    files = {p.name for p in data.iterdir()}
    assert {STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm"} <= files
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        raw = path.read_bytes()
        assert [n for n in TYPED if n.encode() in raw] == [], path.name
    for directory in (data, data.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    server.stop()
    on_disk = _state_on_disk(data / STATE_FILE)
    assert len(on_disk) > 20 and _leaks(on_disk) == []
    assert stat.S_IMODE((data / STATE_FILE).stat().st_mode) == 0o600


def test_declines_and_fingerprints_are_kept_across_a_restart(make_server: Any) -> None:
    first = make_server()
    client = _client(first)
    declining = client.v1.payment_methods.create(
        {"type": "card", "card": _card("4000000000000002")}
    )
    paying = client.v1.payment_methods.create({"type": "card", "card": _card("5555555555554444")})
    once = client.v1.tokens.create({"card": _card("5555555555554444")})
    twice = client.v1.tokens.create({"card": _card("5555555555554444") | {"exp_month": 3}})
    other = client.v1.tokens.create({"card": _card("4000056655665556")})
    assert once.card is not None and twice.card is not None and other.card is not None
    assert once.card.fingerprint == twice.card.fingerprint != other.card.fingerprint
    visa = client.v1.payment_methods.retrieve(
        client.v1.payment_intents.create(
            {"amount": 500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
        ).payment_method
    )
    first.stop()

    again = _client(make_server())
    with pytest.raises(stripe.CardError) as declined:
        again.v1.payment_intents.create(
            {"amount": 1200, "currency": "usd", "payment_method": declining.id, "confirm": True}
        )
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "generic_decline"
    assert declined.value.user_message == "Your card was declined."
    paid = again.v1.payment_intents.create(
        {"amount": 1200, "currency": "usd", "payment_method": paying.id, "confirm": True}
    )
    assert paid.status == "succeeded"
    later = again.v1.tokens.create({"card": _card("5555555555554444")})
    assert later.card is not None and later.card.fingerprint == once.card.fingerprint
    typed_visa = again.v1.tokens.create(
        {"card": _card("5555555555554444") | {"number": "4242424242424242"}}
    )
    assert typed_visa.card is not None and visa.card is not None
    assert typed_visa.card.fingerprint == visa.card.fingerprint
