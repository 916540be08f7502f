"""Merchants (the platform's key) and their API keys (the merchant's own, or the platform's)."""

from __future__ import annotations

from fastapi import APIRouter

from qrcheckout.access.permissions import Action
from qrcheckout.access.schemas import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    MerchantCreate,
    MerchantCreated,
    MerchantList,
    MerchantOut,
    MerchantSettings,
    WebhookSecret,
)
from qrcheckout.http.deps import AccessDep, MerchantsDep

router = APIRouter(tags=["merchants"])


@router.post("/v1/merchants", status_code=201, response_model=MerchantCreated)
async def create_merchant(
    body: MerchantCreate, merchants: MerchantsDep, access: AccessDep
) -> MerchantCreated:
    """A new merchant; its ``webhook_secret`` (signing its webhooks) is shown in this answer
    only."""
    made = await merchants.create(access, body)
    return MerchantCreated(
        **MerchantOut.model_validate(made).model_dump(), webhook_secret=made.webhook_secret
    )


@router.get("/v1/merchants", response_model=MerchantList)
async def list_merchants(merchants: MerchantsDep, access: AccessDep) -> MerchantList:
    """Every merchant for the platform's key; a merchant's key sees itself."""
    rows = await merchants.all(access)
    return MerchantList(data=[MerchantOut.model_validate(m) for m in rows])


@router.get("/v1/merchants/{merchant_id}", response_model=MerchantOut)
async def get_merchant(merchant_id: str, merchants: MerchantsDep, access: AccessDep) -> MerchantOut:
    return MerchantOut.model_validate(await merchants.get(access, merchant_id))


@router.patch("/v1/merchants/{merchant_id}", response_model=MerchantOut)
async def update_merchant(
    merchant_id: str, body: MerchantSettings, merchants: MerchantsDep, access: AccessDep
) -> MerchantOut:
    return MerchantOut.model_validate(await merchants.update(access, merchant_id, body))


@router.post("/v1/merchants/{merchant_id}/webhook-secret", response_model=WebhookSecret)
async def rotate_webhook_secret(
    merchant_id: str, merchants: MerchantsDep, access: AccessDep
) -> WebhookSecret:
    """A new secret signing the merchant's webhooks from now on, shown in this answer only."""
    secret = await merchants.rotate_webhook_secret(access, merchant_id)
    return WebhookSecret(merchant_id=merchant_id, secret=secret)


@router.get("/v1/merchants/{merchant_id}/api-keys", response_model=KeyList)
async def list_keys(merchant_id: str, merchants: MerchantsDep, access: AccessDep) -> KeyList:
    merchants.may_manage_keys(access, merchant_id, Action.LIST)
    rows = await merchants.keys(merchant_id)
    return KeyList(data=[KeyOut.model_validate(k) for k in rows])


@router.post("/v1/merchants/{merchant_id}/api-keys", status_code=201, response_model=KeyCreated)
async def create_key(
    merchant_id: str, body: KeyCreate, merchants: MerchantsDep, access: AccessDep
) -> KeyCreated:
    """A new key; its ``secret`` is shown in this answer only."""
    merchants.may_manage_keys(access, merchant_id, Action.CREATE)
    made = await merchants.create_key(merchant_id, body.name)
    return KeyCreated(**KeyOut.model_validate(made.key).model_dump(), secret=made.secret)


@router.delete("/v1/merchants/{merchant_id}/api-keys/{key_id}", response_model=KeyOut)
async def revoke_key(
    merchant_id: str, key_id: str, merchants: MerchantsDep, access: AccessDep
) -> KeyOut:
    """Revoke a key: it stops working at once."""
    merchants.may_manage_keys(access, merchant_id, Action.CANCEL)
    return KeyOut.model_validate(await merchants.revoke_key(merchant_id, key_id))
