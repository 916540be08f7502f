"""Security headers on every answer: a nonce-based Content-Security-Policy that the pages' own
inline script and style carry, no framing (above all of the pay and QR pages), nosniff and a
same-origin referrer policy; a looser policy (inline scripts, still no other host) only on /docs
and /redoc."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.flows import create_token, pay_page
from tests.support.server import RunningServer

pytestmark = pytest.mark.one_database

JSON = {"content-type": "application/json"}


def policy(response: httpx.Response) -> dict[str, str]:
    """The CSP as {directive: sources}."""
    directives = (d.strip() for d in response.headers["content-security-policy"].split(";"))
    return {name: rest for name, _, rest in (d.partition(" ") for d in directives if d)}


def assert_protected(response: httpx.Response) -> dict[str, str]:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = policy(response)
    assert csp["frame-ancestors"] == "'none'"
    return csp


def assert_strict(response: httpx.Response) -> str:
    """The app's own policy: scripts and styles from here or with this answer's nonce only;
    returns the nonce."""
    csp = assert_protected(response)
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{16,})'", csp["script-src"])
    assert nonce, csp["script-src"]
    assert csp["style-src"] == f"'self' 'nonce-{nonce.group(1)}'"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    return nonce.group(1)


def assert_inline_code_is_nonced(page: httpx.Response) -> None:
    """Every inline <script> and <style> carries this answer's nonce; no inline handler or
    style attribute (which no nonce can admit) is left."""
    nonce = assert_strict(page)
    tags = re.findall(r"<(script|style)\b([^>]*)>", page.text)
    assert tags
    for _, attributes in tags:
        assert f'nonce="{nonce}"' in attributes
    assert not re.search(r"\s(on[a-z]+|style)\s*=", page.text, re.IGNORECASE)
    assert "javascript:" not in page.text


def test_pages_carry_a_strict_policy_and_nonce_their_inline_code(server: RunningServer) -> None:
    token = create_token(server)
    shop = server.client.get("/")
    assert shop.status_code == 200
    assert_inline_code_is_nonced(shop)
    qr = server.client.get(f"/checkout/{token['id']}")
    assert qr.status_code == 200 and "<script nonce=" in qr.text
    assert_inline_code_is_nonced(qr)
    # A nonce is good for one answer only.
    assert assert_strict(server.client.get(f"/checkout/{token['id']}")) != assert_strict(qr)
    notice = server.client.get(f"/t/{token['id']}/back")
    assert_inline_code_is_nonced(notice)
    missing = server.client.get("/checkout/not-a-token")
    assert missing.status_code == 404
    assert_inline_code_is_nonced(missing)


def test_the_pay_and_qr_pages_cannot_be_framed(server: RunningServer) -> None:
    token = create_token(server)
    assert_protected(server.client.get(f"/checkout/{token['id']}"))
    scan = server.client.get(f"/t/{token['id']}", follow_redirects=False)
    assert scan.status_code == 303
    assert_protected(scan)
    # The sandbox's hosted pay page keeps its own markup but is not framed either.
    hosted = httpx.get(pay_page(server, token["id"]))
    assert hosted.status_code == 200
    assert_protected(hosted)
    assert hosted.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_api_answers_carry_the_headers_too(server: RunningServer) -> None:
    token = create_token(server)
    for response in (
        server.client.get("/v1/products"),
        server.client.get("/healthz"),
        server.client.get(f"/v1/tokens/{token['id']}"),
        server.client.get(f"/v1/tokens/{token['id']}/qr.svg"),
        server.client.get("/v1/nothing-here"),
        server.client.post("/v1/tokens", content=b"{", headers=JSON),
        server.client.get("/openapi.json"),
    ):
        assert response.status_code < 500, response.text
        assert_strict(response)
    # Streamed answers get them with their first bytes, and still stream.
    with server.client.stream("GET", f"/v1/tokens/{token['id']}/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        assert_strict(events)
        assert next(events.iter_lines()).startswith("retry:")


def test_refusals_made_before_the_routes_carry_them(server: RunningServer) -> None:
    too_large = server.client.post("/v1/tokens", content=b"x" * 70_000, headers=JSON)
    assert too_large.status_code == 413
    assert_strict(too_large)


def test_docs_pages_load_their_assets_from_the_service_only(server: RunningServer) -> None:
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        docs = server.client.get(path)
        assert docs.status_code == 200
        assert f'src="/docs-assets/{asset}"' in docs.text and "https://" not in docs.text
        csp = assert_protected(docs)
        assert "https:" not in " ".join(csp.values())
        assert csp["script-src"] == "'self' 'unsafe-inline'"
        assert csp["connect-src"] == "'self'" and csp["object-src"] == "'none'"
        script = server.client.get(f"/docs-assets/{asset}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    # Only those two pages: everything else keeps the strict policy.
    assert_strict(server.client.get("/docs/nothing-here"))
