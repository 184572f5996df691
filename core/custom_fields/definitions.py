"""Custom-field definitions as data: the ``crmkit_custom_field`` table and its service.

Definitions are cached per process (all of them, archived ones included: their values
are kept untouched on writes). Every definition change bumps a generation counter in
its own transaction (``generation.py``); :meth:`CustomFields.ensure` compares it with
the cached one, so a definition made by another worker is seen without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import join, sql
from ..errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from ..fields import FieldType
from .generation import META, bump_generation, read_generation

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["TABLE", "CustomFields", "Definition"]

TABLE = "crmkit_custom_field"
KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ROLE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_OPTION = 200  # an option value is an index key (crmkit_custom_value)
_JSON = ("default", "options", "validation", "read_roles", "write_roles")
#: Validation rules, and the storage kinds each applies to (``None``: every kind).
RULES: dict[str, frozenset[str] | None] = {
    "min": frozenset({"number", "date"}),
    "max": frozenset({"number", "date"}),
    "min_length": frozenset({"text"}),
    "max_length": frozenset({"text"}),
    "pattern": frozenset({"text"}),
    "max_selections": frozenset({"array"}),
}


#: Storage kind of a field type -> filter kind and python type of a filter value.
KINDS: dict[str, tuple[str, Any]] = {
    "text": ("text", str),
    "number": ("number", decimal.Decimal),
    "date": ("date", dt.date),
    "datetime": ("datetime", dt.datetime),
    "boolean": ("boolean", bool),
    "array": ("array", str),
}


class Definition(msgspec.Struct, kw_only=True):
    """One custom field of one entity (what ``/api/v1/custom-fields`` reads and writes)."""

    id: uuid.UUID
    entity: str
    key: str
    label: str
    type: str
    required: bool = False
    default: Any = None
    options: list[dict[str, str]] = []
    validation: dict[str, Any] = {}
    filterable: bool = False
    sortable: bool = False
    read_roles: list[str] = []
    write_roles: list[str] = []
    archived_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


class CustomFields:
    """The definitions of one runtime: cached reads, checked writes."""

    #: Seconds a read outside a transaction trusts the cache before it checks the
    #: generation again. Writes check on every transaction (once per transaction):
    #: a write validated against a stale definition would store a wrong value, while a
    #: list served from a definition a second old only misses a brand-new filter.
    read_check_interval: float = 1.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._cache: dict[str, dict[str, Definition]] | None = None
        self._generation: int | None = None
        self._checked_at = 0.0
        self._checked_in: Any = None  # the transaction the generation was last read in
        #: Core's migration 0003 has run (the value mirror and the generation exist).
        self.ready = False

    # -- cache -----------------------------------------------------------------------

    def invalidate(self) -> None:
        self._cache = None

    async def _existing(self, *tables: str) -> set[str]:
        db = self.runtime.db
        if db.kind == "postgres":
            found = set()
            for table in tables:
                if await db.fetchval(sql("SELECT to_regclass({}) IS NOT NULL AS ok", table)):
                    found.add(table)
            return found
        names = join([sql("{}", t) for t in tables], ", ")
        rows = await db.fetch(
            sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({})", names)
        )
        return {r["name"] for r in rows}

    def _fresh_enough(self) -> bool:
        """Whether the cache may be used without reading the generation."""
        tx = self.runtime.db.engine.current_transaction.get()
        if tx is not None:
            return tx is self._checked_in
        return time.monotonic() - self._checked_at < self.read_check_interval

    def _mark_checked(self, generation: int | None) -> None:
        self._generation = generation
        self._checked_at = time.monotonic()
        self._checked_in = self.runtime.db.engine.current_transaction.get()

    async def ensure(self) -> dict[str, dict[str, Definition]]:
        """Every definition by entity and key, re-read when another process changed one.

        Inside a transaction (every write) the stored generation is read once per
        transaction; outside, at most once per :attr:`read_check_interval`. Either is
        one primary-key read; the definitions themselves are read only when it moved.
        """
        if self._cache is not None and self.ready:
            if self._fresh_enough():
                return self._cache
            generation = await read_generation(self.runtime.db)
            if generation == self._generation:
                self._mark_checked(generation)
                return self._cache
        found = await self._existing(TABLE, META)
        if TABLE not in found:  # core's migration 0002 has not run yet
            return {}
        self.ready = META in found
        generation = await read_generation(self.runtime.db) if self.ready else None
        rows = await self.runtime.db.fetch(f"SELECT * FROM {TABLE} ORDER BY entity, created_at")
        cache: dict[str, dict[str, Definition]] = {}
        for row in rows:
            d = self._decode(row)
            cache.setdefault(d.entity, {})[d.key] = d
        self._cache = cache  # without the generation (0003 pending) re-read on every call
        self._mark_checked(generation)
        return cache

    def cached(self, entity: str) -> dict[str, Definition]:
        """The loaded definitions of an entity (empty before :meth:`ensure`)."""
        return (self._cache or {}).get(entity, {})

    def lookup(self, entity: str, key: str) -> tuple[Any, ...] | None:
        """``Runtime.custom_types``: kind, python type, JSON sub-path and operators."""
        definition = self.cached(entity).get(key)
        return self.describe(definition) if definition is not None else None

    def describe(self, definition: Definition) -> tuple[Any, ...] | None:
        """How a field filters: kind, python type, JSON sub-path and operators."""
        ftype = self.field_type(definition)
        if ftype is None:
            return None
        kind, tp = KINDS.get(ftype.storage, ("text", str))
        if kind == "text" and "contains" not in ftype.operators:
            kind = "choice"
        return kind, tp, getattr(ftype, "storage_path", None), ftype.operators

    def field_type(self, definition: Definition) -> FieldType | None:
        return self.runtime.plugins.field_types.get(definition.type)

    def _decode(self, row: dict[str, Any]) -> Definition:
        data = dict(row)
        data["default"] = data.pop("default_value", None)
        for name in _JSON:
            if isinstance(data.get(name), str | bytes):
                data[name] = msgspec.json.decode(data[name])
        for name in ("archived_at", "created_at", "updated_at"):
            data[name] = _utc(data.get(name))
        data["required"] = bool(data["required"])
        data["filterable"] = bool(data["filterable"])
        data["sortable"] = bool(data["sortable"])
        return msgspec.convert(data, Definition, strict=False)

    # -- reads -----------------------------------------------------------------------

    async def list(self, entity: str | None = None, *, archived: bool = False) -> list[Definition]:
        cache = await self.ensure()
        out = [
            d
            for name, defs in cache.items()
            if entity is None or name == entity
            for d in defs.values()
            if archived or not d.archived
        ]
        return sorted(out, key=lambda d: (d.entity, d.created_at or _now(), d.key))

    async def get(self, definition_id: uuid.UUID) -> Definition:
        row = await self.runtime.db.fetchrow(
            sql(f"SELECT * FROM {TABLE} WHERE id = {{}}", definition_id)
        )
        if row is None:
            raise NotFound(f"custom field {definition_id} not found")
        return self._decode(row)

    # -- checks ----------------------------------------------------------------------

    def check(
        self, body: dict[str, Any], current: Definition | None, *, retype: bool = False
    ) -> dict[str, Any]:
        """The definition's fields from a create or patch body; every problem is listed.

        ``retype``: the body comes from a type change, the one place ``type`` may change.
        """
        errors: list[FieldError] = []
        allowed = {
            "entity", "key", "label", "type", "required", "default", "options", "validation",
            "filterable", "sortable", "read_roles", "write_roles",
        }  # fmt: skip
        for name in body:
            if name not in allowed:
                errors.append(FieldError(name, "unknown field"))
        values: dict[str, Any] = {}
        if current is None:
            entity, key, type_name = body.get("entity"), body.get("key"), body.get("type")
            if not isinstance(entity, str) or entity not in self.runtime.plugins.entities:
                names = ", ".join(e.name for e in self.runtime.plugins.entities)
                errors.append(FieldError("entity", f"must be one of: {names}"))
            if not isinstance(key, str) or not KEY.match(key):
                errors.append(
                    FieldError("key", "must match ^[a-z][a-z0-9_]{0,62}$ (a lower-case identifier)")
                )
            values.update(entity=entity, key=key)
        else:
            for name in ("entity", "key"):
                if name in body and body[name] != getattr(current, name):
                    errors.append(FieldError(name, "cannot be changed"))
            type_name = body.get("type", current.type)
            if type_name != current.type and not retype:
                errors.append(
                    FieldError(
                        "type",
                        "cannot be changed by PATCH: use POST "
                        f"/api/v1/custom-fields/{current.id}/change-type (a dry run first)",
                    )
                )
                type_name = current.type
        ftype = (
            self.runtime.plugins.field_types.get(type_name) if isinstance(type_name, str) else None
        )
        if ftype is None:
            names = ", ".join(self.runtime.plugins.field_types.names())
            errors.append(FieldError("type", f"must be one of: {names}"))
        values["type"] = type_name

        def pick(name: str, fallback: Any) -> Any:
            if name in body:
                return body[name]
            return getattr(current, name) if current is not None else fallback

        label = pick("label", (values.get("key") or "").replace("_", " ").capitalize())
        if not isinstance(label, str) or not label.strip() or len(label) > 200:
            errors.append(
                FieldError("label", "must be a non-empty string of at most 200 characters")
            )
        values["label"] = label.strip() if isinstance(label, str) else label
        for name in ("required", "filterable", "sortable"):
            flag = pick(name, False)
            if not isinstance(flag, bool):
                errors.append(FieldError(name, "expected true or false"))
            values[name] = flag
        for name in ("read_roles", "write_roles"):
            roles = pick(name, [])
            if not isinstance(roles, list) or not all(
                isinstance(r, str) and ROLE.match(r) for r in roles
            ):
                errors.append(FieldError(name, "expected a list of role names"))
            values[name] = roles
        values["options"] = self._options(pick("options", []), ftype, errors)
        values["validation"] = self._rules(pick("validation", {}), ftype, errors)
        values["default"] = pick("default", None)
        if errors:
            raise ValidationFailed("invalid custom field definition", errors=errors)
        assert ftype is not None
        if values["sortable"] and ftype.storage in ("array", "boolean"):
            errors.append(FieldError("sortable", f"a {ftype.name} field cannot be sorted"))
        if values["default"] is not None:
            probe = Definition(
                id=uuid.uuid4(),
                entity=values.get("entity") or getattr(current, "entity", ""),
                key=values.get("key") or getattr(current, "key", ""),
                label=values["label"],
                type=ftype.name,
                options=values["options"],
                validation=values["validation"],
            )
            try:
                values["default"] = ftype.to_storage(ftype.convert(values["default"], probe))
            except ValueError as exc:
                errors.append(FieldError("default", str(exc)))
        if errors:
            raise ValidationFailed("invalid custom field definition", errors=errors)
        return values

    def _options(self, options: Any, ftype: FieldType | None, errors: list[FieldError]) -> Any:
        if not isinstance(options, list):
            errors.append(FieldError("options", "expected a list"))
            return options
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        for i, option in enumerate(options):
            if isinstance(option, str):
                option = {"value": option, "label": option}
            if (
                not isinstance(option, dict)
                or not isinstance(option.get("value"), str)
                or not option["value"]
                or len(option["value"]) > MAX_OPTION
                or not isinstance(option.get("label", option.get("value")), str)
                or set(option) - {"value", "label"}
            ):
                errors.append(
                    FieldError(
                        f"options[{i}]",
                        f"expected a string of 1..{MAX_OPTION} characters "
                        'or {"value": ..., "label": ...}',
                    )
                )
                continue
            if option["value"] in seen:
                errors.append(FieldError(f"options[{i}]", "duplicate option"))
            seen.add(option["value"])
            out.append({"value": option["value"], "label": option.get("label") or option["value"]})
        if ftype is not None and getattr(ftype, "needs_options", False) and not out:
            errors.append(FieldError("options", f"a {ftype.name} field needs options"))
        if ftype is not None and out and not getattr(ftype, "needs_options", False):
            errors.append(FieldError("options", f"a {ftype.name} field takes no options"))
        return out

    def _rules(self, rules: Any, ftype: FieldType | None, errors: list[FieldError]) -> Any:
        if not isinstance(rules, dict):
            errors.append(FieldError("validation", "expected an object"))
            return rules
        out: dict[str, Any] = {}
        for name, value in rules.items():
            path = f"validation.{name}"
            if name not in RULES:
                errors.append(FieldError(path, f"unknown rule (known: {', '.join(RULES)})"))
                continue
            if value is None:
                continue
            kinds = RULES[name]
            if ftype is not None and kinds is not None and ftype.storage not in kinds:
                errors.append(FieldError(path, f"does not apply to a {ftype.name} field"))
                continue
            if name in ("min_length", "max_length", "max_selections"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    errors.append(FieldError(path, "expected a whole number >= 0"))
                    continue
            elif name == "pattern":
                try:
                    re.compile(value) if isinstance(value, str) else None
                except re.error as exc:
                    errors.append(FieldError(path, f"not a valid regular expression: {exc}"))
                    continue
                if not isinstance(value, str):
                    errors.append(FieldError(path, "expected a regular expression"))
                    continue
            elif ftype is not None and ftype.storage == "date":
                try:
                    dt.date.fromisoformat(str(value))
                except ValueError:
                    errors.append(FieldError(path, "expected a date (YYYY-MM-DD)"))
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(FieldError(path, "expected a number"))
                continue
            out[name] = value
        for low, high in (("min", "max"), ("min_length", "max_length")):
            if (
                low in out
                and high in out
                and str(out[low]) > str(out[high])
                and (not isinstance(out[low], int | float) or out[low] > out[high])
            ):
                errors.append(FieldError(f"validation.{low}", f"greater than {high}"))
        return out

    # -- writes ----------------------------------------------------------------------

    def _params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Column values (``default`` is the ``default_value`` column: a reserved word)."""
        return {
            ("default_value" if k == "default" else k): (
                msgspec.json.encode(v).decode() if k in _JSON else v
            )
            for k, v in values.items()
        }

    @contextlib.asynccontextmanager
    async def changing(self) -> AsyncIterator[None]:
        """The unit of work of a definition change (``runtime.write()``).

        The generation is bumped first (other processes re-read; on PostgreSQL the row
        lock queues concurrent definition changes), and the cache is dropped on the way
        in and out, committed or not, so no process keeps a rolled-back definition.
        """
        try:
            async with self.runtime.write():
                await self.ensure()  # learns whether migration 0003 ran
                if self.ready:
                    await bump_generation(self.runtime.db)
                self.invalidate()
                yield
        finally:
            self.invalidate()

    async def _write(self, definition_id: uuid.UUID, changed: dict[str, Any]) -> None:
        params = self._params(changed)
        sets = [f"{k} = {{}}" for k in params] + ["updated_at = {}", "version = version + 1"]
        await self.runtime.db.execute(
            sql(
                f"UPDATE {TABLE} SET {', '.join(sets)} WHERE id = {{}}",
                *params.values(),
                _now(),
                definition_id,
            )
        )

    async def _follow(self, definition: Definition, *, rebuild_index: bool = False) -> None:
        """Indexes and the value mirror after a definition changed (same transaction)."""
        from .indexes import sync_index
        from .values import is_list_type, rebuild

        await sync_index(self.runtime, definition, rebuild=rebuild_index)
        if self.ready and is_list_type(self.runtime, definition) and not definition.archived:
            await rebuild(self.runtime, definition)

    async def create(self, body: dict[str, Any]) -> Definition:
        values = self.check(body, None)
        db = self.runtime.db
        now = _now()
        row = {**values, "id": uuid.uuid4(), "archived_at": None, "created_at": now,
               "updated_at": now, "version": 1}  # fmt: skip
        params = self._params(row)
        async with self.changing():
            taken = await db.fetchrow(
                sql(
                    f"SELECT archived_at FROM {TABLE} WHERE entity = {{}} AND key = {{}}",
                    values["entity"],
                    values["key"],
                )
            )
            if taken is not None:
                state = "an archived field" if taken["archived_at"] is not None else "a field"
                raise Conflict(
                    f"{values['entity']} already has {state} with key {values['key']!r}; "
                    "keys are never reused",
                    errors=[FieldError("key", "already used (keys are never reused)")],
                )
            await db.execute(
                sql(
                    f"INSERT INTO {TABLE} ({', '.join(params)}) "
                    f"VALUES ({', '.join('{}' for _ in params)})",
                    *params.values(),
                )
            )
            definition = await self.get(row["id"])
            await self._follow(definition)
        return definition

    async def update(
        self, definition_id: uuid.UUID, body: dict[str, Any], *, if_version: int | None = None
    ) -> Definition:
        """Change label, rules, options, flags, roles (not the type: :mod:`.type_change`).

        Making a field required touches no record: those without a value stay readable
        and writable (see ``validate.py``); :mod:`.missing` lists them.
        """
        async with self.changing():
            current = await self.get(definition_id)
            if if_version is not None and current.version != if_version:
                raise PreconditionFailed(
                    f"custom field {definition_id} is at version {current.version}"
                )
            values = self.check(body, current)
            changed = {
                k: v
                for k, v in values.items()
                if k not in ("entity", "key") and getattr(current, k) != v
            }
            if not changed:
                return current
            await self._write(definition_id, changed)
            definition = await self.get(definition_id)
            if {"filterable", "sortable"} & set(changed):
                await self._follow(definition)
        return definition

    async def set_archived(self, definition_id: uuid.UUID, archived: bool) -> Definition:
        """Archive (values kept, expression index dropped) or restore (index and mirror back)."""
        db = self.runtime.db
        async with self.changing():
            current = await self.get(definition_id)
            if current.archived == archived:
                return current
            await db.execute(
                sql(
                    f"UPDATE {TABLE} SET archived_at = {{}}, updated_at = {{}}, "
                    "version = version + 1 WHERE id = {}",
                    _now() if archived else None,
                    _now(),
                    definition_id,
                )
            )
            definition = await self.get(definition_id)
            await self._follow(definition)
        return definition
