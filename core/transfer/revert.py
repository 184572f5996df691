"""Reverting an import: what it created is deleted (soft, as every delete), what it
updated gets back the values it had before, all in one unit of work.

A record changed since the import (its version is not the one the import left, or it
was deleted) makes the revert a 409 listing those records, and nothing is done;
``force=True`` reverts anyway: created records are deleted whatever happened to them
since, updated ones get their old values back over the later changes, and records
already deleted are left as they are (counted as ``skipped``). A job is reverted once:
a second revert is a 409, as is reverting a job that is running or wrote nothing.

Every change has its activity entry (source ``import``; restores carry
``{"import_id": ..., "revert": true}``). Side effects of plugin columns (an
``organization`` created or linked by a row) are not undone: other records may rely on
them by now.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import join, sql
from ..errors import Conflict, NotFound
from .jobs import JOB_TABLE, job_items, job_row, visible

if TYPE_CHECKING:
    from ..access import Access
    from ..entity import EntityType
    from ..events import Actor
    from ..runtime import Runtime

__all__ = ["RevertReport", "revert_import"]

#: Records listed in the 409 of a revert refused because of later changes.
MAX_LISTED = 100
_READ = 500


class RevertReport(msgspec.Struct, kw_only=True):
    """What ``POST /api/v1/imports/{id}/revert`` answers."""

    id: uuid.UUID
    status: str
    deleted: int = 0
    restored: int = 0
    skipped: int = 0


def _typed(entity: EntityType, before: dict[str, Any]) -> dict[str, Any]:
    """Stored (JSON) values as the write path takes them (dates as dates ...); a value
    that no longer fits its field's type is passed on as it is, for the checks to judge."""
    out = {}
    for name, value in before.items():
        tp = entity.writable.get(name)
        if tp is None:
            continue
        try:
            out[name] = msgspec.convert(value, tp)
        except msgspec.ValidationError:
            out[name] = value
    return out


async def _current(
    runtime: Runtime, entity: EntityType, ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """``id -> {version, deleted_at}`` of the records still in the table."""
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for start in range(0, len(ids), _READ):
        part = ids[start : start + _READ]
        rows = await runtime.db.fetch(
            sql(
                f"SELECT id, version, deleted_at FROM {entity.tablename} WHERE id IN ({{}})",
                join([sql("{}", i) for i in part], ", "),
            )
        )
        for row in rows:
            rid = row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"]))
            out[rid] = row
    return out


async def revert_import(
    runtime: Runtime,
    access: Access | None,
    job_id: uuid.UUID,
    *,
    actor: Actor,
    force: bool = False,
) -> RevertReport:
    """Revert import ``job_id`` (see the module docstring)."""
    report = RevertReport(id=job_id, status="reverted")
    async with runtime.write():
        job = await job_row(runtime, job_id, lock=True)
        if not visible(access, job["entity"], job["actor"]):
            raise NotFound(f"import {job_id} not found")
        entity = runtime.plugins.entities.get(job["entity"])
        if entity is None:
            raise Conflict(f"import {job_id} is of {job['entity']!r}, whose plugin is disabled")
        if access is not None:
            access.require(entity.name, "import")
        if job["status"] == "reverted":
            raise Conflict(
                f"import {job_id} was reverted already", extra={"import_status": "reverted"}
            )
        if job["status"] in ("running", "rolled_back"):
            reason = "is still running" if job["status"] == "running" else "wrote nothing"
            raise Conflict(f"import {job_id} {reason}", extra={"import_status": job["status"]})
        items = await job_items(runtime, job_id)
        groups: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault(item["record_id"], []).append(item)
        if access is not None:
            if any(i["action"] == "created" for i in items):
                access.require(entity.name, "delete")
            if any(i["action"] == "updated" for i in items):
                access.require(entity.name, "update")
        current = await _current(runtime, entity, list(groups))
        changed = []
        for record_id, its in groups.items():
            now = current.get(record_id)
            if now is None or now["version"] != its[-1]["version"] or now["deleted_at"]:
                changed.append(
                    {
                        "id": str(record_id),
                        "action": its[0]["action"],
                        "row": its[0]["row"],
                        "version_after_import": its[-1]["version"],
                        "version_now": None if now is None else now["version"],
                        "deleted": now is None or now["deleted_at"] is not None,
                    }
                )
        if changed and not force:
            raise Conflict(
                f"{len(changed)} record{'s' if len(changed) != 1 else ''} changed since the "
                "import; revert with force=true to undo the import over those changes",
                extra={"changed": changed[:MAX_LISTED], "changed_count": len(changed)},
            )
        records = runtime.records(entity, access)
        data = {"import_id": str(job_id), "revert": True, "skip_duplicate_check": True}
        for record_id, its in groups.items():
            now = current.get(record_id)
            if now is None or now["deleted_at"] is not None:
                report.skipped += 1
            elif any(i["action"] == "created" for i in its):
                await records.delete(record_id, actor=actor, source="import")
                report.deleted += 1
            else:
                before = next(i["before"] for i in its if i["action"] == "updated")
                await records.update(
                    record_id,
                    _typed(entity, before or {}),
                    actor=actor,
                    source="import",
                    data=dict(data),
                )
                report.restored += 1
        await runtime.db.execute(
            sql(
                f"UPDATE {JOB_TABLE} SET status = 'reverted', reverted_at = {{}}, "
                "reverted_by = {} WHERE id = {}",
                dt.datetime.now(dt.UTC),
                actor.label[:200],
                job_id,
            )
        )
    return report
