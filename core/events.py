"""Events: what every write emits, and what the before-save hook sees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from .entity import EntityType
    from .runtime import Runtime

__all__ = ["SYSTEM", "Actor", "Event", "FieldChange", "RecordRef", "SaveContext", "diff"]

Source = Literal["api", "cli", "import", "bulk", "merge", "workflow", "system"]


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is behind a change: an API key, a user or the system."""

    id: str
    name: str
    role: str = "admin"
    kind: str = "api_key"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor(id="system", name="system", role="admin", kind="system")


class FieldChange(msgspec.Struct, frozen=True):
    """One field's old and new value (``custom.<key>`` for custom fields)."""

    field: str
    old: Any = None
    new: Any = None


class RecordRef(msgspec.Struct, frozen=True):
    entity: str
    id: uuid.UUID


class Event(msgspec.Struct, kw_only=True):
    """A change to one record.

    ``action`` is ``create``, ``update``, ``delete``, ``restore``, ``hard_delete`` or a
    plugin's own (``link``, ``merge`` ...). ``related`` names other records the change
    concerns (both ends of a link). ``record`` is the record after the change (before
    it, for deletes).
    """

    entity: str
    record_id: uuid.UUID
    action: str
    actor: Actor
    source: str = "api"
    changes: list[FieldChange] = []
    related: list[RecordRef] = []
    record: dict[str, Any] | None = None
    summary: str | None = None
    data: dict[str, Any] = {}
    id: uuid.UUID = msgspec.field(default_factory=uuid.uuid4)
    occurred_at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))


@dataclass
class SaveContext:
    """What ``before_save`` sees: the full new ``values`` (mutable) and the ``old`` record."""

    runtime: Runtime
    entity: EntityType
    action: str
    values: dict[str, Any]
    old: dict[str, Any] | None
    actor: Actor
    source: str = "api"
    data: dict[str, Any] = field(default_factory=dict)


def diff(old: dict[str, Any] | None, new: dict[str, Any], fields: list[str]) -> list[FieldChange]:
    """Field-level changes between two records; ``custom`` is split per key."""
    old = old or {}
    changes: list[FieldChange] = []
    for name in fields:
        if name == "custom":
            before, after = old.get("custom") or {}, new.get("custom") or {}
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    changes.append(FieldChange(f"custom.{key}", before.get(key), after.get(key)))
            continue
        if old.get(name) != new.get(name):
            changes.append(FieldChange(name, old.get(name), new.get(name)))
    return changes
