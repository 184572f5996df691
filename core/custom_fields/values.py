"""``crmkit_custom_value``: list-valued custom fields (multi_select) mirrored row by row.

A JSON array cannot be indexed on SQLite (PITFALLS.md: 478 ms for a multi-select
filter at 1M rows), so each selected value of each record is one row here, indexed on
``(entity, key, value, record_id)``; ``custom.<key>__in/nin/contains`` filters become
``t.id [NOT] IN (SELECT record_id ...)`` on both engines, one code path and one plan
shape. Rows are written in the record's own transaction by core's ``record_changed``
hook (:func:`mirror_event`), rebuilt in bulk by :func:`rebuild` (definition created,
restored or retyped), and removed with the record on a hard delete. Soft-deleted
records keep their rows (the list query already excludes them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..db.sql import QueryString, join, sql

if TYPE_CHECKING:
    from ..events import Event
    from ..runtime import Runtime
    from .definitions import Definition

__all__ = [
    "TYPE_CHANGE",
    "UNCONVERTED_TABLE",
    "VALUES_TABLE",
    "array_filter",
    "is_list_type",
    "mirror_event",
    "rebuild",
]

VALUES_TABLE = "crmkit_custom_value"
UNCONVERTED_TABLE = "crmkit_custom_unconverted"
#: ``Event.data`` key of the events of a type change (it rebuilds the mirror in bulk).
TYPE_CHANGE = "custom_field_type_change"


def is_list_type(runtime: Runtime, definition: Definition) -> bool:
    ftype = runtime.custom_fields.field_type(definition)
    return ftype is not None and ftype.storage == "array"


def array_filter(entity: str, key: str, op: str, values: list[str]) -> QueryString:
    """``in`` (any of), ``nin`` (none of, or no value) and ``contains`` (has this one)."""
    inner = join([sql("{}", v) for v in values], ", ")
    negate = "NOT " if op == "nin" else ""
    return sql(
        f"t.id {negate}IN (SELECT record_id FROM {VALUES_TABLE} "
        "WHERE entity = {} AND key = {} AND value IN ({}))",
        entity,
        key,
        inner,
    )


def _rows(entity: str, record_id: Any, key: str, value: Any) -> list[QueryString]:
    if not isinstance(value, list):
        return []
    items = dict.fromkeys(v for v in value if isinstance(v, str))
    return [sql("({}, {}, {}, {})", entity, key, v, record_id) for v in items]


async def mirror_event(runtime: Runtime, event: Event) -> None:
    """Keep the mirror in step with one change (inside its transaction)."""
    if event.data.get(TYPE_CHANGE):
        return
    service = runtime.custom_fields
    db = runtime.db
    if event.action == "hard_delete":
        await service.ensure()
        if service.ready:
            for table in (VALUES_TABLE, UNCONVERTED_TABLE):
                await db.execute(
                    sql(
                        f"DELETE FROM {table} WHERE record_id = {{}} AND entity = {{}}",
                        event.record_id,
                        event.entity,
                    )
                )
        return
    changed = [c for c in event.changes if c.field.startswith("custom.")]
    if not changed:
        return
    definitions = (await service.ensure()).get(event.entity, {})
    listed = [
        (c.field[7:], c.new)
        for c in changed
        if (d := definitions.get(c.field[7:])) is not None and is_list_type(runtime, d)
    ]
    if not listed or not service.ready:
        return
    if event.action != "create":
        keys = join([sql("{}", k) for k, _ in listed], ", ")
        await db.execute(
            sql(
                f"DELETE FROM {VALUES_TABLE} WHERE record_id = {{}} AND entity = {{}} "
                "AND key IN ({})",
                event.record_id,
                event.entity,
                keys,
            )
        )
    rows = [r for key, new in listed for r in _rows(event.entity, event.record_id, key, new)]
    if rows:
        await db.execute(
            sql(
                f"INSERT INTO {VALUES_TABLE} (entity, key, value, record_id) VALUES {{}}",
                join(rows, ", "),
            )
        )


async def rebuild(runtime: Runtime, definition: Definition) -> None:
    """Rebuild one field's rows from the records (one DELETE, one INSERT ... SELECT)."""
    db = runtime.db
    await db.execute(
        sql(
            f"DELETE FROM {VALUES_TABLE} WHERE entity = {{}} AND key = {{}}",
            definition.entity,
            definition.key,
        )
    )
    entity = runtime.plugins.entities.get(definition.entity)
    if entity is None or not is_list_type(runtime, definition):
        return
    table, key = entity.tablename, definition.key  # key matches ^[a-z][a-z0-9_]*$
    if db.kind == "postgres":
        source = (
            f"FROM {table} AS t CROSS JOIN LATERAL jsonb_array_elements_text(t.custom -> '{key}') "
            f"AS j(value) WHERE jsonb_typeof(t.custom -> '{key}') = 'array'"
        )
    else:
        source = (
            f"FROM {table} AS t, json_each(t.custom, '$.{key}') AS j "
            f"WHERE json_type(t.custom, '$.{key}') = 'array' AND j.type = 'text'"
        )
    await db.execute(
        sql(
            f"INSERT INTO {VALUES_TABLE} (entity, key, value, record_id) "
            f"SELECT DISTINCT CAST({{}} AS TEXT), CAST({{}} AS TEXT), j.value, t.id {source}",
            definition.entity,
            definition.key,
        )
    )
