"""Expression indexes for filterable and sortable custom fields.

The indexed expression is :meth:`Database.json_value` with the field's kind: exactly
what the list compiler emits for ``custom.<key>`` (PITFALLS.md), so the planner uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .definitions import Definition

__all__ = ["ensure_index", "index_name"]


def index_name(table: str, key: str) -> str:
    return f"{table}_cf_{key}_idx"[:63]


async def ensure_index(runtime: Runtime, definition: Definition) -> None:
    """``CREATE INDEX IF NOT EXISTS`` on the entity's table for this field's expression."""
    info = runtime.custom_fields.lookup(definition.entity, definition.key)
    if info is None or info[0] == "array":
        return
    entity = runtime.plugins.entities.get(definition.entity)
    if entity is None:
        return
    table = entity.tablename
    expr = runtime.db.json_value("custom", definition.key, info[0], info[2])
    await runtime.db.execute(
        f"CREATE INDEX IF NOT EXISTS {index_name(table, definition.key)} ON {table} (({expr}))"
    )
