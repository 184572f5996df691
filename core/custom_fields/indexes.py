"""Expression indexes for filterable and sortable custom fields.

The indexed expression is :meth:`Database.json_value` with the field's kind: exactly
what the list compiler emits for ``custom.<key>`` (PITFALLS.md), so the planner uses it.
An index exists only while its field is active and filterable or sortable; a type
change rebuilds it (the name stays, the expression follows the type). List-valued
fields are served by ``crmkit_custom_value`` instead (see ``values.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .definitions import Definition

__all__ = ["build_after_commit", "drop_index", "ensure_index", "index_name", "sync_index"]

log = logging.getLogger("crmkit.custom_fields")


def index_name(table: str, key: str) -> str:
    return f"{table}_cf_{key}_idx"[:63]


def _table(runtime: Runtime, definition: Definition) -> str | None:
    entity = runtime.plugins.entities.get(definition.entity)
    return entity.tablename if entity is not None else None


def wanted(definition: Definition) -> bool:
    return not definition.archived and (definition.filterable or definition.sortable)


async def ensure_index(
    runtime: Runtime, definition: Definition, *, concurrently: bool = False
) -> None:
    """``CREATE INDEX IF NOT EXISTS`` on the entity's table for this field's expression."""
    info = runtime.custom_fields.describe(definition)
    table = _table(runtime, definition)
    if info is None or info[0] == "array" or table is None:
        return
    expr = runtime.db.json_value("custom", definition.key, info[0], info[2])
    how = " CONCURRENTLY" if concurrently else ""
    await runtime.db.execute(
        f"CREATE INDEX{how} IF NOT EXISTS {index_name(table, definition.key)} ON {table} (({expr}))"
    )


async def drop_index(runtime: Runtime, definition: Definition) -> None:
    """``DROP INDEX IF EXISTS`` (same statement on both engines)."""
    table = _table(runtime, definition)
    if table is not None:
        await runtime.db.execute(f"DROP INDEX IF EXISTS {index_name(table, definition.key)}")


async def sync_index(runtime: Runtime, definition: Definition, *, rebuild: bool = False) -> None:
    """The index this definition needs now: created, dropped, or (``rebuild``) replaced."""
    if rebuild or not wanted(definition):
        await drop_index(runtime, definition)
    if wanted(definition):
        await ensure_index(runtime, definition)


async def build_after_commit(runtime: Runtime, definition: Definition) -> None:
    """The index of a retyped field on PostgreSQL, built after the change committed.

    Inside the change's transaction PostgreSQL would index the rows' previous versions
    too (they are still visible to other transactions), and a typed expression over a
    value that was just moved aside (``'abc'::numeric``) fails the build. After the
    commit, ``CONCURRENTLY`` reads only current versions and does not block writers.
    Should it still fail, the field stays correct but unindexed: the failure is logged
    and the half-built index dropped; ``PATCH filterable`` rebuilds it.
    """
    if not wanted(definition):
        return
    try:
        await ensure_index(runtime, definition, concurrently=True)
    except Exception:
        log.exception("custom field %s.%s: index not built", definition.entity, definition.key)
        await drop_index(runtime, definition)
