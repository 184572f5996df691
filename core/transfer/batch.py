"""Writing many new records at once: the fast path of imports that create.

``Records.create`` is one round trip per statement (insert, tags, read back) per record.
Here a batch is checked and normalised record by record through the ``before_save``
hooks exactly as ``create`` does, then inserted with one ``executemany`` for the rows
and one for their tags, read back with one query and expanded once, and each record's
``create`` event is emitted (its ``record_changed`` hooks — the activity entry, the
search document, contact indexes — run per record, as they must). Measured with
10,000 individuals: 370 rows/s against 240 for a ``create`` loop on SQLite, 540 against
394 on PostgreSQL; the per-record hooks are most of what is left.

It is only for records whose creation does not depend on the others of the batch: a
duplicate check of row 7 could not see row 3 if both are inserted together, so
imports use it when duplicates are not checked (``on_duplicate=create``).

:func:`savepoint` runs a block so that an error undoes just that block (and drops the
events it emitted), leaving the enclosing unit of work usable: one bad row does not
spoil a chunk, on either engine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..db.sql import join, sql
from ..errors import CrmError
from ..events import Actor, diff
from ..runtime import _pending

if TYPE_CHECKING:
    from ..records import Records
    from ..runtime import Runtime

__all__ = ["create_many", "savepoint"]


@contextlib.asynccontextmanager
async def savepoint(runtime: Runtime) -> AsyncIterator[None]:
    """A savepoint in the current unit of work: an exception rolls the block back (and
    forgets its events, so no ``after_commit`` announces a record that was undone)."""
    tx = runtime.db.engine.current_transaction.get()
    if tx is None:
        raise RuntimeError("savepoint() outside Runtime.write()")
    events = _pending.get()
    mark = len(events) if events is not None else 0
    point = await tx.savepoint()
    try:
        yield
    except BaseException:
        await point.rollback_to()
        if events is not None:
            del events[mark:]
        raise
    else:
        await point.release()


def _defaults(records: Records) -> dict[str, Any]:
    """Every column's default (an insert of many rows names every column)."""
    out = {}
    for name, column in records.entity.columns.items():
        default = column.get_default_value()
        out[name] = default() if callable(default) else default
    return out


async def create_many(
    records: Records,
    items: list[tuple[dict[str, Any], dict[str, Any]]],
    *,
    actor: Actor,
    source: str,
) -> list[dict[str, Any] | CrmError]:
    """Create one record per ``(values, data)`` (inside a unit of work); returns, in order,
    each new record or the error that refused it (a field the actor may not write, a
    ``before_save`` veto).

    An error of the batch insert itself (the database refusing a value) raises after
    undoing the whole batch: run the same items one by one to find the row.
    """
    runtime = records.runtime
    entity = records.entity
    results: list[dict[str, Any] | CrmError | None] = [None] * len(items)
    rows: list[tuple[int, dict[str, Any]]] = []
    defaults = _defaults(records)
    for i, (values, data) in enumerate(items):
        try:
            records._check_create(values)
            checked = await records._before_save(
                "create", records._builtins(values), None, actor, source, data
            )
        except CrmError as exc:
            results[i] = exc
            continue
        now = dt.datetime.now(dt.UTC)
        row = {
            **defaults,
            **{k: v for k, v in checked.items() if k in entity.columns},
            "id": checked.get("id") or uuid.uuid4(),
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
            "created_by": actor.label,
            "updated_by": actor.label,
        }
        rows.append((i, row))
    if rows:
        async with savepoint(runtime):
            created = await _insert(records, [row for _, row in rows])
            by_id = {r["id"]: r for r in created}
            for i, row in rows:
                record = by_id[row["id"]]
                await runtime.emit(
                    records._event(
                        "create",
                        record,
                        actor,
                        source,
                        changes=diff(None, record, list(entity.writable)),
                        data=dict(items[i][1]),
                    )
                )
                results[i] = records._out(record)
    return results  # type: ignore[return-value]  # every item got its record or error


async def _insert(records: Records, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert rows and their tags; the records as stored (read back, expanded)."""
    db = records.db
    columns = list(records.entity.columns)
    params = [records._params(row) for row in rows]
    await db.executemany(
        f"INSERT INTO {records.table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('{}' for _ in columns)})",
        [tuple(p[c] for c in columns) for p in params],
    )
    tags = [(records.entity.name, row["id"], tag) for row in rows for tag in row.get("tags") or []]
    if tags:
        await db.executemany(
            "INSERT INTO crmkit_record_tag (entity, record_id, tag) VALUES ({}, {}, {})", tags
        )
    found = await db.fetch(
        sql(
            f"SELECT t.* FROM {records.table} AS t WHERE t.id IN ({{}})",
            join([sql("{}", row["id"]) for row in rows], ", "),
        )
    )
    return await records.expand([records.decode(r) for r in found])
