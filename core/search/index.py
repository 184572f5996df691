"""Keeping ``crmkit_search`` in step with the records, inside the writes' transactions.

Core's ``record_changed`` hook calls :func:`follow` for every event (see there for
what each action does). Plugins whose ``search_text`` changes without an event of the
record (the activity plugin's notes) call :func:`reindex` in their own transaction, and
so does a custom-field type change, once per batch. :func:`rebuild` re-indexes a whole
entity (``crmkit search reindex``) in batches of their own transactions.

On SQLite, triggers keep the FTS5 tables (external content over ``crmkit_search``) in
step with the rows; on PostgreSQL each row carries its ``tsvector``. Either way the
index changes commit or roll back with the change that caused them.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from ..custom_fields.values import TYPE_CHANGE
from ..db.sql import join, sql
from .document import NAME, Row, build, display_sources, has_name

if TYPE_CHECKING:
    from ..entity import EntityType
    from ..events import Event, FieldChange
    from ..runtime import Runtime

__all__ = [
    "DIGITS_TABLE",
    "FTS_TABLE",
    "TABLE",
    "affected",
    "follow",
    "ready",
    "rebuild",
    "reindex",
    "remove",
]

TABLE = "crmkit_search"
#: SQLite only: the FTS5 word index and the trigram index of phone digits.
FTS_TABLE = "crmkit_search_fts"
DIGITS_TABLE = "crmkit_search_digits"
#: Rows per INSERT statement (7 parameters each: far below both engines' limits).
INSERT_ROWS = 300
#: Records per transaction of :func:`rebuild`.
BATCH = 500

_ready: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


async def ready(runtime: Runtime) -> bool:
    """Whether core's migration 0005 has run (the index exists). Remembered once true."""
    if _ready.get(runtime.db):
        return True
    db = runtime.db
    if db.kind == "postgres":
        found = await db.fetchval(sql("SELECT to_regclass({}) IS NOT NULL AS ok", TABLE))
    else:
        found = await db.fetchval(
            sql("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = {}", TABLE)
        )
    if found:
        _ready[runtime.db] = True
    return bool(found)


def _tsvector(body: str) -> str:
    """The ``tsvector`` text of a body: each word with its position (words hold no quotes)."""
    return " ".join(f"'{word}':{i}" for i, word in enumerate(body.split(" "), 1))


async def _insert(runtime: Runtime, entity: str, rows: list[tuple[Any, Row]]) -> None:
    db = runtime.db
    pg = db.kind == "postgres"
    columns = "entity, record_id, field, weight, body, digits" + (", doc" if pg else "")
    values = "({}, {}, {}, {}, {}, {}" + (", CAST(CAST({} AS text) AS tsvector))" if pg else ")")
    for start in range(0, len(rows), INSERT_ROWS):
        part = rows[start : start + INSERT_ROWS]
        params = []
        for record_id, row in part:
            item = [entity, record_id, row.field, row.weight, row.body, row.digits]
            if pg:
                item.append(_tsvector(row.body))
            params.append(sql(values, *item))
        await db.execute(sql(f"INSERT INTO {TABLE} ({columns}) VALUES {{}}", join(params, ", ")))


def _ids(record_ids: Sequence[Any]) -> list[uuid.UUID]:
    return list(
        {str(i): i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in record_ids}.values()
    )


async def _delete(
    runtime: Runtime, entity: str, ids: list[uuid.UUID], fields: Collection[str] | None = None
) -> None:
    only = ""
    args: list[Any] = [join([sql("{}", i) for i in ids], ", "), entity]
    if fields is not None:
        only = " AND field IN ({})"
        args.append(join([sql("{}", f) for f in sorted(fields)], ", "))
    await runtime.db.execute(
        sql(f"DELETE FROM {TABLE} WHERE record_id IN ({{}}) AND entity = {{}}{only}", *args)
    )


async def _replace(
    runtime: Runtime,
    entity: EntityType,
    records: Sequence[dict[str, Any]],
    ids: list[uuid.UUID],
    *,
    fields: Collection[str] | None = None,
    fresh: bool = False,
) -> int:
    """Replace the rows of ``ids`` by those of ``records`` (the ones still there).

    ``fields``: only the rows of these fields (the record's own: no ``search_text``
    call). ``fresh``: a new record, with no rows yet and nothing contributed yet.
    """
    own = fresh or fields is not None
    docs = await build(runtime, entity, records, contributed=not own)
    if not fresh:
        await _delete(runtime, entity.name, ids, fields)
    rows = [
        (r["id"], row)
        for r in records
        for row in docs[str(r["id"])]
        if fields is None or row.field in fields
    ]
    await _insert(runtime, entity.name, rows)
    return len(rows)


async def _load(runtime: Runtime, entity: EntityType, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The stored records; locked on PostgreSQL (in id order), so two transactions
    re-indexing one record (two notes added at once) take turns, and the second sees
    the first's text."""
    records = runtime.records(entity.name)
    lock = " ORDER BY t.id FOR UPDATE" if runtime.db.kind == "postgres" else ""
    rows = await runtime.db.fetch(
        sql(
            f"SELECT t.* FROM {entity.tablename} AS t WHERE t.id IN ({{}}){lock}",
            join([sql("{}", i) for i in ids], ", "),
        )
    )
    return [records.decode(r) for r in rows]


async def reindex(
    runtime: Runtime,
    entity: str,
    record_ids: Sequence[Any],
    *,
    records: Sequence[dict[str, Any]] | None = None,
    fields: Collection[str] | None = None,
) -> int:
    """Rebuild the index rows of these records in the caller's transaction; returns the
    number of rows written. Unknown entities and ids are ignored.

    ``records`` (the stored records, if the caller has them) saves reading them again;
    ``fields`` limits the work to the rows of these fields of the records themselves
    (``custom.<key>`` after a custom field changed type), without asking ``search_text``.
    """
    declared = runtime.plugins.entities.get(entity)
    ids = _ids(record_ids)
    if declared is None or not ids or not await ready(runtime):
        return 0
    async with runtime.db.transaction():
        loaded = list(records) if records is not None else await _load(runtime, declared, ids)
        return await _replace(runtime, declared, loaded, ids, fields=fields)


async def remove(runtime: Runtime, entity: str, record_ids: Sequence[Any]) -> None:
    """Drop the index rows of these records (a hard delete)."""
    ids = _ids(record_ids)
    if ids and await ready(runtime):
        await _delete(runtime, entity, ids)


def affected(entity: EntityType, changes: Sequence[FieldChange]) -> set[str]:
    """The fields of the document an update changes (``name`` when the display shows a
    changed field)."""
    shown = display_sources(entity)
    out: set[str] = set()
    for change in changes:
        name = change.field
        if name in entity.searchable or name == "tags" or name.startswith("custom."):
            out.add(name)
        if has_name(entity) and NAME not in entity.columns and (shown is None or name in shown):
            out.add(NAME)
    return out


async def follow(runtime: Runtime, event: Event) -> None:
    """Re-index what an event changed (``record_changed``: inside its transaction).

    A create writes the record's rows; an update the rows of the fields it changed (the
    text other plugins contribute does not depend on the record's own fields: they
    re-index when theirs changes); anything else (restore, merge, a plugin's action)
    the whole document, and the documents of the ``related`` records. A soft delete
    keeps the rows, a hard delete removes them. The events of a custom-field type change
    are skipped: it re-indexes its records a batch at a time.
    """
    entities = runtime.plugins.entities
    entity = entities.get(event.entity)
    if entity is None or event.action == "delete" or event.data.get(TYPE_CHANGE):
        return
    if not await ready(runtime):
        return
    ids = [event.record_id]
    record = [event.record] if event.record is not None else None
    if event.action == "hard_delete":
        await remove(runtime, event.entity, ids)
    elif event.action == "create" and record is not None:
        await _replace(runtime, entity, record, _ids(ids), fresh=True)
    elif event.action == "update" and record is not None:
        fields = affected(entity, event.changes)
        if fields:
            await _replace(runtime, entity, record, _ids(ids), fields=fields)
    else:
        await reindex(runtime, event.entity, ids)
    for ref in event.related:
        if ref.entity in entities:
            await reindex(runtime, ref.entity, [ref.id])


async def rebuild(
    runtime: Runtime,
    entity: str,
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Re-index every record of ``entity`` (soft-deleted ones too), ``batch`` records per
    transaction, then drop rows of records that are gone; returns (records, rows).

    ``progress(records, rows)`` is called after each batch. Writes meanwhile are safe:
    they re-index their records in their own transactions.
    """
    declared = runtime.plugins.entity(entity)
    db = runtime.db
    done = written = 0
    last: Any = None
    while True:
        after = sql("t.id > {}", last) if last is not None else sql("1 = 1")
        rows = await db.fetch(
            sql(
                f"SELECT t.* FROM {declared.tablename} AS t WHERE {{}} ORDER BY t.id "
                f"LIMIT {int(batch)}",
                after,
            )
        )
        if not rows:
            break
        last = rows[-1]["id"]
        records = [runtime.records(entity).decode(r) for r in rows]
        async with db.transaction():
            count = await _replace(runtime, declared, records, _ids([r["id"] for r in records]))
        done += len(records)
        written += count
        if progress is not None:
            progress(len(records), count)
    async with db.transaction():
        await db.execute(
            sql(
                f"DELETE FROM {TABLE} WHERE entity = {{}} AND record_id NOT IN "
                f"(SELECT id FROM {declared.tablename})",
                entity,
            )
        )
    if db.kind == "sqlite":  # merge the FTS b-trees the batches left behind
        async with db.transaction():
            for table in (FTS_TABLE, DIGITS_TABLE):
                await db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    return done, written
