"""The catalog in the back office: products added, changed and archived from a form, the shop
changing with them, every bad field refused with the form kept, nothing of another merchant's."""

from __future__ import annotations

from typing import Any

from tests.conftest import ServerFactory
from tests.support.dashboard import add_staff, csrf_of, sign_in
from tests.support.merchants import ADMIN_KEY, add_acme
from tests.support.server import RunningServer

NEW = {
    "id": "cortado-xl",
    "name": "Cortado XL",
    "description": "Double shot, silky milk",
    "image_url": "https://images.example/cortado-xl.jpg",
    "price": "3.80",
    "currency": "eur",
    "capacity": "",
    "max_per_order": "",
}


def _product(server: RunningServer, product_id: str) -> dict[str, Any] | None:
    """The product as the shop's catalog lists it; None when not on sale."""
    listed = server.client.get("/v1/products").json()["data"]
    return next((p for p in listed if p["id"] == product_id), None)


def _post(client, path: str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf": csrf_of(client.get("/dashboard/catalog/new")), **fields})


def test_a_product_is_added_changed_and_archived(server: RunningServer) -> None:
    add_staff(server, role="staff")
    client = sign_in(server)
    added = _post(client, "/dashboard/catalog/new", NEW)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/dashboard/catalog/cortado-xl?done=product_created"
    made = _product(server, "cortado-xl")
    assert made is not None
    assert (made["unit_amount"], made["currency"], made["image_url"]) == (
        380,
        "eur",
        NEW["image_url"],
    )
    shop = server.client.get("/")
    assert "Cortado XL" in shop.text and NEW["image_url"] in shop.text
    changed = _post(
        client,
        "/dashboard/catalog/cortado-xl",
        {**NEW, "name": "Cortado XL (large)", "price": "4.20", "image_url": "", "capacity": "30"},
    )
    assert changed.status_code == 303, changed.text
    made = _product(server, "cortado-xl")
    assert (made["name"], made["unit_amount"], made["image_url"], made["capacity"]) == (
        "Cortado XL (large)",
        420,
        None,
        30,
    )
    assert "Cortado XL (large)" in server.client.get("/").text
    archived = _post(client, "/dashboard/catalog/cortado-xl/archive", {"active": "no"})
    assert archived.status_code == 303
    assert "Cortado XL" not in server.client.get("/").text
    assert _product(server, "cortado-xl") is None
    listed = client.get("/dashboard/catalog")
    assert "Cortado XL (large)" in listed.text and "archived" in listed.text
    back = _post(client, "/dashboard/catalog/cortado-xl/archive", {"active": "yes"})
    assert back.status_code == 303
    assert "Cortado XL (large)" in server.client.get("/").text


def test_bad_fields_are_refused_and_change_nothing(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    for changes, said in (
        ({"price": "3,80"}, "Give the price in EUR"),
        ({"price": "-1"}, "Give the price in EUR"),
        ({"price": "0.001"}, "Give the price in EUR"),
        ({"currency": "xyz"}, "XYZ is not an ISO 4217 currency"),
        ({"name": ""}, "name"),
        ({"id": "bad id!"}, "id"),
        ({"image_url": "http://insecure.example/x.png"}, "https"),
        ({"image_url": "javascript:alert(1)"}, "https"),
        ({"capacity": "-3"}, "capacity"),
        ({"max_per_order": "0"}, "max_per_order"),
        ({"name": "x" * 201}, "name"),
    ):
        answer = _post(client, "/dashboard/catalog/new", {**NEW, **changes})
        assert answer.status_code == 422, (changes, answer.status_code)
        assert said in answer.text, (changes, said)
        # The form keeps what was typed.
        assert "Double shot, silky milk" in answer.text
    assert _product(server, "cortado-xl") is None
    _post(client, "/dashboard/catalog/new", NEW)
    twice = _post(client, "/dashboard/catalog/new", NEW)
    assert twice.status_code == 409
    refused = _post(client, "/dashboard/catalog/cortado-xl", {**NEW, "price": "free"})
    assert refused.status_code == 422
    assert (_product(server, "cortado-xl") or {}).get("unit_amount") == 380


def test_another_merchants_product_is_not_found(make_server: ServerFactory) -> None:
    server = make_server(admin_key=ADMIN_KEY)
    add_acme(server)  # acme has its own "espresso"
    add_staff(server, "owner@acme.example", merchant="acme")
    acme = sign_in(server, "owner@acme.example", merchant="acme")
    assert "Gig ticket" in acme.get("/dashboard/catalog").text
    assert "qrcheckout café" not in acme.get("/dashboard/catalog").text
    renamed = _post(acme, "/dashboard/catalog/espresso", {**NEW, "name": "Acme espresso"})
    assert renamed.status_code == 303
    assert (_product(server, "espresso") or {}).get("name") == "Espresso"
    assert acme.get("/dashboard/catalog/croissant").status_code == 404


def test_odd_numbers_and_an_unknown_archive_value_change_nothing(server: RunningServer) -> None:
    add_staff(server)
    client = sign_in(server)
    for field in ("capacity", "max_per_order"):
        for odd in ("²", "١", "𝟙", "9" * 40):
            answer = _post(client, "/dashboard/catalog/new", {**NEW, field: odd})
            assert answer.status_code == 422, (field, odd)
    assert _product(server, "cortado-xl") is None
    for odd in ("", "maybe", "YES"):
        answer = _post(client, "/dashboard/catalog/espresso/archive", {"active": odd})
        assert answer.status_code == 422, odd
    assert _product(server, "espresso") is not None
    crlf = _post(client, "/dashboard/catalog/new", {**NEW, "name": "Two\r\nlines"})
    assert crlf.status_code == 422 and "line breaks" in crlf.text
