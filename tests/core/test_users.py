"""The users service: checked, unique addresses; role and status that a user's keys follow
at once; soft deletion; and the rule that someone can always administer."""

from __future__ import annotations

import datetime as dt

import pytest
from crmkit.core import Conflict, NotFound, Runtime, Unauthorized, ValidationFailed
from crmkit.core.apikeys import authenticate, create_key, list_keys, revoke_key
from crmkit.core.roles import RoleCreate, create_role
from crmkit.core.users import (
    UserCreate,
    UserPatch,
    create_user,
    delete_user,
    find_user,
    get_user,
    list_users,
    restore_user,
    update_user,
)


@pytest.fixture
def enabled() -> list[str]:
    return ["example"]


def fields(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


async def count(runtime: Runtime) -> int:
    return int(await runtime.db.fetchval("SELECT COUNT(*) AS n FROM crmkit_user"))


async def add(runtime: Runtime, email: str, name: str = "Kari", role: str = "viewer", **kw):
    return await create_user(runtime, UserCreate(name=name, email=email, role=role, **kw))


# -- create --------------------------------------------------------------------------------


async def test_create_normalises_the_address_and_defaults(runtime: Runtime) -> None:
    user = await add(runtime, "  Kari.Nordmann@Example.COM ", name="  Kari Nordmann ")
    assert user.email == "kari.nordmann@example.com"
    assert user.name == "Kari Nordmann"
    assert (user.role, user.active, user.deleted_at) == ("viewer", True, None)
    assert user.created_at.tzinfo is not None
    assert await get_user(runtime, user.id) == user
    assert await find_user(runtime, "KARI.nordmann@example.com") == user


async def test_an_address_is_unique_in_any_case(runtime: Runtime) -> None:
    await add(runtime, "kari@example.com")
    with pytest.raises(Conflict) as exc:
        await add(runtime, "KARI@Example.com", name="Other")
    assert fields(exc) == ["email"]
    assert await count(runtime) == 1


async def test_every_problem_is_named_and_nothing_is_written(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as exc:
        await add(runtime, "not-an-address", name="   ", role="boss")
    assert fields(exc) == ["name", "email", "role"]
    assert "@" in exc.value.errors[1].message
    assert await count(runtime) == 0


async def test_a_custom_role_can_be_given(runtime: Runtime) -> None:
    await create_role(runtime, RoleCreate(name="sales", grants={"vehicle": ["read"]}))
    assert (await add(runtime, "s@example.com", role="sales")).role == "sales"


# -- list ----------------------------------------------------------------------------------


async def test_list_filters_and_pages(runtime: Runtime) -> None:
    a = await add(runtime, "anna@example.com", name="Anna Berg", role="agent")
    b = await add(runtime, "bob@example.com", name="Bob 100%", role="viewer", active=False)
    c = await add(runtime, "cecilie@acme.no", name="Cecilie", role="agent")
    d = await add(runtime, "dag@acme.no", name="Dag")
    await delete_user(runtime, d.id)

    async def emails(**kw) -> list[str]:
        return [u.email for u in (await list_users(runtime, **kw)).data]

    assert await emails() == [a.email, b.email, c.email]  # by address; deleted left out
    assert await emails(include_deleted=True) == [a.email, b.email, c.email, d.email]
    assert await emails(active=True) == [a.email, c.email]
    assert await emails(active=False) == [b.email]
    assert await emails(role="agent") == [a.email, c.email]
    assert await emails(q="ACME") == [c.email]
    assert await emails(q="berg") == [a.email]
    assert await emails(q="100%") == [b.email]
    assert await emails(q="%") == [b.email]  # a literal percent sign, not a wildcard

    first = await list_users(runtime, limit=2)
    assert [u.email for u in first.data] == [a.email, b.email]
    rest = await list_users(runtime, limit=2, cursor=first.next_cursor)
    assert [u.email for u in rest.data] == [c.email]
    assert rest.next_cursor is None


# -- keys follow their user ----------------------------------------------------------------


async def test_a_users_key_acts_as_the_user_with_the_users_current_role(
    runtime: Runtime,
) -> None:
    user = await add(runtime, "kari@example.com", name="Kari", role="agent")
    info, key = await create_key(runtime, user_id=user.id)
    assert (info.name, info.role, info.user_id, info.user_email) == (
        "kari@example.com",
        "agent",
        user.id,
        "kari@example.com",
    )
    actor = await authenticate(runtime, key)
    assert (actor.id, actor.name, actor.role, actor.kind) == (str(user.id), "Kari", "agent", "user")

    await update_user(runtime, user.id, UserPatch(role="manager", name="Kari N"))
    actor = await authenticate(runtime, key)
    assert (actor.name, actor.role) == ("Kari N", "manager")
    assert [k.role for k in await list_keys(runtime, user_id=user.id)] == ["manager"]

    await update_user(runtime, user.id, UserPatch(active=False))
    with pytest.raises(Unauthorized, match="not active"):
        await authenticate(runtime, key)
    await update_user(runtime, user.id, UserPatch(active=True))
    assert (await authenticate(runtime, key)).kind == "user"


async def test_delete_and_restore(runtime: Runtime) -> None:
    user = await add(runtime, "kari@example.com")
    _, key = await create_key(runtime, user_id=user.id)
    deleted = await delete_user(runtime, user.id)
    assert deleted.active is False and deleted.deleted_at is not None
    with pytest.raises(Unauthorized):
        await authenticate(runtime, key)
    assert (await delete_user(runtime, user.id)).deleted_at == deleted.deleted_at  # idempotent
    with pytest.raises(Conflict) as exc:  # a deleted user is restored, not patched active
        await update_user(runtime, user.id, UserPatch(active=True))
    assert fields(exc) == ["active"]
    with pytest.raises(Conflict) as exc:  # the address stays taken: restore instead
        await add(runtime, "kari@example.com")
    assert "restored" in exc.value.detail
    restored = await restore_user(runtime, user.id)
    assert restored.active is True and restored.deleted_at is None
    assert (await authenticate(runtime, key)).id == str(user.id)


async def test_a_key_cannot_be_made_for_an_inactive_or_unknown_user(runtime: Runtime) -> None:
    user = await add(runtime, "kari@example.com", active=False)
    with pytest.raises(ValidationFailed) as exc:
        await create_key(runtime, user_id=user.id, role="admin")
    assert fields(exc) == ["user_id", "role"]
    with pytest.raises(ValidationFailed) as exc:
        await create_key(runtime, user_id="00000000-0000-0000-0000-000000000000")
    assert fields(exc) == ["user_id", "name"]
    assert await list_keys(runtime) == []


async def test_update_checks_and_keeps_addresses_unique(runtime: Runtime) -> None:
    a = await add(runtime, "a@example.com")
    await add(runtime, "b@example.com")
    with pytest.raises(Conflict) as exc:
        await update_user(runtime, a.id, UserPatch(email="B@example.com"))
    assert fields(exc) == ["email"]
    with pytest.raises(ValidationFailed) as exc:
        await update_user(runtime, a.id, UserPatch(email="nope", role="nope", name=""))
    assert sorted(fields(exc)) == ["email", "name", "role"]
    changed = await update_user(runtime, a.id, UserPatch(email="A2@Example.com"))
    assert changed.email == "a2@example.com" and changed.updated_at > a.updated_at
    with pytest.raises(NotFound):
        await update_user(runtime, "00000000-0000-0000-0000-000000000000", UserPatch(name="x"))


# -- someone can always administer ---------------------------------------------------------


async def test_the_last_admin_user_cannot_be_demoted_or_deactivated(runtime: Runtime) -> None:
    admin = await add(runtime, "root@example.com", role="admin")
    for change in (UserPatch(role="manager"), UserPatch(active=False)):
        with pytest.raises(Conflict, match="last admin"):
            await update_user(runtime, admin.id, change)
    with pytest.raises(Conflict, match="last admin"):
        await delete_user(runtime, admin.id)
    assert (await get_user(runtime, admin.id)).role == "admin"

    # Revoked and expired admin service keys do not count ...
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    await create_key(runtime, name="old", role="admin", expires_at=past)
    info, _ = await create_key(runtime, name="gone", role="admin")
    await revoke_key(runtime, str(info.id))
    await create_key(runtime, name="svc", role="manager")
    with pytest.raises(Conflict):
        await update_user(runtime, admin.id, UserPatch(role="viewer"))

    # ... another admin user does,
    other = await add(runtime, "two@example.com", role="admin")
    assert (await update_user(runtime, admin.id, UserPatch(role="viewer"))).role == "viewer"
    with pytest.raises(Conflict):
        await delete_user(runtime, other.id)
    # ... and so does a working admin service key.
    await create_key(runtime, name="ops", role="admin")
    assert (await delete_user(runtime, other.id)).deleted_at is not None


async def test_non_admins_can_change_freely_without_any_admin(runtime: Runtime) -> None:
    user = await add(runtime, "kari@example.com", role="agent")
    assert (await update_user(runtime, user.id, UserPatch(role="viewer"))).role == "viewer"
    assert (await delete_user(runtime, user.id)).active is False
