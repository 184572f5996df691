"""Manual entries: create (validated per kind), edit and delete by their author."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from crmkit.core import (
    Actor,
    FieldError,
    Forbidden,
    NotFound,
    Runtime,
    ValidationFailed,
    join,
    reindex_search,
    sql,
    validate,
)

from .kinds import CHANGE, KINDS, Kind
from .store import get_entry, insert_entry, jsonable, now

__all__ = ["create_manual", "delete_manual", "update_manual"]

COMMON = ("kind", "records", "occurred_at", "summary")
FIXED = ("kind", "records", "occurred_at")


class RecordIn(msgspec.Struct, forbid_unknown_fields=True):
    entity: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    id: uuid.UUID


class EntryCommon(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: str
    records: Annotated[list[RecordIn], msgspec.Meta(min_length=1, max_length=100)]
    occurred_at: dt.datetime | None = None
    summary: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class SummaryPatch(msgspec.Struct, forbid_unknown_fields=True):
    summary: Annotated[str, msgspec.Meta(max_length=500)] | None = None


def _problems(errors: list[FieldError], what: str = "the activity entry") -> ValidationFailed:
    n = len(errors)
    return ValidationFailed(f"{n} problem{'s' if n != 1 else ''} in {what}", errors=errors)


def _try(tp: type[Any], obj: Any, errors: list[FieldError]) -> Any:
    try:
        return validate(tp, obj)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return None


def _fields(kind: Kind, obj: dict[str, Any], errors: list[FieldError]) -> dict[str, Any] | None:
    """The kind's fields checked, as JSON-able values; cross-field rules too."""
    value = _try(kind.fields, obj, errors)
    if value is None:
        return None
    fields = jsonable(value)
    starts, ends = getattr(value, "starts_at", None), getattr(value, "ends_at", None)
    if isinstance(starts, dt.datetime) and isinstance(ends, dt.datetime):
        utc = [x.replace(tzinfo=dt.UTC) if x.tzinfo is None else x for x in (starts, ends)]
        if utc[1] < utc[0]:
            errors.append(FieldError("ends_at", "must not be before starts_at"))
            return None
    return fields


def _kind(name: Any, errors: list[FieldError]) -> Kind | None:
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        hint = " (change entries are written by the change log)" if name == CHANGE else ""
        errors.append(FieldError("kind", f"must be one of: {', '.join(KINDS)}{hint}"))
    return kind


async def _check_records(
    runtime: Runtime, records: list[RecordIn], errors: list[FieldError]
) -> None:
    """Each record exists (one query per entity named)."""
    entities = {e.name: e for e in runtime.entities}
    wanted: dict[str, list[tuple[int, uuid.UUID]]] = {}
    for i, ref in enumerate(records):
        if ref.entity not in entities:
            errors.append(FieldError(f"records[{i}].entity", f"unknown entity {ref.entity!r}"))
            continue
        wanted.setdefault(ref.entity, []).append((i, ref.id))
    for name, refs in wanted.items():
        table = runtime.records(name).table
        ids = join([sql("{}", record_id) for _, record_id in refs], ", ")
        rows = await runtime.db.fetch(
            sql(f"SELECT id FROM {table} WHERE deleted_at IS NULL AND id IN ({{}})", ids)
        )
        found = {str(r["id"]) for r in rows}
        for i, record_id in refs:
            if str(record_id) not in found:
                errors.append(FieldError(f"records[{i}]", f"no {name} {record_id}"))


async def _reindex(runtime: Runtime, kind: str, records: list[tuple[str, Any]]) -> None:
    """The records an entry is about hold its text in their search documents (the
    ``search_text`` hook): re-index them in the entry's transaction."""
    entry_kind = KINDS.get(kind)
    if entry_kind is None or entry_kind.text is None:
        return
    by_entity: dict[str, list[Any]] = {}
    for entity, record_id in records:
        by_entity.setdefault(entity, []).append(record_id)
    for entity, ids in by_entity.items():
        await reindex_search(runtime, entity, ids)


def _split(fields: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    data = dict(fields)
    return data.pop("body", None), data


async def create_manual(runtime: Runtime, body: Any, actor: Actor, source: str = "api") -> Any:
    """Check and write a manual entry; returns the stored entry."""
    if not isinstance(body, dict):
        raise _problems([FieldError("body", "expected a JSON object")])
    errors: list[FieldError] = []
    kind = _kind(body.get("kind"), errors)
    common = _try(EntryCommon, {k: v for k, v in body.items() if k in COMMON}, errors)
    fields = None
    if kind is not None:
        fields = _fields(kind, {k: v for k, v in body.items() if k not in COMMON}, errors)
    if common is not None:
        await _check_records(runtime, common.records, errors)
    if errors or kind is None or common is None or fields is None:
        raise _problems(errors or [FieldError("body", "invalid")])
    text, data = _split(fields)
    async with runtime.write():
        entry_id = await insert_entry(
            runtime,
            kind=kind.name,
            actor=actor,
            source=source,
            records=[(r.entity, r.id) for r in common.records],
            occurred_at=common.occurred_at,
            summary=common.summary,
            body=text,
            data=data,
        )
        await _reindex(runtime, kind.name, [(r.entity, r.id) for r in common.records])
    return await get_entry(runtime, entry_id)


async def _own(runtime: Runtime, entry_id: uuid.UUID, actor: Actor, verb: str) -> Any:
    entry = await get_entry(runtime, entry_id)
    if entry is None or entry["deleted_at"] is not None:
        raise NotFound(f"activity entry {entry_id} not found")
    if entry["kind"] == CHANGE:
        raise Forbidden(f"change entries are append-only: they cannot be {verb}")
    if entry["actor"]["id"] != actor.id:
        raise Forbidden("only the author of an activity entry may change it")
    return entry


async def _log_edit(
    runtime: Runtime,
    entry: dict[str, Any],
    action: str,
    changes: list[dict[str, Any]],
    actor: Actor,
) -> None:
    await insert_entry(
        runtime,
        kind=CHANGE,
        actor=actor,
        source="api",
        records=[(r["entity"], r["id"]) for r in entry["records"]],
        summary=f"{entry['kind']} {'edited' if action == 'update' else 'deleted'}",
        data={
            "action": action,
            "entity": "activity",
            "record_id": str(entry["id"]),
            "changes": changes,
        },
    )


async def update_manual(runtime: Runtime, entry_id: uuid.UUID, body: Any, actor: Actor) -> Any:
    """Edit an entry's own fields (its author only); the edit is logged as a change."""
    if not isinstance(body, dict):
        raise _problems([FieldError("body", "expected a JSON object")])
    async with runtime.write():
        entry = await _own(runtime, entry_id, actor, "edited")
        kind = KINDS.get(entry["kind"])
        if kind is None:
            raise Forbidden(f"entries of kind {entry['kind']!r} cannot be edited here")
        errors = [FieldError(k, "cannot be changed") for k in FIXED if k in body]
        old = {**entry["data"]}
        if "body" in {f.encode_name for f in msgspec.structs.fields(kind.fields)}:
            old["body"] = entry["body"]
        merged = {**old, **{k: v for k, v in body.items() if k not in COMMON}}
        fields = _fields(kind, merged, errors)
        patch = _try(SummaryPatch, {k: v for k, v in body.items() if k == "summary"}, errors)
        if errors or fields is None or patch is None:
            raise _problems(errors or [FieldError("body", "invalid")])
        summary = patch.summary if "summary" in body else entry["summary"]
        changes = [
            {"field": k, "old": old.get(k), "new": fields.get(k)}
            for k in sorted(set(old) | set(fields))
            if old.get(k) != fields.get(k)
        ]
        if summary != entry["summary"]:
            changes.append({"field": "summary", "old": entry["summary"], "new": summary})
        if changes:
            text, data = _split(fields)
            await runtime.db.execute(
                sql(
                    "UPDATE activity SET summary = {}, body = {}, data = {}, edited_at = {} "
                    "WHERE id = {}",
                    summary,
                    text,
                    msgspec.json.encode(data).decode(),
                    now(),
                    entry_id,
                )
            )
            await _log_edit(runtime, entry, "update", changes, actor)
            await _reindex(
                runtime, entry["kind"], [(r["entity"], r["id"]) for r in entry["records"]]
            )
    return await get_entry(runtime, entry_id)


async def delete_manual(runtime: Runtime, entry_id: uuid.UUID, actor: Actor) -> None:
    """Remove a manual entry (its author only); the removal is logged as a change."""
    async with runtime.write():
        entry = await _own(runtime, entry_id, actor, "deleted")
        await runtime.db.execute(
            sql("UPDATE activity SET deleted_at = {} WHERE id = {}", now(), entry_id)
        )
        await _log_edit(runtime, entry, "delete", [], actor)
        await _reindex(runtime, entry["kind"], [(r["entity"], r["id"]) for r in entry["records"]])
