"""Who may do what: roles, their grants per entity action, field visibility, record scope.

Allow-lists throughout. A role grants actions per entity (``"*"`` for every entity an
explicit entry does not name) and a few abilities beyond entities. A field with
``read_roles`` is readable by those roles only (and by admins): it is absent from every
response and cannot be filtered, sorted or searched on by anyone else, exactly as if it
did not exist, so no query can reveal it. ``write_roles`` works the same for writes
(a 403 naming the field).

An :class:`Access` is what one request (or command) may do. ``Access.full()`` is the
system's: the CLI, migrations and workflow code run with it.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .errors import FieldError, Forbidden
from .events import SYSTEM, Actor, FieldChange

if TYPE_CHECKING:
    from .entity import EntityType

__all__ = [
    "ABILITIES",
    "ACTIONS",
    "BUILTIN_ROLES",
    "ROLE_NAME",
    "Access",
    "FieldRule",
    "Role",
    "current_access",
]

#: What a role can be granted on an entity (or another subject such as ``activity``).
ACTIONS: tuple[str, ...] = ("read", "create", "update", "delete", "bulk", "import", "export")
#: Grants beyond entities. ``hard_delete`` removes records for good (``?hard=true``).
ABILITIES: tuple[str, ...] = ("manage_fields", "manage_users", "hard_delete")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")

Scope = Literal["all", "own"]


class Role(msgspec.Struct, kw_only=True, frozen=True):
    """A named set of grants. ``grants`` maps an entity name (or ``"*"``) to actions.

    An entity named in ``grants`` gets exactly the actions listed there, whatever ``"*"``
    says. ``scope="own"`` limits every read and write to records the user owns, is
    assigned or created (see :attr:`EntityType.owner_fields`).
    """

    name: str
    label: str = ""
    description: str = ""
    grants: dict[str, list[str]] = {}
    abilities: list[str] = []
    scope: Scope = "all"
    builtin: bool = False

    def actions(self, entity: str) -> frozenset[str]:
        chosen = self.grants.get(entity)
        if chosen is None:
            chosen = self.grants.get("*", [])
        return frozenset(chosen)


_ALL = list(ACTIONS)

#: The roles every installation has. Their grants can be narrowed per entity by the
#: entity's plugin (``EntityType.permissions``) but not edited through the API.
BUILTIN_ROLES: dict[str, Role] = {
    "admin": Role(
        name="admin",
        label="Administrator",
        description="Everything, including users, roles, fields and deleting for good.",
        grants={"*": _ALL},
        abilities=list(ABILITIES),
        builtin=True,
    ),
    "manager": Role(
        name="manager",
        label="Manager",
        description="Every record action, bulk, import and export; manages custom fields.",
        grants={"*": _ALL},
        abilities=["manage_fields"],
        builtin=True,
    ),
    "agent": Role(
        name="agent",
        label="Agent",
        description="Reads, creates, updates and deletes records one at a time.",
        grants={"*": ["read", "create", "update", "delete"]},
        builtin=True,
    ),
    "viewer": Role(
        name="viewer",
        label="Viewer",
        description="Reads records.",
        grants={"*": ["read"]},
        builtin=True,
    ),
}


class FieldRule(msgspec.Struct, frozen=True, kw_only=True):
    """Who may read and write one field (empty: everyone the entity's grants allow)."""

    entity: str
    field: str
    read_roles: list[str] = []
    write_roles: list[str] = []


@dataclass(frozen=True)
class Access:
    """What one actor may do: the request's permission checks go through here.

    ``rules`` holds the field rules of every entity, built-in fields by name and custom
    fields as ``custom.<key>``. ``entities`` gives each entity's plugin-declared
    grants for built-in roles. ``user_id`` is the user behind the actor, if any (record
    scope compares owner fields with it).
    """

    actor: Actor
    role: Role
    rules: Mapping[str, Mapping[str, FieldRule]] = field(default_factory=dict)
    entities: Mapping[str, EntityType] = field(default_factory=dict)
    user_id: str | None = None

    @classmethod
    def full(cls, actor: Actor = SYSTEM) -> Access:
        """Everything (the system, the CLI): no check ever fails."""
        return cls(actor=actor, role=BUILTIN_ROLES["admin"])

    @property
    def is_admin(self) -> bool:
        return self.role.name == "admin"

    # -- actions -----------------------------------------------------------------

    def actions(self, entity: str) -> frozenset[str]:
        if self.is_admin:
            return frozenset(ACTIONS)
        declared = self.entities.get(entity)
        if (
            self.role.builtin
            and declared is not None
            and self.role.name in declared.permissions
            and entity not in self.role.grants
        ):
            return frozenset(declared.permissions[self.role.name])
        return self.role.actions(entity)

    def can(self, entity: str, action: str) -> bool:
        return action in self.actions(entity)

    def has(self, ability: str) -> bool:
        return self.is_admin or ability in self.role.abilities

    def require(self, entity: str, action: str) -> None:
        """A 403 unless the role grants ``action`` on ``entity``."""
        if not self.can(entity, action):
            raise Forbidden(
                f"role {self.role.name!r} may not {action} {entity}",
                extra={"required": f"{entity}:{action}"},
            )

    def require_ability(self, ability: str) -> None:
        if not self.has(ability):
            raise Forbidden(
                f"role {self.role.name!r} lacks {ability!r}", extra={"required": ability}
            )

    # -- record scope --------------------------------------------------------------

    @property
    def own_only(self) -> bool:
        return not self.is_admin and self.role.scope == "own"

    # -- fields --------------------------------------------------------------------

    def _blocked(self, entity: str, attr: str) -> frozenset[str]:
        if self.is_admin:
            return frozenset()
        role = self.role.name
        return frozenset(
            name
            for name, rule in self.rules.get(entity, {}).items()
            if getattr(rule, attr) and role not in getattr(rule, attr)
        )

    def hidden(self, entity: str) -> frozenset[str]:
        """Fields of ``entity`` this actor cannot read (``custom.<key>`` for custom ones)."""
        return self._blocked(entity, "read_roles")

    def readonly(self, entity: str) -> frozenset[str]:
        """Fields of ``entity`` this actor cannot write (hidden ones included)."""
        return self._blocked(entity, "write_roles") | self.hidden(entity)

    def redact(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` without the fields this actor cannot read (a new dict)."""
        hidden = self.hidden(entity)
        if not hidden:
            return record
        out = {k: v for k, v in record.items() if k not in hidden}
        custom = record.get("custom")
        if isinstance(custom, dict):
            out["custom"] = {k: v for k, v in custom.items() if f"custom.{k}" not in hidden}
        return out

    def redact_changes(self, entity: str, changes: Iterable[Any]) -> list[Any]:
        """Field changes (``FieldChange`` or ``{"field": ...}`` dicts) minus hidden fields."""
        hidden = self.hidden(entity)
        out = []
        for change in changes:
            name = change.field if isinstance(change, FieldChange) else change.get("field")
            if name not in hidden and str(name).split("[")[0] not in hidden:
                out.append(change)
        return out

    def check_writes(self, entity: str, fields: Iterable[str]) -> None:
        """A 403 naming every field in ``fields`` this actor may not write."""
        blocked = self.readonly(entity)
        if not blocked:
            return
        denied = sorted({f for f in fields if f in blocked})
        if denied:
            raise Forbidden(
                f"role {self.role.name!r} may not write {', '.join(denied)}",
                errors=[FieldError(f, "not writable by your role") for f in denied],
            )


def written_fields(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """The fields a body sets: every key whose value differs from the field's default,
    and each key of ``custom`` as ``custom.<key>``."""
    out = []
    for name, value in values.items():
        if name == "custom" and isinstance(value, dict):
            out.extend(f"custom.{k}" for k in value)
            continue
        if name in defaults and value == defaults[name]:
            continue
        out.append(name)
    return out


_current: contextvars.ContextVar[Access | None] = contextvars.ContextVar(
    "crmkit_access", default=None
)


def current_access() -> Access:
    """The access of the request being served (set by the API's permission guard), or the
    system's full access outside requests (CLI, workers). For code that cannot be handed
    the request, such as tab providers: they redact what they return with it."""
    return _current.get() or Access.full()


def set_current_access(access: Access) -> contextvars.Token[Access | None]:
    return _current.set(access)
