"""Merging duplicates into one record, and undoing a merge exactly.

One transaction: the target gets the chosen values (lists and tags unioned), every
plugin re-points its references (``merge_records``), the sources are soft-deleted with
``merged_into`` set, and a snapshot is kept so ``undo`` restores all of it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from crmkit.core import (
    Actor,
    Conflict,
    Event,
    FieldError,
    NotFound,
    RecordRef,
    Runtime,
    ValidationFailed,
    sql,
)

__all__ = ["MergeRequest", "merge", "undo"]

LIST_KEYS = {"emails": "address", "phones": "number"}


class MergeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    target: uuid.UUID
    sources: list[uuid.UUID]
    #: Field name -> id of the record whose value wins (default: the target's, else a source's).
    fields: dict[str, uuid.UUID] = {}


def _union(items: list[list[dict[str, Any]]], key: Any) -> list[dict[str, Any]]:
    """The items of every group once, in order; the first primary seen (the target's) stays."""
    out: list[dict[str, Any]] = []
    seen: set[Any] = set()
    has_primary = False
    for group in items:
        for item in group or []:
            k = key(item)
            if k in seen:
                continue
            seen.add(k)
            primary = bool(item.get("primary")) and not has_primary
            has_primary = has_primary or primary
            out.append({**item, "primary": primary})
    if out and not has_primary:
        out[0]["primary"] = True
    return out


def _address_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        (a.get(k) or "").lower() for k in ("type", "street", "postal_code", "city", "country")
    )


def _check(runtime: Runtime, request: MergeRequest) -> None:
    errors = []
    if not request.sources:
        errors.append(FieldError("sources", "name at least one record to merge in"))
    if request.target in request.sources:
        errors.append(FieldError("sources", "the target cannot also be a source"))
    if len(set(request.sources)) != len(request.sources):
        errors.append(FieldError("sources", "a record is named twice"))
    if len(request.sources) > 20:
        errors.append(FieldError("sources", "at most 20 records per merge"))
    entity = runtime.plugins.entity("individual")
    ids = {request.target, *request.sources}
    for field, chosen in request.fields.items():
        if field not in entity.writable or field in ("tags", "custom", *LIST_KEYS, "addresses"):
            errors.append(FieldError(f"fields.{field}", "not a field whose value can be chosen"))
        elif chosen not in ids:
            errors.append(FieldError(f"fields.{field}", "must be the target or one of the sources"))
    if errors:
        raise ValidationFailed("invalid merge", errors=errors)


async def merge(runtime: Runtime, request: MergeRequest, *, actor: Actor) -> dict[str, Any]:
    """Merge ``sources`` into ``target``; returns ``{"id": merge_id, "target": record}``."""
    _check(runtime, request)
    records = runtime.records("individual")
    entity = records.entity
    merge_id = uuid.uuid4()
    async with runtime.write():
        target = await records.fetch_row(request.target, lock=True)
        sources = [await records.fetch_row(s, lock=True) for s in request.sources]
        by_id = {r["id"]: r for r in [target, *sources]}
        snapshot = msgspec.to_builtins(
            {"target": target, "sources": sources}, builtin_types=(dt.datetime, dt.date)
        )
        scalars = [
            f for f in entity.writable if f not in ("tags", "custom", "addresses", *LIST_KEYS)
        ]
        values: dict[str, Any] = {}
        for field in scalars:
            chosen = request.fields.get(field)
            if chosen is not None:
                values[field] = by_id[chosen].get(field)
            elif target.get(field) in (None, ""):
                values[field] = next(
                    (s[field] for s in sources if s.get(field) not in (None, "")), target.get(field)
                )
            else:
                values[field] = target.get(field)
        ordered = [target, *sources]
        for field, key in LIST_KEYS.items():
            values[field] = _union([r.get(field) or [] for r in ordered], lambda i, k=key: i.get(k))
        values["addresses"] = _union([r.get("addresses") or [] for r in ordered], _address_key)
        values["tags"] = list(dict.fromkeys(t for r in ordered for t in r.get("tags") or []))
        custom: dict[str, Any] = {}
        for r in reversed(ordered):
            custom.update({k: v for k, v in (r.get("custom") or {}).items() if v is not None})
        values["custom"] = custom
        data = {"skip_duplicate_check": True, "merge_id": str(merge_id)}
        updated = await records.update(
            request.target, values, actor=actor, source="merge", data=data
        )
        moved = await runtime.plugins.call_by_plugin(
            "merge_records",
            runtime=runtime,
            entity="individual",
            target_id=request.target,
            source_ids=list(request.sources),
        )
        for source in request.sources:
            await records.delete(source, actor=actor, source="merge")
            await runtime.db.execute(
                sql("UPDATE individual SET merged_into = {} WHERE id = {}", request.target, source)
            )
        await runtime.db.execute(
            sql(
                "INSERT INTO individual_merge (id, target_id, source_ids, snapshot, actor, created_at, undone_at) "
                "VALUES ({}, {}, {}, {}, {}, {}, NULL)",
                merge_id,
                request.target,
                msgspec.json.encode([str(s) for s in request.sources]).decode(),
                msgspec.json.encode({**snapshot, "moved": moved}).decode(),
                actor.label,
                dt.datetime.now(dt.UTC),
            )
        )
        await runtime.emit(
            Event(
                entity="individual",
                record_id=request.target,
                action="merge",
                actor=actor,
                source="merge",
                related=[RecordRef("individual", s) for s in request.sources],
                summary=f"merged {len(request.sources)} record(s) into this one",
                data={"merge_id": str(merge_id)},
            )
        )
        updated = await records.get(request.target)
    return {"id": merge_id, "target": updated}


async def undo(runtime: Runtime, merge_id: uuid.UUID, *, actor: Actor) -> dict[str, Any]:
    """Restore the target and the sources of a merge as they were before it."""
    records = runtime.records("individual")
    async with runtime.write():
        row = await runtime.db.fetchrow(
            sql("SELECT * FROM individual_merge WHERE id = {}", merge_id)
        )
        if row is None:
            raise NotFound(f"merge {merge_id} not found")
        if row["undone_at"] is not None:
            raise Conflict(f"merge {merge_id} was already undone")
        snapshot = (
            msgspec.json.decode(row["snapshot"])
            if isinstance(row["snapshot"], str)
            else row["snapshot"]
        )
        target_id = uuid.UUID(str(row["target_id"]))
        source_ids = [uuid.UUID(s["id"]) for s in snapshot["sources"]]
        moved = snapshot.get("moved") or {}
        for impl in runtime.plugins.pm.hook.unmerge_records.get_hookimpls():
            if impl.plugin_name in moved:
                result = impl.function(
                    **{
                        k: v
                        for k, v in {
                            "runtime": runtime,
                            "entity": "individual",
                            "target_id": target_id,
                            "source_ids": source_ids,
                            "data": moved[impl.plugin_name],
                        }.items()
                        if k in impl.argnames
                    }
                )
                if hasattr(result, "__await__"):
                    await result
        entity = records.entity
        before = msgspec.convert(
            {k: v for k, v in snapshot["target"].items() if k in entity.writable},
            entity.patch_type,
            strict=False,
        )
        values = {k: v for k, v in msgspec.structs.asdict(before).items() if v is not msgspec.UNSET}
        data = {"skip_duplicate_check": True, "merge_id": str(merge_id)}
        await records.update(target_id, values, actor=actor, source="merge", data=data)
        for source in snapshot["sources"]:
            sid = uuid.UUID(source["id"])
            if source.get("deleted_at") is None:
                await records.restore(sid, actor=actor, source="merge")
            await runtime.db.execute(
                sql(
                    "UPDATE individual SET merged_into = {} WHERE id = {}",
                    source.get("merged_into"),
                    sid,
                )
            )
        await runtime.db.execute(
            sql(
                "UPDATE individual_merge SET undone_at = {} WHERE id = {}",
                dt.datetime.now(dt.UTC),
                merge_id,
            )
        )
        await runtime.emit(
            Event(
                entity="individual",
                record_id=target_id,
                action="unmerge",
                actor=actor,
                source="merge",
                related=[RecordRef("individual", s) for s in source_ids],
                summary="merge undone",
                data={"merge_id": str(merge_id)},
            )
        )
    return {"id": merge_id, "target": await records.get(target_id), "sources": source_ids}
