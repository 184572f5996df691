"""Bulk operations: one action applied to up to 10,000 records of one entity, all or nothing.

The records are named by ``ids`` or by a ``query`` (the filters and ``q`` of a list),
resolved for the caller's :class:`~crmkit.core.access.Access` (what it cannot see does
not exist). The action then runs on every record inside one unit of work
(``runtime.write()``): the same write checks, ``before_save`` hooks, events and activity
entries (source ``bulk``) as one-by-one changes, committed together or not at all. The
core's actions batch what the record service reads one record at a time (see
:class:`_Writer`); per record there remain its ``UPDATE`` and its event.

A record that fails does not stop the run at once: its problems are collected (up to
:data:`MAX_FAILED_RECORDS` records) and then the whole unit of work is rolled back, so
the client learns every record to fix in one answer. ``dry_run`` runs the same code and
rolls back, reporting what would have changed and the problems it would have met.

Plugins add actions with the ``register_bulk_actions`` hook (:class:`BulkAction`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import msgspec

from .access import ACTIONS, Access
from .db.sql import QueryString, join, sql
from .errors import (
    BadRequest,
    Conflict,
    CrmError,
    FieldError,
    NotFound,
    PluginError,
    PreconditionFailed,
    ValidationFailed,
)
from .events import SYSTEM, Actor, Event, FieldChange, SaveContext, diff
from .query.params import RESERVED, parse_list_params
from .records import MAX_TAG_LENGTH, normalise_tags
from .validation import field_errors

if TYPE_CHECKING:
    from .entity import EntityType
    from .records import Records
    from .runtime import Runtime

__all__ = [
    "CORE_ACTIONS",
    "MAX_FAILED_RECORDS",
    "MAX_RECORDS",
    "RESERVED_PARAMS",
    "SAMPLE_SIZE",
    "BulkAction",
    "BulkFailed",
    "BulkResult",
    "BulkSample",
    "RecordError",
    "TagsParams",
    "for_each_record",
    "run_bulk",
]

#: The most records one call may touch (``ids`` given, or matched by ``query``).
MAX_RECORDS = 10_000
#: Records listed by a dry run.
SAMPLE_SIZE = 20
#: A run stops collecting problems after this many failing records (it fails anyway).
MAX_FAILED_RECORDS = 100
#: The core's actions, and the entity action each needs besides ``bulk``.
CORE_ACTIONS: dict[str, str] = {
    "update": "update",
    "delete": "delete",
    "restore": "delete",
    "add_tags": "update",
    "remove_tags": "update",
}
#: Body members every action has: a plugin action's parameters may not use these names.
RESERVED_PARAMS = frozenset({"action", "ids", "query", "dry_run"})

Tag = Annotated[str, msgspec.Meta(max_length=MAX_TAG_LENGTH)]


class TagsParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Parameters of ``add_tags`` and ``remove_tags``."""

    tags: Annotated[list[Tag], msgspec.Meta(min_length=1, max_length=100)]


class RecordError(msgspec.Struct, frozen=True):
    """One problem with one record: its id, the field (``id`` for the record as a whole,
    ``ids`` for an id that names no record) and the message."""

    id: uuid.UUID
    field: str
    message: str


class BulkSample(msgspec.Struct, frozen=True):
    """A matched record as a dry run lists it: its id and display name."""

    id: uuid.UUID
    display: str


class BulkResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a bulk call did (or, with ``dry_run``, would do)."""

    action: str
    matched: int
    changed: int
    errors: list[RecordError]
    dry_run: bool
    #: The first matched records (dry runs only).
    sample: list[BulkSample] | None = None


class BulkFailed(ValidationFailed):
    """Some records failed, so nothing was written: every problem found, by record.

    The API answers 422 with ``errors`` as ``{"id", "field", "message"}`` objects (and
    ``matched``); ``changed`` counts what the records that went through would have changed.
    """

    def __init__(
        self, failures: list[RecordError], *, matched: int | None = None, changed: int = 0
    ) -> None:
        self.failures = failures
        self.changed = changed
        self.matched = matched
        ids = len({f.id for f in failures})
        detail = f"{ids} record{'s' if ids != 1 else ''} failed, so nothing was changed"
        if ids >= MAX_FAILED_RECORDS:
            detail += f" (stopped after {MAX_FAILED_RECORDS} failing records)"
        extra: dict[str, Any] = {"errors": msgspec.to_builtins(failures), "changed": 0}
        if matched is not None:
            extra["matched"] = matched
        super().__init__(
            detail,
            errors=[FieldError(f"{f.id}.{f.field}", f.message) for f in failures],
            extra=extra,
        )


@dataclass(frozen=True, kw_only=True)
class BulkAction:
    """An action a plugin adds to ``POST /api/v1/<plural>/bulk``.

    ``entity`` is an entity name or ``"*"`` for every entity. ``params`` is a
    :class:`msgspec.Struct` (``forbid_unknown_fields=True``) of the action's parameters:
    they sit next to ``action`` and ``ids`` in the request body and in the OpenAPI
    document. ``actions`` are what the caller's role needs on the entity besides
    ``bulk``; ``requires`` adds ``(entity, action)`` pairs on other entities.

    ``apply(runtime, entity, record_ids, params, actor, access)`` is async and runs inside
    the call's unit of work; it changes the records (emitting events with
    ``source="bulk"``) and returns how many it changed. Raising rolls back the whole
    call; to report problems per record, run the records through
    :func:`for_each_record`.
    """

    name: str
    params: type[msgspec.Struct]
    apply: Callable[[Runtime, EntityType, list[uuid.UUID], Any, Actor, Access], Awaitable[int]]
    entity: str = "*"
    actions: tuple[str, ...] = ("update",)
    requires: tuple[tuple[str, str], ...] = ()
    summary: str = ""

    def applies_to(self, entity: str) -> bool:
        return self.entity in ("*", entity)

    def validate(self, plugin: str) -> None:
        """A declaration that cannot work is a one-line start-up error naming the plugin."""
        where = f"plugin {plugin!r}, bulk action {self.name!r}"
        if not self.name.isidentifier() or not self.name.islower():
            raise PluginError(f"{where}: the name must be a lower-case identifier")
        if self.name in CORE_ACTIONS:
            raise PluginError(f"{where}: {self.name!r} is a core action")
        if not (isinstance(self.params, type) and issubclass(self.params, msgspec.Struct)):
            raise PluginError(f"{where}: params must be a msgspec.Struct type")
        if not self.params.__struct_config__.forbid_unknown_fields:
            raise PluginError(f"{where}: params must forbid unknown fields")
        if self.params.__struct_config__.tag_field is not None:
            raise PluginError(f"{where}: params must not be a tagged struct")
        clash = RESERVED_PARAMS & {f.encode_name for f in msgspec.structs.fields(self.params)}
        if clash:
            raise PluginError(f"{where}: params may not be named {', '.join(sorted(clash))}")
        pairs = [(self.entity, a) for a in self.actions] + list(self.requires)
        if not self.actions or any(a not in ACTIONS for _, a in pairs):
            raise PluginError(f"{where}: actions must be among {', '.join(ACTIONS)}")
        if not callable(self.apply):
            raise PluginError(f"{where}: apply must be an async function")


# -- running records one by one, collecting problems -----------------------------------------


def _poisoned(exc: BaseException) -> bool:
    """Whether the database refused a statement (a PostgreSQL transaction is then unusable,
    so the run stops at once)."""
    cause = exc.__cause__
    return isinstance(cause, asyncpg.PostgresError | sqlite3.Error | OverflowError)


def record_errors(record_id: uuid.UUID, exc: CrmError) -> list[RecordError]:
    """A client error of one record as record errors (one per field problem)."""
    if exc.errors:
        return [RecordError(record_id, e.field, e.message) for e in exc.errors]
    return [RecordError(record_id, "id", exc.detail)]


class _Failures:
    """The records that failed so far; ``stop`` once going on is pointless."""

    def __init__(self) -> None:
        self.errors: list[RecordError] = []
        self.records = 0
        self.stop = False

    def add(self, record_id: uuid.UUID, exc: CrmError) -> None:
        if exc.status >= 500:
            raise exc
        self.errors.extend(record_errors(record_id, exc))
        self.records += 1
        if self.records >= MAX_FAILED_RECORDS or _poisoned(exc):
            self.stop = True

    def raise_any(self, changed: int) -> None:
        if self.errors:
            raise BulkFailed(self.errors, changed=changed)


async def for_each_record(
    record_ids: Iterable[uuid.UUID], change: Callable[[uuid.UUID], Awaitable[bool]]
) -> int:
    """Run ``change(record_id)`` for each record; returns how many it changed (``True``).

    A client error (any :class:`~crmkit.core.CrmError` below 500) is recorded against the
    record and the next record runs, so one answer lists every record to fix; at the end,
    :class:`BulkFailed` is raised if any failed (the caller's unit of work then rolls back).
    It stops early after :data:`MAX_FAILED_RECORDS` failing records, or when the database
    itself refused a statement. Any other exception propagates at once.
    """
    changed = 0
    failures = _Failures()
    for record_id in record_ids:
        try:
            if await change(record_id):
                changed += 1
        except CrmError as exc:
            failures.add(record_id, exc)
            if failures.stop:
                break
    failures.raise_any(changed)
    return changed


# -- the core actions' writes, batched ----------------------------------------------------

#: Records changed between two batched reads (their events go out a chunk at a time).
CHUNK = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in(ids: Iterable[uuid.UUID]) -> QueryString:
    return join([sql("{}", i) for i in ids], ", ")


#: A written record: its old row, its field changes (``None``: ``deleted_at``'s) and the
#: event's data.
_Done = tuple[dict[str, Any], list[FieldChange] | None, dict[str, Any]]


class _Writer:
    """The writes of the core actions: what ``Records.update``, ``delete`` and ``restore``
    do to one record, for many, with the reads batched.

    Per record, as there: the write checks, ``before_save``, the ``UPDATE ... WHERE id = ?
    AND version = ?`` and the event (``record_changed``: the activity entry). Batched: the
    rows are read and locked (``FOR UPDATE``, in id order, so two bulk calls do not
    deadlock) a thousand at a time before any write; the tag index is written, and the
    records re-read and expanded for their events, a chunk at a time.
    """

    def __init__(self, records: Records, actor: Actor, data: dict[str, Any]) -> None:
        self.records = records
        self.runtime = records.runtime
        self.db = records.db
        self.entity = records.entity
        self.actor = actor
        self.data = data
        self.failures = _Failures()
        self.changed = 0
        #: New tags of the chunk's records whose tags changed (indexed before the events).
        self.tags: dict[uuid.UUID, list[str]] = {}

    async def _read(self, ids: list[uuid.UUID], *, lock: bool) -> dict[uuid.UUID, dict[str, Any]]:
        """The stored rows (expanded), a thousand per query; ``lock`` them on PostgreSQL."""
        suffix = " FOR UPDATE" if lock and self.db.kind == "postgres" else ""
        out: dict[uuid.UUID, dict[str, Any]] = {}
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            rows = await self.db.fetch(
                sql(
                    f"SELECT t.* FROM {self.records.table} AS t WHERE t.id IN ({{}}) "
                    f"ORDER BY t.id{suffix}",
                    _in(ordered[start : start + 1000]),
                )
            )
            decoded = [self.records.decode(r) for r in rows]
            out.update((r["id"], r) for r in await self.records.expand(decoded))
        return out

    def _old(
        self, rows: dict[uuid.UUID, dict[str, Any]], record: dict[str, Any], *, deleted: bool
    ) -> dict[str, Any]:
        old = rows.get(record["id"])
        if old is None or (old["deleted_at"] is not None and not deleted):
            raise NotFound(f"{self.entity.name} {record['id']} not found")
        return old

    async def _announce(self, action: str, done: list[_Done]) -> None:
        """The events of a chunk of changed records (re-read in one query)."""
        if not done:
            return
        fresh = await self._read([old["id"] for old, _, _ in done], lock=False)
        for old, changes, data in done:
            record = fresh[old["id"]]
            event = Event(
                entity=self.entity.name,
                record_id=old["id"],
                action=action,
                actor=self.actor,
                source="bulk",
                record=record,
                changes=changes if changes is not None else diff(old, record, ["deleted_at"]),
                data=data,
            )
            try:
                await self.runtime.emit(event)
            except CrmError as exc:
                self.failures.add(old["id"], exc)
            else:
                self.changed += 1

    async def _each(
        self,
        action: str,
        records: list[dict[str, Any]],
        one: Callable[[dict[str, Any]], Awaitable[_Done | None]],
    ) -> None:
        """``one(record)`` for each record (its write), then the chunk's events."""
        for start in range(0, len(records), CHUNK):
            done = []
            for record in records[start : start + CHUNK]:
                if self.failures.stop:
                    return
                try:
                    result = await one(record)
                except CrmError as exc:
                    self.failures.add(record["id"], exc)
                    continue
                if result is not None:
                    done.append(result)
            if not self.failures.stop:
                await self._sync_tags()
                await self._announce(action, done)

    async def _sync_tags(self) -> None:
        """The tag index of the chunk's records whose tags changed, in two statements (what
        ``Records._sync_tags`` does for one record), before their events go out."""
        if not self.tags:
            return
        ids = list(self.tags)
        await self.db.execute(
            sql("DELETE FROM crmkit_record_tag WHERE record_id IN ({})", _in(ids))
        )
        rows = [(record_id, tag) for record_id in ids for tag in self.tags[record_id]]
        for start in range(0, len(rows), 300):
            values = join(
                [sql("({}, {}, {})", self.entity.name, i, t) for i, t in rows[start : start + 300]],
                ", ",
            )
            await self.db.execute(
                sql("INSERT INTO crmkit_record_tag (entity, record_id, tag) VALUES {}", values)
            )
        self.tags.clear()

    async def update(
        self, records: list[dict[str, Any]], changes_of: dict[uuid.UUID, dict[str, Any]]
    ) -> None:
        """The ``changes_of`` each record; ``records`` as the call read them (their
        versions must still be current)."""
        rows = await self._read([record["id"] for record in records], lock=True)
        svc, writable = self.records, list(self.entity.writable)

        async def one(record: dict[str, Any]) -> _Done | None:
            changes = changes_of[record["id"]]
            old = self._old(rows, record, deleted=False)
            if old["version"] != record["version"]:
                raise PreconditionFailed(
                    f"{self.entity.name} {old['id']} changed during the bulk call; retry"
                )
            changes = svc._check_update(changes, old)
            merged = {k: old.get(k) for k in writable}
            merged.update(svc._builtins(changes))
            data = dict(self.data)
            values = await svc._before_save("update", merged, old, self.actor, "bulk", data)
            field_changes = diff(old, values, writable)
            if not field_changes:
                return None
            changed = {c.field.split(".")[0] for c in field_changes}
            params = svc._params({k: values[k] for k in writable if k in changed})
            params.update(svc._params(svc._derived(values, old)))
            sets = [f"{name} = {{}}" for name in params]
            sets += ["version = version + 1", "updated_at = {}", "updated_by = {}"]
            row = await self.db.fetchrow(
                sql(
                    f"UPDATE {svc.table} SET {', '.join(sets)} "
                    "WHERE id = {} AND version = {} RETURNING id",
                    *params.values(),
                    _now(),
                    self.actor.label,
                    old["id"],
                    old["version"],
                )
            )
            if row is None:
                raise Conflict(f"{self.entity.name} {old['id']} changed meanwhile; retry")
            if "tags" in changed:
                self.tags[old["id"]] = values["tags"]  # indexed with the chunk's others
            return old, field_changes, data

        await self._each("update", records, one)

    async def delete(self, records: list[dict[str, Any]]) -> None:
        """Soft-delete; records already deleted are left alone."""
        rows = await self._read([r["id"] for r in records], lock=True)

        async def one(record: dict[str, Any]) -> _Done | None:
            old = self._old(rows, record, deleted=True)
            if old["deleted_at"] is not None:
                return None
            now = _now()
            await self.db.execute(
                sql(
                    f"UPDATE {self.records.table} SET deleted_at = {{}}, version = version + 1, "
                    "updated_at = {}, updated_by = {} WHERE id = {}",
                    now,
                    now,
                    self.actor.label,
                    old["id"],
                )
            )
            return old, None, {}

        await self._each("delete", records, one)

    async def restore(self, records: list[dict[str, Any]]) -> None:
        """Undo soft deletes (``before_save`` may veto); records not deleted are left alone."""
        rows = await self._read([r["id"] for r in records], lock=True)
        svc, writable = self.records, list(self.entity.writable)

        async def one(record: dict[str, Any]) -> _Done | None:
            old = self._old(rows, record, deleted=True)
            if old["deleted_at"] is None:
                return None
            values = {k: old.get(k) for k in writable}
            await svc._before_save("restore", values, old, self.actor, "bulk", {})
            await self.db.execute(
                sql(
                    f"UPDATE {svc.table} SET deleted_at = NULL, version = version + 1, "
                    "updated_at = {}, updated_by = {} WHERE id = {}",
                    _now(),
                    self.actor.label,
                    old["id"],
                )
            )
            return old, None, {}

        await self._each("restore", records, one)


# -- the service --------------------------------------------------------------------------


class _Rollback(Exception):  # control flow, never seen outside this module
    """Leaves a dry run's unit of work, rolling it back."""

    def __init__(self, result: BulkResult) -> None:
        self.result = result


def _query_pairs(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A ``query`` object as the query-string pairs of a list: ``{"type": "customer",
    "tag": ["a", "b"], "custom.budget__gt": 100, "email__in": ["x", "y"]}``."""
    pairs: list[tuple[str, str]] = []
    errors: list[FieldError] = []

    def text(key: str, value: Any) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        errors.append(FieldError(f"query.{key}", "expected a string, number or boolean"))
        return None

    for key, value in query.items():
        if key in RESERVED - {"q"}:
            errors.append(FieldError(f"query.{key}", "not a filter (bulk takes filters and q)"))
            continue
        if isinstance(value, list):
            items = [t for t in (text(key, v) for v in value) if t is not None]
            if key.endswith(("__in", "__nin")):
                pairs.append((key, ",".join(items)))
            else:  # a repeated filter: every condition holds
                pairs.extend((key, item) for item in items)
        elif (item := text(key, value)) is not None:
            pairs.append((key, item))
    if errors:
        raise ValidationFailed("invalid query", errors=errors)
    return pairs


def _in_query(exc: BadRequest) -> BadRequest:
    """A list's 400 about a parameter, naming it inside ``query``."""
    return BadRequest(
        exc.detail,
        errors=[FieldError(f"query.{e.field}", e.message) for e in exc.errors],
        extra=exc.extra,
    )


def _display(entity: EntityType, record: dict[str, Any]) -> str:
    if entity.display is not None:
        try:
            return entity.display(record) or str(record["id"])
        except (KeyError, TypeError, ValueError):  # a field hidden from this reader
            pass
    return str(record["id"])


class _Bulk:
    """One bulk call: its target, permissions and action."""

    def __init__(
        self,
        runtime: Runtime,
        entity: EntityType,
        action: str,
        *,
        actor: Actor,
        access: Access | None,
        data: dict[str, Any],
    ) -> None:
        self.runtime = runtime
        self.entity = entity
        self.name = action
        self.actor = actor
        self.access = access
        self.data = data
        self.records: Records = runtime.records(entity, access)
        plugin = None
        if action not in CORE_ACTIONS:
            plugin = next(
                (a for a in runtime.plugins.bulk_actions_for(entity.name) if a.name == action),
                None,
            )
            if plugin is None:
                known = [
                    *CORE_ACTIONS,
                    *(a.name for a in runtime.plugins.bulk_actions_for(entity.name)),
                ]
                raise ValidationFailed(
                    f"unknown bulk action {action!r}",
                    errors=[FieldError("action", f"must be one of {', '.join(known)}")],
                )
        self.plugin: BulkAction | None = plugin

    # -- permissions and parameters -------------------------------------------------------

    def permissions(self) -> list[tuple[str, str]]:
        """``bulk`` on the entity, and what the action itself needs."""
        name = self.entity.name
        if self.plugin is None:
            return [(name, "bulk"), (name, CORE_ACTIONS[self.name])]
        return [
            (name, "bulk"),
            *((name, a) for a in self.plugin.actions),
            *self.plugin.requires,
        ]

    async def parameters(self, params: Any) -> Any:
        """The action's parameters, checked once before any record is touched (every
        problem listed; a field the caller may not write is a 403 naming it)."""
        if self.name == "update":
            return await self._update_parameters(params)
        if self.name in ("add_tags", "remove_tags"):
            tags = _struct(TagsParams, params)
            if self.access is not None:
                self.access.check_writes(self.entity.name, ["tags"])
            return normalise_tags(tags.tags)
        if self.plugin is not None:
            return _struct(self.plugin.params, params)
        return None

    async def _update_parameters(self, params: Any) -> dict[str, Any]:
        Patch = self.entity.patch_type
        given = params.get("set") if isinstance(params, Mapping) else getattr(params, "set", None)
        if given is None:
            raise ValidationFailed("set is required", errors=[FieldError("set", "required")])
        if not isinstance(given, Patch):
            errors = field_errors(Patch, given, prefix="set")
            if errors:
                raise ValidationFailed(
                    f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in set", errors=errors
                )
            given = msgspec.convert(given, Patch)
        changes = {k: v for k, v in msgspec.structs.asdict(given).items() if v is not msgspec.UNSET}
        if not changes:
            raise ValidationFailed(
                "set names no field", errors=[FieldError("set", "names no field to change")]
            )
        if self.access is not None:
            written = [k for k in changes if k != "custom"]
            written += [f"custom.{k}" for k in changes.get("custom") or {}]
            self.access.check_writes(self.entity.name, written)
        errors: list[FieldError] = []
        if "tags" in changes:
            try:
                changes["tags"] = normalise_tags(changes["tags"])
            except ValidationFailed as exc:
                errors += exc.errors
        if changes.get("custom"):
            errors += await self._custom_errors(changes["custom"])
        if errors:
            raise ValidationFailed(
                f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in set",
                errors=[FieldError(f"set.{e.field}", e.message) for e in errors],
            )
        return changes

    async def _custom_errors(self, custom: dict[str, Any]) -> list[FieldError]:
        """The custom values of ``set`` against the definitions, once (not per record)."""
        from .custom_fields.validate import validate_custom

        context = SaveContext(
            runtime=self.runtime,
            entity=self.entity,
            action="update",
            values={"custom": dict(custom)},
            old={"custom": {}},
            actor=self.actor,
            source="bulk",
        )
        try:
            await validate_custom(context)
        except ValidationFailed as exc:
            return exc.errors
        return []

    # -- the target -----------------------------------------------------------------------

    async def resolve(
        self, ids: list[uuid.UUID] | None, query: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], list[RecordError]]:
        """The records (as this access sees them), and the ids that name none."""
        if ids is not None:
            return await self._by_ids(ids)
        return await self._by_query(query or {}), []

    async def _by_ids(self, ids: list[uuid.UUID]) -> tuple[list[dict[str, Any]], list[RecordError]]:
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), 1000):
            for record in await self.records.get_many(ids[start : start + 1000]):
                found[record["id"]] = record
        records, missing = [], []
        either = self.name in ("delete", "restore")
        for record_id in ids:
            record = found.get(record_id)
            if record is None:
                missing.append(RecordError(record_id, "ids", f"no {self.entity.name} with this id"))
            elif record["deleted_at"] is not None and not either:
                missing.append(RecordError(record_id, "ids", f"this {self.entity.name} is deleted"))
            else:
                records.append(record)
        return records, missing

    async def _by_query(self, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            params = parse_list_params(
                _query_pairs(query), default_limit=MAX_RECORDS, max_limit=MAX_RECORDS
            )
            extra = []
            if self.name == "restore":  # restoring works on the deleted ones
                params.include_deleted = True
                extra.append(sql("t.deleted_at IS NOT NULL"))
            page = await self.records.list(params, extra=extra)
        except BadRequest as exc:
            raise _in_query(exc) from None
        if page.next_cursor is not None:
            raise ValidationFailed(
                f"the query matches more than {MAX_RECORDS} {self.entity.plural}; narrow it",
                errors=[FieldError("query", f"matches more than {MAX_RECORDS} records")],
            )
        return page.data

    # -- the actions ----------------------------------------------------------------------

    async def apply(self, records: list[dict[str, Any]], params: Any) -> int:
        """Change the records (inside the caller's unit of work); how many changed."""
        if self.plugin is not None:
            return await self.plugin.apply(
                self.runtime,
                self.entity,
                [r["id"] for r in records],
                params,
                self.actor,
                self.access or Access.full(self.actor),
            )
        writer = _Writer(self.records, self.actor, self.data)
        if self.name == "delete":
            await writer.delete(records)
        elif self.name == "restore":
            await writer.restore(records)
        else:
            changes = {r["id"]: c for r in records if (c := self._changes(r, params)) is not None}
            await writer.update([r for r in records if r["id"] in changes], changes)
        writer.failures.raise_any(writer.changed)
        return writer.changed

    def _changes(self, record: dict[str, Any], params: Any) -> dict[str, Any] | None:
        """What ``update`` or a tag action changes in one record (``None``: nothing)."""
        if self.name == "update":
            if "custom" not in params:
                return params
            # keys merge into each record's values (a null removes one)
            return {**params, "custom": {**(record.get("custom") or {}), **params["custom"]}}
        old = record.get("tags") or []
        if self.name == "add_tags":
            new = normalise_tags([*old, *params])
        else:
            gone = {t.casefold() for t in params}
            new = [t for t in old if t.casefold() not in gone]
        return {"tags": new} if new != old else None

    def sample(self, records: list[dict[str, Any]]) -> list[BulkSample]:
        return [BulkSample(r["id"], _display(self.entity, r)) for r in records[:SAMPLE_SIZE]]


def _struct(tp: type[msgspec.Struct], params: Any) -> Any:
    """``params`` (a struct of ``tp`` or its JSON-like data) as ``tp``, every problem listed."""
    if isinstance(params, tp):
        return params
    if isinstance(params, msgspec.Struct):
        params = msgspec.structs.asdict(params)
    obj = dict(params or {})
    errors = field_errors(tp, obj)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the parameters",
            errors=errors,
        )
    return msgspec.convert(obj, tp)


def _target(
    ids: Iterable[uuid.UUID | str] | None, query: Mapping[str, Any] | None
) -> list[uuid.UUID] | None:
    """The ids, de-duplicated in order (``None`` for a query); exactly one must be given."""
    if (ids is None) == (query is None):
        raise ValidationFailed(
            "name the records by ids or by query",
            errors=[FieldError("ids", "give either ids or query (not both)")],
        )
    if ids is None:
        return None
    try:
        unique = list(dict.fromkeys(i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in ids))
    except (ValueError, TypeError, AttributeError):
        raise ValidationFailed(
            "ids must be UUIDs", errors=[FieldError("ids", "expected UUIDs")]
        ) from None
    if not unique:
        raise ValidationFailed("ids is empty", errors=[FieldError("ids", "name at least one id")])
    if len(unique) > MAX_RECORDS:
        raise ValidationFailed(
            f"at most {MAX_RECORDS} records per call ({len(unique)} ids given)",
            errors=[FieldError("ids", f"at most {MAX_RECORDS} ids (got {len(unique)})")],
        )
    return unique


def bulk_permissions(runtime: Runtime, entity: EntityType, action: str) -> list[tuple[str, str]]:
    """What a caller needs for ``action`` on ``entity`` (``bulk`` included)."""
    return _Bulk(runtime, entity, action, actor=SYSTEM, access=None, data={}).permissions()


async def run_bulk(
    runtime: Runtime,
    entity: EntityType | str,
    action: str,
    *,
    ids: Iterable[uuid.UUID | str] | None = None,
    query: Mapping[str, Any] | None = None,
    params: Any = None,
    dry_run: bool = False,
    actor: Actor = SYSTEM,
    access: Access | None = None,
    data: dict[str, Any] | None = None,
) -> BulkResult:
    """Apply ``action`` to the records named by ``ids`` or ``query``, in one unit of work.

    ``params`` holds the action's parameters: ``{"set": {...}}`` for ``update``,
    ``{"tags": [...]}`` for the tag actions, the fields of a plugin action's ``params``
    (or the structs themselves). With ``access``, the caller's role must grant ``bulk``
    and the action's own permissions, records outside its reach do not exist, and a
    field it may not write is a 403. Problems with the call itself are raised before any
    record is touched; problems with records raise :class:`BulkFailed` listing them all,
    after rolling everything back. ``dry_run`` rolls back in any case and reports the
    problems in the result instead.
    """
    if isinstance(entity, str):
        entity = runtime.plugins.entity(entity)
    bulk = _Bulk(runtime, entity, action, actor=actor, access=access, data=dict(data or {}))
    if access is not None:
        for name, needed in bulk.permissions():
            access.require(name, needed)
    target = _target(ids, query)
    checked = await bulk.parameters(params)
    if dry_run and runtime.db.in_transaction:
        raise RuntimeError("a dry run cannot join another unit of work (it could not roll back)")
    try:
        async with runtime.write():
            records, missing = await bulk.resolve(target, query)
            matched = len(records)
            if missing and not dry_run:
                raise BulkFailed(missing, matched=matched)
            failures = list(missing)
            try:
                changed = await bulk.apply(records, checked)
            except BulkFailed as exc:
                if not dry_run:
                    raise BulkFailed(exc.failures, matched=matched) from None
                failures += exc.failures
                changed = exc.changed
            result = BulkResult(
                action=action,
                matched=matched,
                changed=changed,
                errors=failures,
                dry_run=dry_run,
                sample=bulk.sample(records) if dry_run else None,
            )
            if dry_run:
                raise _Rollback(result)
    except _Rollback as done:
        return done.result
    return result
