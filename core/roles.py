"""Custom roles (``crmkit_role``) and the field rules of built-in fields (``crmkit_field_permission``).

The built-in roles live in code (:data:`crmkit.core.access.BUILTIN_ROLES`) and are
read-only here. A custom role grants actions per entity (``"*"``: every entity it does
not name) and abilities; it cannot take a built-in name. A role that users, keys or
field rules still name cannot be deleted (409), so no credential or rule is ever left
pointing at nothing.

Field rules limit who reads and writes one field. Built-in fields keep theirs in
``crmkit_field_permission``; custom fields carry them on their definition, and
:func:`put_field_rule` writes those through the custom-field service, so one API
serves both. Every change here calls ``runtime.permissions.invalidate()``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from .access import ABILITIES, ACTIONS, BUILTIN_ROLES, ROLE_NAME, FieldRule, Role, Scope
from .db.sql import sql
from .errors import Conflict, FieldError, NotFound, ValidationFailed

if TYPE_CHECKING:
    from .entity import EntityType
    from .runtime import Runtime

__all__ = [
    "SUBJECTS",
    "FieldRuleBody",
    "RoleCreate",
    "RolePatch",
    "create_role",
    "delete_role",
    "field_rules",
    "get_role",
    "list_roles",
    "put_field_rule",
    "role_exists",
    "role_names",
    "update_role",
]

#: What a grant may name besides registered entities and ``"*"``.
SUBJECTS: tuple[str, ...] = ("activity",)

Label = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=1000)]
Grants = Annotated[
    dict[str, list[str]],
    msgspec.Meta(
        description='Entity name (or "*" for every entity not named) -> actions of '
        + ", ".join(ACTIONS)
    ),
]
Abilities = Annotated[list[str], msgspec.Meta(description="Any of " + ", ".join(ABILITIES))]


class RoleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/roles``."""

    name: Annotated[str, msgspec.Meta(pattern=ROLE_NAME.pattern)]
    label: Label = ""
    description: Description = ""
    grants: Grants = {}
    abilities: Abilities = []
    scope: Scope = "all"


class RolePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PATCH /api/v1/roles/{name}``: only what it names changes."""

    label: Label | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    grants: Grants | msgspec.UnsetType = msgspec.UNSET
    abilities: Abilities | msgspec.UnsetType = msgspec.UNSET
    scope: Scope | msgspec.UnsetType = msgspec.UNSET


class FieldRuleBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PUT /api/v1/field-permissions/{entity}/{field}`` (empty lists: no rule)."""

    read_roles: list[str] = []
    write_roles: list[str] = []


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _invalidate(runtime: Runtime) -> None:
    permissions = getattr(runtime, "permissions", None)
    if permissions is not None:
        permissions.invalidate()


def _role(row: dict[str, Any]) -> Role:
    grants = _json(row["grants"]) or {}
    return Role(
        name=row["name"],
        label=row["label"] or "",
        description=row["description"] or "",
        # A stable order on both engines (PostgreSQL's JSONB reorders keys): "*" last.
        grants=dict(sorted(grants.items(), key=lambda item: (item[0] == "*", item[0]))),
        abilities=_json(row["abilities"]) or [],
        scope=row["scope"] if row["scope"] in ("all", "own") else "all",
    )


# -- roles: reads --------------------------------------------------------------------


async def _custom_row(runtime: Runtime, name: str) -> dict[str, Any] | None:
    return await runtime.db.fetchrow(sql("SELECT * FROM crmkit_role WHERE name = {}", name))


async def list_roles(runtime: Runtime) -> list[Role]:
    """The built-in roles, then the custom ones by name."""
    rows = await runtime.db.fetch("SELECT * FROM crmkit_role ORDER BY name")
    return [*BUILTIN_ROLES.values(), *(_role(r) for r in rows)]


async def get_role(runtime: Runtime, name: str) -> Role:
    if name in BUILTIN_ROLES:
        return BUILTIN_ROLES[name]
    row = await _custom_row(runtime, name)
    if row is None:
        raise NotFound(f"no role {name!r}")
    return _role(row)


async def role_exists(runtime: Runtime, name: str) -> bool:
    """A built-in role, or a row of ``crmkit_role`` (read now: never a stale cache)."""
    return name in BUILTIN_ROLES or await _custom_row(runtime, name) is not None


async def role_names(runtime: Runtime) -> list[str]:
    rows = await runtime.db.fetch("SELECT name FROM crmkit_role ORDER BY name")
    return [*BUILTIN_ROLES, *(r["name"] for r in rows)]


# -- roles: checks -------------------------------------------------------------------


def _subjects(runtime: Runtime) -> set[str]:
    return {"*", *SUBJECTS, *runtime.plugins.entities.names()}


def _check_grants(runtime: Runtime, grants: dict[str, list[str]]) -> tuple[dict, list]:
    subjects = _subjects(runtime)
    clean: dict[str, list[str]] = {}
    errors: list[FieldError] = []
    for subject, actions in grants.items():
        where = f"grants.{subject}"
        if subject not in subjects:
            errors.append(
                FieldError(where, "not an entity (nor '*' or one of " + ", ".join(SUBJECTS) + ")")
            )
        for i, action in enumerate(actions):
            if action not in ACTIONS:
                errors.append(FieldError(f"{where}[{i}]", f"not one of {', '.join(ACTIONS)}"))
        clean[subject] = [a for a in ACTIONS if a in actions]  # deduplicated, in order
    return clean, errors


def _check_abilities(abilities: list[str]) -> tuple[list[str], list[FieldError]]:
    errors = [
        FieldError(f"abilities[{i}]", f"not one of {', '.join(ABILITIES)}")
        for i, ability in enumerate(abilities)
        if ability not in ABILITIES
    ]
    return [a for a in ABILITIES if a in abilities], errors


def _check_text(values: dict[str, Any], errors: list[FieldError]) -> None:
    for name, limit in (("label", 200), ("description", 1000)):
        if name in values:
            values[name] = values[name].strip()
            if len(values[name]) > limit:
                errors.append(FieldError(name, f"at most {limit} characters"))
    if "scope" in values and values["scope"] not in ("all", "own"):
        errors.append(FieldError("scope", "must be 'all' or 'own'"))


def _checked(runtime: Runtime, values: dict[str, Any], errors: list[FieldError]) -> dict:
    _check_text(values, errors)
    if "grants" in values:
        values["grants"], more = _check_grants(runtime, values["grants"])
        errors.extend(more)
    if "abilities" in values:
        values["abilities"], more = _check_abilities(values["abilities"])
        errors.extend(more)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the role", errors=errors
        )
    return values


# -- roles: writes -------------------------------------------------------------------


async def create_role(runtime: Runtime, body: RoleCreate) -> Role:
    """A new custom role: 422 for a bad name, grant or ability; 409 when the name is taken."""
    values = msgspec.structs.asdict(body)
    name = values["name"] = values["name"].strip()
    errors: list[FieldError] = []
    if name in BUILTIN_ROLES:
        errors.append(FieldError("name", "is a built-in role"))
    elif not ROLE_NAME.match(name):
        errors.append(
            FieldError("name", "lower-case letters, digits and _, starting with a letter (max 50)")
        )
    values = _checked(runtime, values, errors)
    values["label"] = values["label"] or name.replace("_", " ").capitalize()
    db = runtime.db
    async with db.transaction():
        if await _custom_row(runtime, name) is not None:
            raise Conflict(
                f"a role named {name!r} exists already",
                errors=[FieldError("name", "already taken")],
            )
        now = _now()
        await db.execute(
            sql(
                "INSERT INTO crmkit_role (name, label, description, grants, abilities, scope, "
                "created_at, updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
                name,
                values["label"],
                values["description"],
                _encode(values["grants"]),
                _encode(values["abilities"]),
                values["scope"],
                now,
                now,
            )
        )
    _invalidate(runtime)
    return await get_role(runtime, name)


def _read_only(name: str) -> Conflict:
    return Conflict(
        f"{name!r} is a built-in role: it cannot be changed or deleted (define a custom role)",
        errors=[FieldError("name", "built-in role")],
    )


async def update_role(runtime: Runtime, name: str, patch: RolePatch) -> Role:
    """Change a custom role; the change applies to every user and key with it at once."""
    if name in BUILTIN_ROLES:
        raise _read_only(name)
    values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    values = _checked(runtime, values, [])
    db = runtime.db
    async with db.transaction():
        current = await _custom_row(runtime, name)
        if current is None:
            raise NotFound(f"no role {name!r}")
        if values:
            params = {
                k: _encode(v) if k in ("grants", "abilities") else v for k, v in values.items()
            }
            sets = ", ".join(f"{k} = {{}}" for k in params)
            await db.execute(
                sql(
                    f"UPDATE crmkit_role SET {sets}, updated_at = {{}} WHERE name = {{}}",
                    *params.values(),
                    _now(),
                    name,
                )
            )
    _invalidate(runtime)
    return await get_role(runtime, name)


async def _usage(runtime: Runtime, name: str) -> tuple[int, int, list[str]]:
    """How many users and keys (revoked ones excluded) have ``name``, and which field rules."""
    db = runtime.db
    users = await db.fetchval(sql("SELECT COUNT(*) AS n FROM crmkit_user WHERE role = {}", name))
    keys = await db.fetchval(
        sql(
            "SELECT COUNT(*) AS n FROM crmkit_api_key "
            "WHERE role = {} AND user_id IS NULL AND revoked_at IS NULL",
            name,
        )
    )
    fields = [
        f"{rule.entity}.{rule.field}"
        for rule in await field_rules(runtime)
        if name in rule.read_roles or name in rule.write_roles
    ]
    return int(users or 0), int(keys or 0), fields


async def delete_role(runtime: Runtime, name: str) -> Role:
    """Delete a custom role nobody uses; 409 naming how many users, keys and rules do."""
    if name in BUILTIN_ROLES:
        raise _read_only(name)
    db = runtime.db
    async with db.transaction():
        role = await get_role(runtime, name)
        users, keys, fields = await _usage(runtime, name)
        if users or keys or fields:
            uses = [
                *([f"{users} user{'s' if users != 1 else ''}"] if users else []),
                *([f"{keys} API key{'s' if keys != 1 else ''}"] if keys else []),
                *([f"the field rules of {', '.join(fields)}"] if fields else []),
            ]
            raise Conflict(
                f"the role {name!r} is in use by {' and '.join(uses)}; change them first",
                errors=[FieldError("name", "in use")],
                extra={"users": users, "api_keys": keys, "field_rules": fields},
            )
        await db.execute(sql("DELETE FROM crmkit_role WHERE name = {}", name))
    _invalidate(runtime)
    return role


# -- field rules ---------------------------------------------------------------------


def _entity(runtime: Runtime, name: str) -> EntityType:
    entity = runtime.plugins.entities.get(name)
    if entity is None:
        raise NotFound(f"no entity {name!r}")
    return entity


def builtin_fields(entity: EntityType) -> list[str]:
    """The fields a rule in ``crmkit_field_permission`` may name (``id`` is always visible)."""
    return [f for f in entity.read_fields if f not in ("id", "custom")]


async def field_rules(runtime: Runtime, entity: str | None = None) -> list[FieldRule]:
    """Every field rule (of one entity): built-in fields, then ``custom.<key>`` ones."""
    if entity is not None:
        _entity(runtime, entity)
        rows = await runtime.db.fetch(
            sql("SELECT * FROM crmkit_field_permission WHERE entity = {} ORDER BY field", entity)
        )
    else:
        rows = await runtime.db.fetch(
            "SELECT * FROM crmkit_field_permission ORDER BY entity, field"
        )
    rules = [
        FieldRule(
            entity=r["entity"],
            field=r["field"],
            read_roles=_json(r["read_roles"]) or [],
            write_roles=_json(r["write_roles"]) or [],
        )
        for r in rows
    ]
    for d in await runtime.custom_fields.list(entity):
        if d.read_roles or d.write_roles:
            rules.append(
                FieldRule(
                    entity=d.entity,
                    field=f"custom.{d.key}",
                    read_roles=list(d.read_roles),
                    write_roles=list(d.write_roles),
                )
            )
    return sorted(rules, key=lambda r: (r.entity, r.field.startswith("custom."), r.field))


async def _check_rule_roles(runtime: Runtime, body: FieldRuleBody) -> dict[str, list[str]]:
    known = set(await role_names(runtime))
    errors: list[FieldError] = []
    clean: dict[str, list[str]] = {}
    for attr in ("read_roles", "write_roles"):
        roles: list[str] = getattr(body, attr)
        for i, role in enumerate(roles):
            if role not in known:
                errors.append(FieldError(f"{attr}[{i}]", f"no role {role!r}"))
        clean[attr] = list(dict.fromkeys(roles))
    if errors:
        raise ValidationFailed("the field rule names unknown roles", errors=errors)
    return clean


async def put_field_rule(
    runtime: Runtime, entity: str, field: str, body: FieldRuleBody
) -> FieldRule:
    """Set who may read and write ``field`` of ``entity``; two empty lists remove the rule.

    ``custom.<key>`` changes the custom field's definition (its ``read_roles`` and
    ``write_roles``); any other name must be a built-in field of the entity.
    """
    declared = _entity(runtime, entity)
    roles = await _check_rule_roles(runtime, body)
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        definition = next(
            (d for d in await runtime.custom_fields.list(entity, archived=True) if d.key == key),
            None,
        )
        if definition is None:
            raise NotFound(f"{entity} has no custom field {key!r}")
        await runtime.custom_fields.update(definition.id, roles)
        _invalidate(runtime)
        return FieldRule(entity=entity, field=field, **roles)
    if field not in builtin_fields(declared):
        raise ValidationFailed(
            f"{field!r} is not a field of {entity}",
            errors=[
                FieldError(
                    "field", f"not one of {', '.join(builtin_fields(declared))} or custom.<key>"
                )
            ],
        )
    db = runtime.db
    async with db.transaction():
        await db.execute(
            sql(
                "DELETE FROM crmkit_field_permission WHERE entity = {} AND field = {}",
                entity,
                field,
            )
        )
        if roles["read_roles"] or roles["write_roles"]:
            await db.execute(
                sql(
                    "INSERT INTO crmkit_field_permission (entity, field, read_roles, write_roles, "
                    "updated_at) VALUES ({}, {}, {}, {}, {})",
                    entity,
                    field,
                    _encode(roles["read_roles"]),
                    _encode(roles["write_roles"]),
                    _now(),
                )
            )
    _invalidate(runtime)
    return FieldRule(entity=entity, field=field, **roles)
