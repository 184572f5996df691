"""``runtime.permissions``: roles and field rules as the database holds them, cached.

Built-in roles live in code (:data:`crmkit.core.access.BUILTIN_ROLES`); custom roles in
``crmkit_role``; field rules of built-in fields in ``crmkit_field_permission`` and of
custom fields on their definitions. :meth:`Permissions.access` builds the
:class:`~crmkit.core.access.Access` of an actor from them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from .access import BUILTIN_ROLES, Access, FieldRule, Role
from .errors import Unauthorized

if TYPE_CHECKING:
    from .events import Actor
    from .runtime import Runtime

__all__ = ["Permissions"]

#: Seconds a process trusts its cache of roles and field rules before reading them
#: again, so a change made through another worker takes effect within this delay.
TTL = 2.0


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


class Permissions:
    """Custom roles and built-in field rules of one runtime, cached for :data:`TTL`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._roles: dict[str, Role] | None = None
        self._rules: dict[str, dict[str, FieldRule]] | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        self._roles = None
        self._rules = None

    async def _table_exists(self, name: str) -> bool:
        db = self.runtime.db
        from .db.sql import sql

        if db.kind == "postgres":
            return await db.fetchval(sql("SELECT to_regclass({}) IS NOT NULL AS ok", name)) is True
        row = await db.fetchrow(
            sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name = {}", name)
        )
        return row is not None

    async def load(self) -> None:
        """Read custom roles and field rules when the cache is empty or older than TTL."""
        if self._roles is not None and time.monotonic() - self._loaded_at < TTL:
            return
        roles = dict(BUILTIN_ROLES)
        rules: dict[str, dict[str, FieldRule]] = {}
        if await self._table_exists("crmkit_role"):  # core's migration 0004 has run
            for row in await self.runtime.db.fetch("SELECT * FROM crmkit_role ORDER BY name"):
                roles[row["name"]] = Role(
                    name=row["name"],
                    label=row["label"] or "",
                    description=row["description"] or "",
                    grants=_json(row["grants"]) or {},
                    abilities=_json(row["abilities"]) or [],
                    scope=row["scope"] if row["scope"] in ("all", "own") else "all",
                )
            for row in await self.runtime.db.fetch(
                "SELECT * FROM crmkit_field_permission ORDER BY entity, field"
            ):
                rules.setdefault(row["entity"], {})[row["field"]] = FieldRule(
                    entity=row["entity"],
                    field=row["field"],
                    read_roles=_json(row["read_roles"]) or [],
                    write_roles=_json(row["write_roles"]) or [],
                )
        self._roles, self._rules = roles, rules
        self._loaded_at = time.monotonic()

    async def roles(self) -> dict[str, Role]:
        await self.load()
        assert self._roles is not None
        return self._roles

    async def role(self, name: str) -> Role | None:
        return (await self.roles()).get(name)

    async def rules(self) -> dict[str, dict[str, FieldRule]]:
        """Field rules by entity: built-in fields by name, custom ones as ``custom.<key>``."""
        await self.load()
        definitions = await self.runtime.custom_fields.ensure()
        merged: dict[str, dict[str, FieldRule]] = {
            entity: dict(rules) for entity, rules in (self._rules or {}).items()
        }
        for entity, by_key in definitions.items():
            for key, d in by_key.items():
                if d.read_roles or d.write_roles:
                    merged.setdefault(entity, {})[f"custom.{key}"] = FieldRule(
                        entity=entity,
                        field=f"custom.{key}",
                        read_roles=list(d.read_roles or []),
                        write_roles=list(d.write_roles or []),
                    )
        return merged

    async def access(self, actor: Actor, *, user_id: str | None = None) -> Access:
        """What ``actor`` may do. An actor whose role no longer exists is refused (401)."""
        role = await self.role(actor.role)
        if role is None:
            raise Unauthorized(f"the role {actor.role!r} of this key no longer exists")
        if user_id is None and actor.kind == "user":
            user_id = actor.id
        return Access(
            actor=actor,
            role=role,
            rules=await self.rules(),
            entities=self.runtime.plugins.entities,  # type: ignore[arg-type]
            user_id=user_id,
        )
