"""The permission table: who may act on which rows, and what they see of them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite

from qrcheckout.access.permissions import OWNERS, PERMISSIONS, Access, Action, Resource, Rows
from qrcheckout.access.roles import Principal, Role
from qrcheckout.checkout.models import Token
from qrcheckout.errors import Forbidden, NotFound, Unauthenticated

ANON = Access(Principal(Role.ANONYMOUS, shop="default"))
ALICE = Access(Principal(Role.USER, shop="default", user_id="alice", email="a@example.com"))
BOB = Access(Principal(Role.USER, shop="default", user_id="bob"))
SHOP = Access(Principal(Role.MERCHANT, shop="default", merchant_id="default"))
ACME = Access(Principal(Role.MERCHANT, shop="acme", merchant_id="acme"))
ADMIN = Access(Principal(Role.ADMIN, shop="default"))


def _token(**fields: Any) -> Any:
    return SimpleNamespace(**{"merchant_id": "default", "user_id": None, **fields})


@pytest.mark.parametrize("role", list(Role))
def test_every_grant_names_rows_its_resource_can_tell(role: Role) -> None:
    # A grant on a buyer's own rows needs a column naming the buyer, and so on: a table entry
    # that cannot be evaluated would silently match nothing or everything.
    for (resource, _action), grants in PERMISSIONS[role].items():
        owners = OWNERS[resource]
        for grant in grants:
            if grant.rows is Rows.OWN:
                assert owners.user, resource
            if grant.rows in (Rows.MERCHANT, Rows.SHOP):
                assert owners.merchant, resource


def test_the_public_view_hides_the_buyer() -> None:
    token = _token(user_id="alice")
    public = ANON.check(Resource.TOKEN, Action.READ, token)
    data = {"id": "t", "customer_email": "a@example.com", "user_id": "alice", "status": "x"}
    assert public.view(data) == {"id": "t", "status": "x"}
    assert ALICE.check(Resource.TOKEN, Action.READ, token).view(data) == data
    assert SHOP.check(Resource.TOKEN, Action.READ, token).view(data) == data
    assert ACME.check(Resource.TOKEN, Action.READ, token).view(data) == public.view(data)


def test_refusals_tell_nothing_the_caller_may_not_know() -> None:
    alices = _token(user_id="alice")
    with pytest.raises(Unauthenticated):
        ANON.check(Resource.TOKEN, Action.CANCEL, alices)
    assert ANON.check(Resource.TOKEN, Action.CANCEL, alices, capability=True)
    with pytest.raises(Forbidden):
        BOB.check(Resource.TOKEN, Action.CANCEL, alices)
    assert ALICE.check(Resource.TOKEN, Action.CANCEL, alices)
    with pytest.raises(Forbidden):
        ACME.check(Resource.ORDER, Action.REFUND, SimpleNamespace(merchant_id="default"))
    # Keys are not readable by id: another merchant's are simply not there.
    with pytest.raises(NotFound):
        ACME.check(Resource.API_KEY, Action.LIST, {"merchant_id": "default"})
    assert ADMIN.check(Resource.API_KEY, Action.LIST, {"merchant_id": "default"})
    with pytest.raises(Unauthenticated):
        ANON.grants(Resource.TOKEN, Action.LIST)
    with pytest.raises(Forbidden):
        SHOP.grants(Resource.MERCHANT, Action.CREATE)


def test_new_rows_belong_to_the_key_holder_or_the_shop_addressed() -> None:
    assert ACME.shop_for_new(Resource.TOKEN) == "acme"
    assert Access(Principal(Role.ANONYMOUS, shop="acme")).shop_for_new(Resource.TOKEN) == "acme"
    with pytest.raises(Unauthenticated):
        ANON.shop_for_new(Resource.PRODUCT)


def _where(access: Access) -> str:
    clause = access.scope(Resource.TOKEN, Action.LIST, Token)
    compiled = clause.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled)


def test_lists_are_scoped_in_the_query() -> None:
    assert _where(SHOP) == "tokens.merchant_id = 'default'"
    assert _where(ALICE) == "tokens.user_id = 'alice'"
    assert _where(ADMIN) == "1"  # true()


def test_events_reach_their_merchant_and_buyer_only() -> None:
    event = {"merchant_id": "default", "user_id": "alice", "payload": {}}
    unowned = {"merchant_id": None, "user_id": None, "payload": {}}
    assert SHOP.allows(Resource.EVENT, Action.SUBSCRIBE, event)
    assert not ACME.allows(Resource.EVENT, Action.SUBSCRIBE, event)
    assert ALICE.allows(Resource.EVENT, Action.SUBSCRIBE, event)
    assert not BOB.allows(Resource.EVENT, Action.SUBSCRIBE, event)
    assert not SHOP.allows(Resource.EVENT, Action.SUBSCRIBE, unowned)
    assert ADMIN.allows(Resource.EVENT, Action.SUBSCRIBE, unowned)


OWNER = Access(Principal(Role.OWNER, shop="default", merchant_id="default"))
CLERK = Access(Principal(Role.STAFF, shop="default", merchant_id="default"))
MINE, THEIRS = {"merchant_id": "default"}, {"merchant_id": "acme"}


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        (Resource.ORDER, Action.LIST),
        (Resource.ORDER, Action.REFUND),
        (Resource.ORDER, Action.CANCEL),
        (Resource.TOKEN, Action.CANCEL),
        (Resource.PRODUCT, Action.UPDATE),
        (Resource.EVENT, Action.LIST),
        (Resource.EVENT, Action.REPLAY),
        (Resource.DELIVERY, Action.REPLAY),
        (Resource.STAFF_MEMBER, Action.LIST),
    ],
)
def test_back_office_staff_run_the_shop(resource: Resource, action: Action) -> None:
    for access in (OWNER, CLERK):
        assert access.allows(resource, action, MINE) is not None
        assert access.allows(resource, action, THEIRS) is None


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        (Resource.MERCHANT, Action.UPDATE),
        (Resource.API_KEY, Action.LIST),
        (Resource.API_KEY, Action.CREATE),
        (Resource.API_KEY, Action.CANCEL),
        (Resource.STRIPE_ACCOUNT, Action.CREATE),
        (Resource.STRIPE_ACCOUNT, Action.CANCEL),
        (Resource.STAFF_MEMBER, Action.CREATE),
        (Resource.STAFF_MEMBER, Action.CANCEL),
    ],
)
def test_only_the_owner_keeps_settings_keys_links_and_staff(
    resource: Resource, action: Action
) -> None:
    assert OWNER.allows(resource, action, {**MINE, "id": "default"}) is not None
    assert OWNER.allows(resource, action, {**THEIRS, "id": "acme"}) is None
    assert not CLERK.may(resource, action)
    with pytest.raises(Forbidden):
        CLERK.grants(resource, action)


def test_the_back_office_charges_no_cards() -> None:
    for access in (OWNER, CLERK):
        assert not access.may(Resource.CARD_CHARGE, Action.CREATE)
