"""``EntityType``: what a plugin declares, and what the core derives from it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import typing
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.columns import JSON, Column
from piccolo.columns.column_types import UUID as UUIDColumn

from .errors import PluginError
from .tables import EntityTable

if TYPE_CHECKING:
    from .db.sql import QueryString
    from .runtime import Runtime

__all__ = ["BASE_FIELDS", "EntityExtension", "EntityType", "Filter", "Schema"]


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base for an entity's writable fields: unknown fields are a 422, not dropped."""


@dataclass(frozen=True)
class Filter:
    """An entity's own list filter (``?email=``), beyond its plain columns.

    ``build(runtime, op, value)`` returns the SQL condition (``t`` is the entity's
    table); ``value`` is already converted to ``type`` (a list of it for ``in``/``nin``).
    """

    build: Callable[[Any, str, Any], QueryString]
    operators: frozenset[str] = frozenset({"eq"})
    type: Any = str
    description: str = ""
    #: The fields whose values this filter reveals (``email`` reveals ``emails``): a role
    #: that cannot read one of them cannot use the filter either. Default: its own name.
    reveals: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EntityExtension:
    """Read-only fields and filters one plugin adds to another plugin's entity."""

    entity: str
    read_only: Mapping[str, Any] = field(default_factory=dict)
    expand: Callable[[Runtime, list[dict[str, Any]]], Awaitable[None]] | None = None
    filters: Mapping[str, Filter] = field(default_factory=dict)

    def apply(self, entity: EntityType, plugin: str) -> EntityType:
        """The entity with this extension merged in (a clash is a start-up error)."""
        taken = set(entity.read_fields) | set(entity.filters)
        clash = (set(self.read_only) | set(self.filters)) & taken
        if clash:
            raise PluginError(
                f"plugin {plugin!r} extends {entity.name!r} with names it already has: "
                f"{', '.join(sorted(clash))}"
            )
        expands = [e for e in (entity.expand, self.expand) if e is not None]

        async def expand(runtime: Runtime, records: list[dict[str, Any]]) -> None:
            for fn in expands:
                await fn(runtime, records)

        return dataclasses.replace(
            entity,
            read_only={**entity.read_only, **self.read_only},
            filters={**entity.filters, **self.filters},
            expand=expand if expands else None,
        )


#: Columns the core manages on every entity, with their read types.
BASE_FIELDS: dict[str, Any] = {
    "id": uuid.UUID,
    "version": int,
    "created_at": dt.datetime,
    "updated_at": dt.datetime,
    "deleted_at": dt.datetime | None,
    "created_by": str | None,
    "updated_by": str | None,
}


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass(frozen=True, kw_only=True)
class EntityType:
    """The declaration a plugin makes for each entity.

    ``schema`` holds the writable fields (a :class:`Schema` subclass); the core adds
    ``tags`` and ``custom`` and derives the create, patch, read and page types.
    ``expand`` fills ``read_only`` fields for a whole page of records at once (one query
    per page, never per record).
    """

    name: str
    plural: str
    table: type[EntityTable]
    schema: type[msgspec.Struct]
    title: str = ""
    description: str = ""
    read_only: Mapping[str, Any] = field(default_factory=dict)
    expand: Callable[[Runtime, list[dict[str, Any]]], Awaitable[None]] | None = None
    searchable: tuple[str, ...] = ()
    filters: Mapping[str, Filter] = field(default_factory=dict)
    default_sort: tuple[str, ...] = ("-created_at",)
    display: Callable[[dict[str, Any]], str] | None = None
    #: What built-in roles may do on this entity, where it differs from their grants on
    #: every entity (``{"agent": ("read",)}``): see ``crmkit.core.access``.
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Fields holding the id of the user who owns or is assigned a record. A role with
    #: ``scope="own"`` sees the records where one of them is the user, or that the user
    #: created.
    owner_fields: tuple[str, ...] = ()
    #: Columns a plugin derives from fields (``primary_email`` from ``emails``): hidden
    #: from search and filters wherever one of their fields is hidden from the reader.
    derived_from: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def hidden_columns(self, hidden: frozenset[str]) -> frozenset[str]:
        """``hidden`` fields plus the derived columns that would reveal them."""
        if not hidden:
            return hidden
        return hidden | {col for col, src in self.derived_from.items() if set(src) & hidden}

    # -- derived -------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    @functools.cached_property
    def create_type(self) -> type[msgspec.Struct]:
        return msgspec.defstruct(
            f"{_pascal(self.name)}Create",
            [
                ("tags", list[str], msgspec.field(default_factory=list)),
                ("custom", dict[str, Any], msgspec.field(default_factory=dict)),
            ],
            bases=(self.schema,),
            kw_only=True,
            forbid_unknown_fields=True,
            module=self.schema.__module__,
        )

    @functools.cached_property
    def writable(self) -> dict[str, Any]:
        """Writable field name -> type (the schema's fields, tags and custom)."""
        hints = typing.get_type_hints(self.create_type, include_extras=True)
        return {f.name: hints[f.name] for f in msgspec.structs.fields(self.create_type)}

    @functools.cached_property
    def required(self) -> frozenset[str]:
        return frozenset(f.name for f in msgspec.structs.fields(self.create_type) if f.required)

    @functools.cached_property
    def patch_type(self) -> type[msgspec.Struct]:
        return msgspec.defstruct(
            f"{_pascal(self.name)}Patch",
            [
                (name, typing.Union[tp, msgspec.UnsetType], msgspec.UNSET)  # noqa: UP007
                for name, tp in self.writable.items()
            ],
            kw_only=True,
            forbid_unknown_fields=True,
            module=self.schema.__module__,
        )

    @functools.cached_property
    def read_fields(self) -> dict[str, Any]:
        return {**BASE_FIELDS, **self.writable, **self.read_only}

    @functools.cached_property
    def read_type(self) -> type[msgspec.Struct]:
        return msgspec.defstruct(
            _pascal(self.name),
            list(self.read_fields.items()),
            kw_only=True,
            module=self.schema.__module__,
        )

    def read_type_without(self, hidden: frozenset[str]) -> type[msgspec.Struct]:
        """The read type minus fields a reader may not see (made once per set of fields)."""
        hidden = hidden & frozenset(self.read_fields)
        if not hidden:
            return self.read_type
        cache = self.__dict__.setdefault("_read_types", {})
        if hidden not in cache:
            cache[hidden] = msgspec.defstruct(
                _pascal(self.name),
                [(n, t) for n, t in self.read_fields.items() if n not in hidden],
                kw_only=True,
                module=self.schema.__module__,
            )
        return cache[hidden]

    @functools.cached_property
    def page_type(self) -> type[msgspec.Struct]:
        return msgspec.defstruct(
            f"{_pascal(self.name)}Page",
            [
                ("data", list[self.read_type]),  # type: ignore[name-defined]
                ("next_cursor", str | None),
                ("total", int | None),
            ],
            kw_only=True,
            module=self.schema.__module__,
        )

    @functools.cached_property
    def columns(self) -> dict[str, Column]:
        return {c._meta.name: c for c in self.table._meta.columns}

    @functools.cached_property
    def json_columns(self) -> frozenset[str]:
        return frozenset(n for n, c in self.columns.items() if isinstance(c, JSON))

    @functools.cached_property
    def uuid_columns(self) -> frozenset[str]:
        return frozenset(n for n, c in self.columns.items() if isinstance(c, UUIDColumn))

    @functools.cached_property
    def stored_fields(self) -> list[str]:
        """Every column the core reads and writes, in table order."""
        return list(self.columns)

    @functools.cached_property
    def scalar_fields(self) -> dict[str, Any]:
        """Read fields stored in plain columns: filterable and sortable."""
        return {
            n: t
            for n, t in self.read_fields.items()
            if n in self.columns and n not in self.json_columns
        }

    @property
    def tablename(self) -> str:
        return self.table._meta.tablename

    def validate(self, plugin: str) -> None:
        """Check the declaration against its table; a mismatch is a one-line start-up error."""
        where = f"plugin {plugin!r}, entity {self.name!r}"
        if not self.name.isidentifier() or not self.plural.replace("-", "_").isidentifier():
            raise PluginError(f"{where}: name and plural must be identifiers")
        if not issubclass(self.table, EntityTable):
            raise PluginError(f"{where}: table must subclass crmkit.core.EntityTable")
        if (
            not getattr(self.schema, "__struct_config__", None)
            or not self.schema.__struct_config__.forbid_unknown_fields
        ):
            raise PluginError(f"{where}: schema must subclass crmkit.core.Schema")
        try:
            for tp in (self.create_type, self.patch_type, self.read_type):
                msgspec.json.Decoder(tp)
        except TypeError as exc:
            raise PluginError(f"{where}: schema has an unsupported type: {exc}") from None
        missing = [n for n in self.writable if n not in self.columns]
        if missing:
            raise PluginError(
                f"{where}: schema fields without a table column: {', '.join(missing)}"
            )
        clash = set(self.read_only) & (set(self.writable) | set(BASE_FIELDS))
        if clash:
            raise PluginError(
                f"{where}: read_only fields clash with stored ones: {', '.join(sorted(clash))}"
            )
        for name in self.searchable:
            if name not in self.columns:
                raise PluginError(f"{where}: searchable field {name!r} has no column")
        for role, actions in self.permissions.items():
            from .access import ACTIONS, BUILTIN_ROLES

            if role not in BUILTIN_ROLES or not set(actions) <= set(ACTIONS):
                raise PluginError(
                    f"{where}: permissions must map built-in roles to actions of "
                    f"{', '.join(ACTIONS)}"
                )
        for name in self.owner_fields:
            if name not in self.columns:
                raise PluginError(f"{where}: owner field {name!r} has no column")
        for key in self.default_sort:
            if key.lstrip("-") not in self.scalar_fields:
                raise PluginError(f"{where}: default_sort {key!r} is not a sortable field")
