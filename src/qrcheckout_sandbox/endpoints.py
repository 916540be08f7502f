"""Webhook endpoints: where events are delivered, each with its own signing secret."""

from __future__ import annotations

import secrets
from typing import Any

from qrcheckout_sandbox import params as p
from qrcheckout_sandbox import shapes
from qrcheckout_sandbox.core import Ctx
from qrcheckout_sandbox.objects import invalid, missing, new_id

MAX_ENDPOINTS = 16


def create_endpoint(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    url = p.url(params, "url", required=True)
    events = _events(params)
    if not events:
        raise missing("enabled_events")
    if sum(1 for _ in ctx.store.find("webhook_endpoint", ctx.account)) >= MAX_ENDPOINTS:
        raise invalid(
            "url", f"You have reached the maximum of {MAX_ENDPOINTS} test webhook endpoints."
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = shapes.blank(
        "webhook_endpoint",
        id=new_id("we_"),
        url=url,
        enabled_events=events,
        created=ctx.now(),
        description=p.text(params, "description"),
        metadata=p.metadata(params),
        api_version=p.text(params, "api_version"),
        application=None,
        status="enabled",
    )
    connect = p.boolean(params, "connect")
    ctx.add("webhook_endpoint", endpoint, secret=secret, connect=connect)
    return endpoint | {"secret": secret}  # shown once, on create, as Stripe does


def update_endpoint(ctx: Ctx, params: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    endpoint = ctx.get("webhook_endpoint", endpoint_id)
    if "url" in params:
        endpoint["url"] = p.url(params, "url", required=True)
    if "enabled_events" in params:
        events = _events(params)
        if not events:
            raise missing("enabled_events")
        endpoint["enabled_events"] = events
    if "disabled" in params:
        endpoint["status"] = "disabled" if p.boolean(params, "disabled") else "enabled"
    if "description" in params:
        endpoint["description"] = p.text(params, "description")
    endpoint["metadata"] = p.metadata(params, endpoint["metadata"])
    return ctx.saved(endpoint)


def delete_endpoint(ctx: Ctx, params: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    ctx.get("webhook_endpoint", endpoint_id)
    ctx.store.move(endpoint_id, "deleted_webhook_endpoint")
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def _events(params: dict[str, Any]) -> list[str]:
    events = p.strings(params, "enabled_events")
    for name in events:
        if name != "*" and ("." not in name or " " in name):
            raise invalid("enabled_events", f"Invalid event type: {name}")
    return events
