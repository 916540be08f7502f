"""Webhooks as PayPal sends them: registered per app, each delivery signed with PayPal's RSA
scheme (``PAYPAL-TRANSMISSION-SIG`` over ``id|time|webhook_id|crc32(body)``, the certificate at
``PAYPAL-CERT-URL``), checked by ``POST /v1/notifications/verify-webhook-signature``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
import zlib
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from qrcheckout_sandbox.delivery import Target
from qrcheckout_sandbox.paypal.core import (
    EVENT,
    EVENT_TYPES,
    WEBHOOK,
    Call,
    link,
    new_id,
    timestamp,
)
from qrcheckout_sandbox.paypal.errors import invalid, malformed, missing, not_found
from qrcheckout_sandbox.paypal.orders import text
from qrcheckout_sandbox.store import Store

AUTH_ALGO = "SHA256withRSA"
MAX_WEBHOOKS = 10
MAX_PAGE_SIZE = 300
VERIFY_FIELDS = (
    "auth_algo",
    "cert_url",
    "transmission_id",
    "transmission_sig",
    "transmission_time",
    "webhook_id",
    "webhook_event",
)


def encode(event: dict[str, Any]) -> str:
    """An event's body as sent: compact JSON, so that verifying a parsed event rebuilds it."""
    return json.dumps(event, separators=(",", ":"))


class Signer:
    """The sandbox's signing key and its self-signed certificate, published at ``cert_url``."""

    def __init__(self, base: str) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(self._key, hashes.SHA256())
        )
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)
        digest = hashlib.sha256(self.pem).hexdigest()[:12]
        self.cert_url = f"{base}/v1/notifications/certs/CERT-360caa42-fca2a594-{digest}"

    def headers(self, payload: str, target: Target, now: int) -> dict[str, str]:
        """One delivery attempt's headers: a new transmission, signed for ``target``'s webhook."""
        transmission_id = str(uuid.uuid4())
        at = timestamp(now)
        signature = self._key.sign(
            message(transmission_id, at, target.endpoint or "", payload.encode()),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": at,
            "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": AUTH_ALGO,
            "User-Agent": "PayPal/AUHD-214.0-58021034",
        }

    def valid(self, transmission_id: str, at: str, webhook_id: str, body: bytes, sig: str) -> bool:
        try:
            signature = base64.b64decode(sig, validate=True)
            self._key.public_key().verify(
                signature,
                message(transmission_id, at, webhook_id, body),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, InvalidSignature):
            return False
        return True


def message(transmission_id: str, at: str, webhook_id: str, body: bytes) -> bytes:
    """What PayPal signs: ``transmission_id|transmission_time|webhook_id|crc32(body)``."""
    return f"{transmission_id}|{at}|{webhook_id}|{zlib.crc32(body)}".encode()


# -- registration ------------------------------------------------------------------------------


def create_webhook(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    url = body.get("url")
    if url is None:
        raise missing("/url")
    url = text(url, "/url", 2048)
    if not url.startswith(("https://", "http://")):
        raise malformed("/url", url)
    names = _event_types(body.get("event_types"))
    existing = list(call.store.find(WEBHOOK, call.client))
    if any(record.obj["url"] == url for record in existing):
        raise invalid(
            "WEBHOOK_URL_ALREADY_EXISTS",
            "The webhook URL is already registered for this app.",
            "/url",
            url,
        )
    if len(existing) >= MAX_WEBHOOKS:
        raise invalid(
            "WEBHOOK_NUMBER_LIMIT_EXCEEDED",
            f"An app can have at most {MAX_WEBHOOKS} webhooks.",
            "/url",
        )
    return call.add(WEBHOOK, webhook(call.base, new_id(), url, names))


def webhook(base: str, webhook_id: str, url: str, names: list[str]) -> dict[str, Any]:
    href = f"{base}/v1/notifications/webhooks/{webhook_id}"
    return {
        "id": webhook_id,
        "url": url,
        "event_types": [
            {"name": name, "description": EVENT_TYPES[name][1] if name != "*" else "ALL"}
            for name in names
        ],
        "links": [
            link(href, "self"),
            link(href, "update", "PATCH"),
            link(href, "delete", "DELETE"),
        ],
    }


def _event_types(value: Any) -> list[str]:
    if value is None:
        raise missing("/event_types")
    if not isinstance(value, list) or not value:
        raise malformed("/event_types")
    names = []
    for i, entry in enumerate(value):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or (name != "*" and name not in EVENT_TYPES):
            raise invalid(
                "INVALID_PARAMETER_VALUE",
                "The event type is not supported.",
                f"/event_types/{i}/name",
                name,
            )
        names.append(name)
    return names


def list_webhooks(call: Call) -> dict[str, Any]:
    return {"webhooks": [record.obj for record in call.store.find(WEBHOOK, call.client)]}


def get_webhook(call: Call, webhook_id: str) -> dict[str, Any]:
    return call.get(WEBHOOK, webhook_id, "webhook")


def delete_webhook(call: Call, webhook_id: str) -> None:
    get_webhook(call, webhook_id)
    call.store.move(webhook_id, "paypal.deleted_webhook")


def targets(store: Store, client: str, event_type: str) -> list[Target]:
    """The app's webhooks that listen for ``event_type``."""
    found = []
    for record in store.find(WEBHOOK, client):
        names = {entry["name"] for entry in record.obj["event_types"]}
        if "*" in names or event_type in names:
            found.append(Target(record.obj["url"], "", record.obj["id"]))
    return found


# -- verification and events -------------------------------------------------------------------


def verify(call: Call, signer: Signer, body: dict[str, Any]) -> dict[str, str]:
    """SUCCESS when ``webhook_event`` is what the sandbox sent to the caller's ``webhook_id``
    in the transmission named, with that signature; FAILURE otherwise."""
    for name in VERIFY_FIELDS:
        if body.get(name) is None:
            raise missing(f"/{name}")
    strings = [body[name] for name in VERIFY_FIELDS[:-1]]
    if not all(isinstance(value, str) for value in strings):
        raise malformed("/")
    if not isinstance(body["webhook_event"], dict):
        raise malformed("/webhook_event")
    ours = call.store.get(WEBHOOK, body["webhook_id"], call.client) is not None
    good = (
        ours
        and body["auth_algo"] == AUTH_ALGO
        and body["cert_url"] == signer.cert_url
        and signer.valid(
            body["transmission_id"],
            body["transmission_time"],
            body["webhook_id"],
            encode(body["webhook_event"]).encode(),
            body["transmission_sig"],
        )
    )
    return {"verification_status": "SUCCESS" if good else "FAILURE"}


def list_events(call: Call, query: dict[str, str]) -> dict[str, Any]:
    size = query.get("page_size", "10")
    if not (size.isascii() and size.isdigit()) or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise invalid(
            "INVALID_PARAMETER_VALUE",
            f"page_size is from 1 to {MAX_PAGE_SIZE}.",
            "page_size",
            size,
        )
    wanted = query.get("event_type")
    events = [
        record.obj
        for record in call.store.find(EVENT, call.client)
        if wanted is None or record.obj["event_type"] == wanted
    ][: int(size)]
    return {
        "events": events,
        "count": len(events),
        "links": [link(f"{call.base}/v1/notifications/webhooks-events", "self")],
    }


def get_event(call: Call, event_id: str) -> dict[str, Any]:
    return call.get(EVENT, event_id, "webhook event")


def resend_targets(call: Call, event: dict[str, Any], body: dict[str, Any]) -> list[Target]:
    """Where ``resend`` sends ``event`` again: the webhooks named (``webhook_ids``), else every
    webhook of the app that listens for it."""
    every = targets(call.store, call.client, event["event_type"])
    wanted = body.get("webhook_ids")
    if wanted is None:
        return every
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
        raise malformed("/webhook_ids")
    for webhook_id in wanted:
        if call.store.get(WEBHOOK, webhook_id, call.client) is None:
            raise not_found("webhook")
    return [target for target in every if target.endpoint in wanted]
