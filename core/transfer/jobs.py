"""Import jobs: the ``crmkit_import`` row of each import and what it wrote.

A job row is written when an import starts (in a transaction of its own, so it stays
even when the import fails), its counts move on with each committed chunk (in the
chunk's transaction, with the chunk's items), and its errors and status are written
when it ends. ``crmkit_import_item`` holds one row per record created or updated:
enough to revert the import (``revert.py``).

Who sees a job: admins every one; others the jobs of entities they may import, and
only their own when their role is limited to their own records.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import QueryString, join, sql
from ..errors import BadRequest, FieldError, NotFound
from ..events import Actor

if TYPE_CHECKING:
    from ..access import Access
    from ..runtime import Runtime

__all__ = [
    "MAX_ERRORS",
    "ImportJobInfo",
    "ImportPage",
    "ImportReport",
    "Item",
    "RowError",
    "finish_job",
    "get_job",
    "list_jobs",
    "record_chunk",
    "start_job",
]

#: Errors kept with a job and returned by an import (``error_count`` has them all).
MAX_ERRORS = 1000
JOB_TABLE = "crmkit_import"
ITEM_TABLE = "crmkit_import_item"
STATUSES = ("running", "completed", "rolled_back", "failed", "reverted")


class RowError(msgspec.Struct):
    """One problem of one row: ``field`` is a column (CSV: ``email_2``, ``custom.budget``)
    or a field path, ``row`` when the problem is the row as a whole."""

    row: int
    field: str
    message: str


class ImportReport(msgspec.Struct, kw_only=True):
    """What ``POST /api/v1/<plural>/import`` answers.

    ``status``: ``completed``; ``rolled_back`` when ``atomic`` and a row had an error
    (nothing was written); ``dry_run`` when nothing was meant to be written (the counts
    are those a real run would have). ``id`` is the job (``null`` for a dry run).
    """

    id: uuid.UUID | None
    entity: str
    format: str
    status: str
    dry_run: bool = False
    atomic: bool = False
    on_duplicate: str = "skip"
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = []
    error_count: int = 0
    unknown_columns: list[str] = []


class ImportJobInfo(msgspec.Struct, kw_only=True):
    """A recorded import (``GET /api/v1/imports/{id}``); lists leave ``errors`` empty."""

    id: uuid.UUID
    entity: str
    format: str
    status: str
    options: dict[str, Any] = {}
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error_count: int = 0
    errors: list[RowError] = []
    unknown_columns: list[str] = []
    detail: str | None = None
    actor: str
    actor_name: str | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    reverted_at: dt.datetime | None = None
    reverted_by: str | None = None


class ImportPage(msgspec.Struct):
    data: list[ImportJobInfo]
    next_cursor: str | None = None


class Item(msgspec.Struct, frozen=True):
    """A record one row created or updated (``before``: an update's old values)."""

    record_id: uuid.UUID
    row: int
    action: str
    version: int
    before: dict[str, Any] | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def start_job(
    runtime: Runtime,
    *,
    job_id: uuid.UUID,
    entity: str,
    format: str,
    options: dict[str, Any],
    actor: Actor,
) -> None:
    """Record a running import (its own transaction: it stays whatever happens next)."""
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                f"INSERT INTO {JOB_TABLE} (id, entity, format, status, options, rows, created, "
                "updated, skipped, failed, error_count, errors, unknown_columns, actor, "
                "actor_name, created_at) VALUES "
                "({}, {}, {}, 'running', {}, 0, 0, 0, 0, 0, 0, '[]', '[]', {}, {}, {})",
                job_id,
                entity,
                format,
                _json(options),
                actor.label[:200],
                actor.name[:200],
                _now(),
            )
        )


async def record_chunk(
    runtime: Runtime,
    job_id: uuid.UUID,
    entity: str,
    items: list[Item],
    counts: dict[str, int],
) -> None:
    """A chunk's items and the job's counts so far (call inside the chunk's transaction)."""
    if items:
        await runtime.db.executemany(
            f"INSERT INTO {ITEM_TABLE} (import_id, entity, record_id, row, action, before, "
            "version) VALUES ({}, {}, {}, {}, {}, {}, {})",
            [
                (
                    job_id,
                    entity,
                    i.record_id,
                    i.row,
                    i.action,
                    None if i.before is None else _json(i.before),
                    i.version,
                )
                for i in items
            ],
        )
    sets = ", ".join(f"{name} = {{}}" for name in counts)
    await runtime.db.execute(
        sql(f"UPDATE {JOB_TABLE} SET {sets} WHERE id = {{}}", *counts.values(), job_id)
    )


async def finish_job(
    runtime: Runtime,
    job_id: uuid.UUID,
    report: ImportReport,
    *,
    status: str,
    detail: str | None = None,
) -> None:
    """The job's final status, counts and (first) errors, in a transaction of its own."""
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                f"UPDATE {JOB_TABLE} SET status = {{}}, rows = {{}}, created = {{}}, "
                "updated = {}, skipped = {}, failed = {}, error_count = {}, errors = {}, "
                "unknown_columns = {}, detail = {}, finished_at = {} WHERE id = {}",
                status,
                report.rows,
                report.created,
                report.updated,
                report.skipped,
                report.failed,
                report.error_count,
                _json(report.errors[:MAX_ERRORS]),
                _json(report.unknown_columns),
                detail,
                _now(),
                job_id,
            )
        )


# -- reading -----------------------------------------------------------------------------------


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _decoded(value: Any, default: Any) -> Any:
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value)
    return default if value is None else value


def job_info(row: dict[str, Any], *, with_errors: bool = True) -> ImportJobInfo:
    """A job row as the API shows it."""
    return ImportJobInfo(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        entity=row["entity"],
        format=row["format"],
        status=row["status"],
        options=_decoded(row["options"], {}),
        rows=row["rows"],
        created=row["created"],
        updated=row["updated"],
        skipped=row["skipped"],
        failed=row["failed"],
        error_count=row["error_count"],
        errors=msgspec.convert(_decoded(row["errors"], []), list[RowError]) if with_errors else [],
        unknown_columns=_decoded(row["unknown_columns"], []),
        detail=row["detail"],
        actor=row["actor"],
        actor_name=row["actor_name"],
        created_at=_time(row["created_at"]),  # type: ignore[arg-type]
        finished_at=_time(row["finished_at"]),
        reverted_at=_time(row["reverted_at"]),
        reverted_by=row["reverted_by"],
    )


def visible(access: Access | None, entity: str, actor: str) -> bool:
    """Whether ``access`` may see a job of ``entity`` started by ``actor`` (a label)."""
    if access is None or access.is_admin:
        return True
    if not access.can(entity, "import"):
        return False
    return not access.own_only or actor == access.actor.label


async def job_row(runtime: Runtime, job_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    query = f"SELECT * FROM {JOB_TABLE} WHERE id = {{}}"
    if lock and runtime.db.kind == "postgres":
        query += " FOR UPDATE"
    row = await runtime.db.fetchrow(sql(query, job_id))
    if row is None:
        raise NotFound(f"import {job_id} not found")
    return row


async def get_job(runtime: Runtime, access: Access | None, job_id: uuid.UUID) -> ImportJobInfo:
    """One job with its first errors (404 when it does not exist or is not for ``access``)."""
    row = await job_row(runtime, job_id)
    if not visible(access, row["entity"], row["actor"]):
        raise NotFound(f"import {job_id} not found")
    return job_info(row)


def _cursor(row: dict[str, Any]) -> str:
    when = _time(row["created_at"])
    assert when is not None
    raw = _json([when.astimezone(dt.UTC).isoformat(), str(row["id"])])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, job_id = msgspec.json.decode(raw, type=tuple[str, str])
        return dt.datetime.fromisoformat(when), uuid.UUID(job_id)
    except (ValueError, msgspec.DecodeError, TypeError):
        raise BadRequest(
            "cursor is not one this API gave", errors=[FieldError("cursor", "invalid cursor")]
        ) from None


async def list_jobs(
    runtime: Runtime,
    access: Access | None,
    *,
    entity: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> ImportPage:
    """Jobs newest first, keyset-paged on ``(created_at, id)``."""
    if status is not None and status not in STATUSES:
        raise BadRequest(
            f"unknown status {status!r}",
            errors=[FieldError("status", f"must be one of: {', '.join(STATUSES)}")],
        )
    where: list[QueryString] = [sql("1 = 1")]
    if entity is not None:
        where.append(sql("entity = {}", entity))
    if status is not None:
        where.append(sql("status = {}", status))
    if access is not None and not access.is_admin:
        allowed = [e.name for e in runtime.entities if access.can(e.name, "import")]
        if not allowed:
            return ImportPage(data=[])
        where.append(sql("entity IN ({})", join([sql("{}", e) for e in allowed], ", ")))
        if access.own_only:
            where.append(sql("actor = {}", access.actor.label))
    if cursor:
        when, job_id = _decode_cursor(cursor)
        where.append(sql("(created_at < {} OR (created_at = {} AND id < {}))", when, when, job_id))
    rows = await runtime.db.fetch(
        sql(
            f"SELECT * FROM {JOB_TABLE} WHERE {{}} ORDER BY created_at DESC, id DESC "
            f"LIMIT {int(limit) + 1}",
            join(where, " AND "),
        )
    )
    next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return ImportPage(
        data=[job_info(r, with_errors=False) for r in rows[:limit]], next_cursor=next_cursor
    )


async def job_items(runtime: Runtime, job_id: uuid.UUID) -> list[dict[str, Any]]:
    """Everything a job wrote, in the order it wrote it."""
    rows = await runtime.db.fetch(
        sql(f"SELECT * FROM {ITEM_TABLE} WHERE import_id = {{}} ORDER BY id", job_id)
    )
    for row in rows:
        row["before"] = _decoded(row["before"], None)
        if not isinstance(row["record_id"], uuid.UUID):
            row["record_id"] = uuid.UUID(str(row["record_id"]))
    return rows
