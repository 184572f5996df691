"""Custom roles and field rules: checked grants, read-only built-ins, no deleting a role in
use, and every change visible to ``runtime.permissions`` at once."""

from __future__ import annotations

import pytest
from crmkit.core import Conflict, NotFound, Runtime, ValidationFailed
from crmkit.core.access import BUILTIN_ROLES
from crmkit.core.apikeys import authenticate, create_key, revoke_key
from crmkit.core.roles import (
    FieldRuleBody,
    RoleCreate,
    RolePatch,
    create_role,
    delete_role,
    field_rules,
    get_role,
    list_roles,
    put_field_rule,
    update_role,
)
from crmkit.core.users import UserCreate, UserPatch, create_user, update_user


@pytest.fixture
def enabled() -> list[str]:
    return ["example"]


def fields(exc: pytest.ExceptionInfo) -> list[str]:
    return [e.field for e in exc.value.errors]


SALES = RoleCreate(
    name="sales",
    grants={"vehicle": ["update", "read", "read"], "*": ["read"], "activity": ["read"]},
    abilities=["manage_fields"],
    scope="own",
)


# -- roles -----------------------------------------------------------------------------------


async def test_create_and_list(runtime: Runtime) -> None:
    role = await create_role(runtime, SALES)
    assert role.name == "sales" and role.label == "Sales" and not role.builtin
    assert role.grants == {"vehicle": ["read", "update"], "*": ["read"], "activity": ["read"]}
    assert (role.abilities, role.scope) == (["manage_fields"], "own")
    listed = await list_roles(runtime)
    assert [r.name for r in listed] == [*BUILTIN_ROLES, "sales"]
    assert all(r.builtin for r in listed[:4])
    assert await get_role(runtime, "sales") == role
    assert await get_role(runtime, "viewer") == BUILTIN_ROLES["viewer"]
    with pytest.raises(NotFound):
        await get_role(runtime, "nobody")


async def test_every_bad_part_is_named_and_nothing_is_written(runtime: Runtime) -> None:
    body = RoleCreate(
        name="Sales Team",
        label="x" * 201,
        grants={"vehicle": ["read", "fly"], "spaceship": ["read"]},
        abilities=["manage_fields", "be_god"],
    )
    with pytest.raises(ValidationFailed) as exc:
        await create_role(runtime, body)
    assert fields(exc) == [
        "name",
        "label",
        "grants.vehicle[1]",
        "grants.spaceship",
        "abilities[1]",
    ]
    with pytest.raises(ValidationFailed) as exc:
        await create_role(runtime, RoleCreate(name="admin"))
    assert fields(exc) == ["name"] and "built-in" in exc.value.errors[0].message
    assert [r.name for r in await list_roles(runtime)] == list(BUILTIN_ROLES)


async def test_a_name_is_taken_once(runtime: Runtime) -> None:
    await create_role(runtime, SALES)
    with pytest.raises(Conflict) as exc:
        await create_role(runtime, RoleCreate(name="sales"))
    assert fields(exc) == ["name"]


async def test_built_in_roles_are_read_only(runtime: Runtime) -> None:
    for name in BUILTIN_ROLES:
        with pytest.raises(Conflict, match="built-in"):
            await update_role(runtime, name, RolePatch(label="Boss"))
        with pytest.raises(Conflict, match="built-in"):
            await delete_role(runtime, name)


async def test_a_change_applies_at_once(runtime: Runtime) -> None:
    await create_role(runtime, SALES)
    assert (await runtime.permissions.role("sales")).grants["vehicle"] == ["read", "update"]
    changed = await update_role(
        runtime, "sales", RolePatch(grants={"vehicle": ["read"]}, description=" Sells ")
    )
    assert changed.grants == {"vehicle": ["read"]}
    assert changed.description == "Sells"
    assert changed.abilities == ["manage_fields"]  # not named: unchanged
    # the permission cache (TTL of seconds) was refreshed, not left stale
    assert (await runtime.permissions.role("sales")).grants == {"vehicle": ["read"]}
    with pytest.raises(ValidationFailed) as exc:
        await update_role(runtime, "sales", RolePatch(abilities=["fly"], scope="mine"))  # type: ignore[arg-type]
    assert fields(exc) == ["scope", "abilities[0]"]
    with pytest.raises(NotFound):
        await update_role(runtime, "nobody", RolePatch(label="x"))


async def test_a_role_in_use_cannot_be_deleted(runtime: Runtime) -> None:
    await create_role(runtime, SALES)
    users = [
        await create_user(runtime, UserCreate(name=n, email=f"{n}@example.com", role="sales"))
        for n in ("kari", "ola")
    ]
    key, _ = await create_key(runtime, name="svc", role="sales")
    await put_field_rule(runtime, "vehicle", "price", FieldRuleBody(read_roles=["sales"]))
    with pytest.raises(Conflict) as exc:
        await delete_role(runtime, "sales")
    assert "2 users and 1 API key and the field rules of vehicle.price" in exc.value.detail
    assert exc.value.extra == {"users": 2, "api_keys": 1, "field_rules": ["vehicle.price"]}

    for user in users:
        await update_user(runtime, user.id, UserPatch(role="viewer"))
    await revoke_key(runtime, str(key.id))
    await put_field_rule(runtime, "vehicle", "price", FieldRuleBody())
    deleted = await delete_role(runtime, "sales")
    assert deleted.name == "sales"
    with pytest.raises(NotFound):
        await get_role(runtime, "sales")
    assert await runtime.permissions.role("sales") is None
    with pytest.raises(NotFound):
        await delete_role(runtime, "sales")


async def test_service_keys_take_custom_roles(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as exc:
        await create_key(runtime, name="svc", role="sales")
    assert fields(exc) == ["role"]
    await create_role(runtime, SALES)
    info, key = await create_key(runtime, name="svc", role="sales")
    actor = await authenticate(runtime, key)
    assert (actor.id, actor.name, actor.role, actor.kind) == (
        str(info.id),
        "svc",
        "sales",
        "api_key",
    )


# -- field rules ---------------------------------------------------------------------------


async def test_field_rules_of_built_in_fields(runtime: Runtime) -> None:
    await create_role(runtime, SALES)
    rule = await put_field_rule(
        runtime,
        "vehicle",
        "price",
        FieldRuleBody(read_roles=["manager", "sales", "sales"], write_roles=["manager"]),
    )
    assert (rule.read_roles, rule.write_roles) == (["manager", "sales"], ["manager"])
    await put_field_rule(runtime, "vehicle", "vin", FieldRuleBody(write_roles=["agent"]))
    assert [(r.field, r.read_roles) for r in await field_rules(runtime, "vehicle")] == [
        ("price", ["manager", "sales"]),
        ("vin", []),
    ]
    assert (await runtime.permissions.rules())["vehicle"]["price"] == rule  # cache refreshed

    again = await put_field_rule(runtime, "vehicle", "price", FieldRuleBody(read_roles=["agent"]))
    assert (again.read_roles, again.write_roles) == (["agent"], [])
    await put_field_rule(runtime, "vehicle", "vin", FieldRuleBody())  # empty: no rule
    assert [r.field for r in await field_rules(runtime)] == ["price"]
    assert "vin" not in (await runtime.permissions.rules())["vehicle"]


async def test_field_rules_are_checked(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as exc:
        await put_field_rule(
            runtime, "vehicle", "price", FieldRuleBody(read_roles=["ghost"], write_roles=["x"])
        )
    assert fields(exc) == ["read_roles[0]", "write_roles[0]"]
    for name in ("id", "custom", "wheels"):
        with pytest.raises(ValidationFailed) as exc:
            await put_field_rule(runtime, "vehicle", name, FieldRuleBody(read_roles=["agent"]))
        assert fields(exc) == ["field"]
    with pytest.raises(NotFound):
        await put_field_rule(runtime, "spaceship", "price", FieldRuleBody(read_roles=["agent"]))
    with pytest.raises(NotFound):
        await field_rules(runtime, "spaceship")
    with pytest.raises(NotFound):
        await put_field_rule(runtime, "vehicle", "custom.nope", FieldRuleBody())
    assert await field_rules(runtime) == []


async def test_custom_fields_rules_go_to_their_definition(runtime: Runtime) -> None:
    definition = await runtime.custom_fields.create(
        {"entity": "vehicle", "key": "margin", "label": "Margin", "type": "number"}
    )
    rule = await put_field_rule(
        runtime, "vehicle", "custom.margin", FieldRuleBody(read_roles=["manager"])
    )
    assert rule.field == "custom.margin"
    assert (await runtime.custom_fields.get(definition.id)).read_roles == ["manager"]
    assert [r.field for r in await field_rules(runtime, "vehicle")] == ["custom.margin"]
    assert (await runtime.permissions.rules())["vehicle"]["custom.margin"].read_roles == ["manager"]
