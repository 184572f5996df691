"""Changing a custom field's type: a dry run, then one transaction that converts every value.

Every value of the key, on every record of the entity (soft-deleted ones too), goes
through :func:`.coerce.coerce` into the new type. The dry run (the default) only
reports; an apply changes the definition, rewrites the values, logs one activity entry
per changed record (``record_changed``, same transaction), rebuilds the multi-select mirror
and the expression index, and commits all of it or none of it (except, on PostgreSQL,
the new expression index: it is built right after the commit, see
:func:`.indexes.build_after_commit`).

Values the new type cannot hold are never lost, and never left in place either:

* An apply with unconvertible values is refused (409, listing them) unless the caller
  says ``force``: nobody loses data by accident, and the dry run's report is the to-do
  list for fixing them first.
* With ``force`` each such value is *moved aside* into ``crmkit_custom_unconverted``
  (record, old value, old and new type, reason), removed from the record, and named in
  the record's activity entry; ``GET /api/v1/custom-fields/{id}/unconverted`` lists
  them so they can be fixed and written back. Keeping them in the record instead would
  break the field for everyone: PostgreSQL's typed expression index cannot be built
  over ``"abc"`` in a number field, every typed filter would fail on that row, and
  every later write of the record would be refused by validation.

Concurrency: on SQLite the transaction holds the single writer, so nothing interleaves.
On PostgreSQL records are read ``FOR UPDATE`` batch by batch (a concurrent update waits,
then validates against the new type, because writes re-read the definitions'
generation); records *created* while the change runs are converted by a last pass over
``created_at``, which leaves only a window of milliseconds around the commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import join, sql
from ..errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from ..events import Actor, Event, FieldChange
from ..search import reindex as reindex_search
from .coerce import as_text, coerce, same
from .definitions import RULES, Definition
from .indexes import build_after_commit, drop_index, sync_index
from .validate import refused_references
from .values import TYPE_CHANGE, UNCONVERTED_TABLE, is_list_type, rebuild

if TYPE_CHECKING:
    from ..fields import FieldType
    from ..records import Records
    from ..runtime import Runtime

__all__ = ["Failure", "TypeChange", "TypeChangeReport", "change_type"]

MAX_FAILURES = 100
BATCH = 500
#: How far before the start the last pass looks for records created meanwhile (clocks
#: of several workers differ a little).
CLOCK_SKEW = dt.timedelta(seconds=5)


class TypeChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/custom-fields/{id}/change-type``."""

    #: The new type (``GET /api/v1/meta/field-types`` or ``crmkit fields types``).
    type: str
    #: Options of the new type (kept from the old definition when omitted and needed).
    options: list[Any] | None = None
    #: Rules of the new type (the old rules that still apply are kept when omitted).
    validation: dict[str, Any] | None = None
    #: A new default (the old one is converted when omitted).
    default: Any = msgspec.UNSET
    #: Only report (the default). ``false`` applies the change.
    dry_run: bool = True
    #: Apply even when some values cannot be converted: they are moved aside.
    force: bool = False


class Failure(msgspec.Struct):
    record_id: uuid.UUID
    value: Any
    message: str


class TypeChangeReport(msgspec.Struct, kw_only=True):
    """What a type change does (dry run) or did (applied)."""

    type_from: str
    type_to: str
    #: Records holding a value for the key (soft-deleted ones included).
    records: int = 0
    convertible: int = 0
    unconvertible: int = 0
    #: Convertible values whose stored form changes (the others stay as they are).
    changed: int = 0
    #: The first 100 values that cannot be converted.
    failures: list[Failure] = []
    applied: bool = False
    #: Values moved to ``crmkit_custom_unconverted`` (``force``).
    set_aside: int = 0
    definition: Definition | None = None


@dataclass
class _Apply:
    actor: Actor
    source: str
    force: bool
    aside: list[tuple[Any, Any, str]] = field(default_factory=list)


def _show(value: Any) -> str:
    text = "∅" if value is None else as_text(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def plan(runtime: Runtime, current: Definition, change: TypeChange) -> Definition:
    """The definition after the change, checked like a create (every problem listed)."""
    service = runtime.custom_fields
    if change.type == current.type:
        raise ValidationFailed(
            "the type does not change", errors=[FieldError("type", f"is already {current.type}")]
        )
    target: FieldType | None = runtime.plugins.field_types.get(change.type)
    body: dict[str, Any] = {"type": change.type}
    if change.options is not None:
        body["options"] = change.options
    elif target is not None:
        body["options"] = current.options if getattr(target, "needs_options", False) else []
    if change.validation is not None:
        body["validation"] = change.validation
    elif target is not None:
        body["validation"] = {
            k: v
            for k, v in current.validation.items()
            if RULES.get(k) is None or target.storage in (RULES[k] or ())
        }
    if target is not None and target.storage in ("array", "boolean"):
        body["sortable"] = False
    errors: list[FieldError] = []
    if change.default is not msgspec.UNSET:
        body["default"] = change.default
    elif current.default is not None and target is not None:
        probe = msgspec.structs.replace(
            current, type=change.type, options=[], validation=body.get("validation", {})
        )
        if "options" in body:
            probe = msgspec.structs.replace(
                probe, options=service._options(body["options"], target, [])
            )
        try:
            body["default"] = coerce(current.default, target, probe)
        except ValueError as exc:
            errors.append(
                FieldError(
                    "default",
                    f"the current default {_show(current.default)!r} cannot be a "
                    f"{change.type} ({exc}): send a default (or null)",
                )
            )
    try:
        values = service.check(body, current, retype=True)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.detail, errors=errors + exc.errors) from None
    if errors:
        raise ValidationFailed("invalid type change", errors=errors)
    return msgspec.structs.replace(
        current,
        type=values["type"],
        options=values["options"],
        validation=values["validation"],
        default=values["default"],
        sortable=values["sortable"],
    )


async def _scan(
    runtime: Runtime,
    records: Records,
    target: Definition,
    report: TypeChangeReport,
    *,
    apply: _Apply | None,
    since: dt.datetime | None = None,
) -> None:
    """One keyset pass (by id, in batches) over the records holding a value."""
    db, key = runtime.db, target.key
    ftype = runtime.custom_fields.field_type(target)
    assert ftype is not None
    lock = " FOR UPDATE" if apply is not None and db.kind == "postgres" else ""
    cursor: Any = None
    while True:
        conditions = [sql(f"{db.json_value('t.custom', key)} IS NOT NULL")]
        if cursor is not None:
            conditions.append(sql("t.id > {}", cursor))
        if since is not None:
            conditions.append(sql("t.created_at >= {}", since))
        rows = await db.fetch(
            sql(
                f"SELECT t.* FROM {records.table} AS t WHERE {{}} ORDER BY t.id "
                f"LIMIT {BATCH}{lock}",
                join(conditions, " AND "),
            )
        )
        if not rows:
            return
        cursor = rows[-1]["id"]
        todo: list[tuple[dict[str, Any], Any, Any, str | None]] = []
        decoded = [records.decode(row) for row in rows]
        refused, refusal = await refused_references(  # ids of no active user (one query)
            runtime, ftype, target, [(r.get("custom") or {}).get(key) for r in decoded]
        )
        for record in decoded:
            old = (record.get("custom") or {}).get(key)
            if old is None:
                continue
            new, message = None, None
            try:
                new = coerce(old, ftype, target)
            except ValueError as exc:
                message = str(exc)
            if message is None and isinstance(new, str) and new in refused:
                new, message = None, refusal
            unchanged = message is None and same(new, old)
            if since is not None and unchanged:
                continue  # converted by the main pass
            report.records += 1
            if message is None:
                report.convertible += 1
            else:
                report.unconvertible += 1
                if len(report.failures) < MAX_FAILURES:
                    report.failures.append(Failure(record["id"], old, message))
            if unchanged:
                continue
            if message is None:
                report.changed += 1
            if apply is not None and (message is None or apply.force):
                todo.append((record, old, new, message))
        if apply is not None and todo:
            await _write(runtime, records, target, report, apply, todo)


async def _write(
    runtime: Runtime,
    records: Records,
    target: Definition,
    report: TypeChangeReport,
    apply: _Apply,
    todo: list[tuple[dict[str, Any], Any, Any, str | None]],
) -> None:
    """One batch: one ``executemany`` UPDATE, then one event per record (activity log)."""
    key, now, label = target.key, dt.datetime.now(dt.UTC), apply.actor.label
    params, after = [], []
    for record, old, new, message in todo:
        custom = dict(record.get("custom") or {})
        if new is None:
            custom.pop(key, None)
        else:
            custom[key] = new
        params.append((msgspec.json.encode(custom).decode(), now, label, record["id"]))
        after.append(
            {**record, "custom": custom, "version": record["version"] + 1,
             "updated_at": now, "updated_by": label}
        )  # fmt: skip
        if message is not None:
            apply.aside.append((record["id"], old, message))
    await runtime.db.executemany(
        f"UPDATE {records.table} SET custom = {{}}, version = version + 1, updated_at = {{}}, "
        "updated_by = {} WHERE id = {}",
        params,
    )
    detail = {"definition_id": str(target.id), "key": key, "from": report.type_from,
              "to": report.type_to}  # fmt: skip
    for (record, old, new, message), changed in zip(todo, await records.expand(after), strict=True):
        if message is None:
            summary = (
                f"custom.{key}: {_show(old)} → {_show(new)} "
                f"(converted from {report.type_from} to {report.type_to})"
            )
        else:
            summary = (
                f"custom.{key}: {_show(old)} set aside, it cannot be a {report.type_to} "
                f"({message}); see /api/v1/custom-fields/{target.id}/unconverted"
            )
        await runtime.emit(
            Event(
                entity=target.entity,
                record_id=record["id"],
                action="update",
                actor=apply.actor,
                source=apply.source,
                changes=[FieldChange(f"custom.{key}", old, new)],
                record=changed,
                summary=summary,
                data={TYPE_CHANGE: detail},
            )
        )
    # the batch's search rows of this field, in one go (the events above skip them)
    ids = [r["id"] for r in after]
    await reindex_search(runtime, target.entity, ids, records=after, fields=[f"custom.{key}"])


async def _set_aside(
    runtime: Runtime, current: Definition, target: Definition, aside: list[tuple[Any, Any, str]]
) -> None:
    now = dt.datetime.now(dt.UTC)
    await runtime.db.executemany(
        f"INSERT INTO {UNCONVERTED_TABLE} (id, definition_id, entity, key, record_id, value, "
        "type_from, type_to, message, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        [
            (
                uuid.uuid4(),
                current.id,
                current.entity,
                current.key,
                record_id,
                msgspec.json.encode(value).decode(),
                current.type,
                target.type,
                message,
                now,
            )
            for record_id, value, message in aside
        ],
    )


def _refuse_unless_forced(report: TypeChangeReport, change: TypeChange) -> None:
    """409 with the report (the transaction rolls back) when values would be moved aside."""
    if report.unconvertible and not change.force:
        raise Conflict(
            f"{report.unconvertible} value(s) cannot be converted to {report.type_to}: fix "
            "them, or send force=true to move them aside (nothing was changed)",
            errors=[FieldError("force", "needed: some values cannot be converted")],
            extra=msgspec.to_builtins(msgspec.structs.replace(report, definition=None)),
        )


async def change_type(
    runtime: Runtime,
    definition_id: uuid.UUID,
    change: TypeChange,
    *,
    actor: Actor,
    source: str = "api",
    if_version: int | None = None,
) -> TypeChangeReport:
    """Report (``dry_run``) or apply a type change; see the module docstring."""
    service = runtime.custom_fields
    current = await service.get(definition_id)
    if current.archived:
        raise Conflict(f"custom field {definition_id} is archived: restore it first")
    if current.entity not in runtime.plugins.entities:
        raise Conflict(f"the entity {current.entity!r} of this field is not enabled")
    records = runtime.records(current.entity)
    target = plan(runtime, current, change)
    report = TypeChangeReport(type_from=current.type, type_to=target.type)
    if change.dry_run:
        await _scan(runtime, records, target, report, apply=None)
        return report
    apply = _Apply(actor=actor, source=source, force=change.force)
    async with service.changing():
        started = dt.datetime.now(dt.UTC)
        current = await service.get(definition_id)
        if if_version is not None and current.version != if_version:
            raise PreconditionFailed(
                f"custom field {definition_id} is at version {current.version}"
            )
        target = plan(runtime, current, change)
        await service._write(
            definition_id,
            {
                k: getattr(target, k)
                for k in ("type", "options", "validation", "default", "sortable")
            },
        )
        service.invalidate()
        await _scan(runtime, records, target, report, apply=apply)
        _refuse_unless_forced(report, change)
        # records created meanwhile (forced failures are gone from the records by now)
        await _scan(runtime, records, target, report, apply=apply, since=started - CLOCK_SKEW)
        _refuse_unless_forced(report, change)
        if apply.aside:
            await _set_aside(runtime, current, target, apply.aside)
        report.set_aside = len(apply.aside)
        definition = await service.get(definition_id)
        if runtime.db.kind == "postgres":
            await drop_index(runtime, definition)  # rebuilt below, once committed
        else:
            await sync_index(runtime, definition, rebuild=True)
        if service.ready and (is_list_type(runtime, current) or is_list_type(runtime, definition)):
            await rebuild(runtime, definition)
    if runtime.db.kind == "postgres":
        await build_after_commit(runtime, definition)
    report.applied = True
    report.definition = definition
    return report
