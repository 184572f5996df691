"""Live records without a value for a (required) custom field, keyset paged by id.

Making a field required never rewrites records; this is how an admin finds the ones
to fill in. "Missing" is what ``validate.py`` calls missing: no value (absent or null).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import msgspec

from ..db.sql import QueryString, sql
from ..errors import BadRequest, FieldError, NotFound

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .definitions import Definition

__all__ = ["MissingPage", "missing_count", "missing_page"]


class MissingPage(msgspec.Struct):
    """Ids of live records without a value, in id order; ``total`` counts all of them."""

    data: list[uuid.UUID]
    total: int
    next_cursor: str | None = None


def _where(runtime: Runtime, definition: Definition) -> tuple[str, QueryString]:
    entity = runtime.plugins.entities.get(definition.entity)
    if entity is None:
        raise NotFound(f"entity {definition.entity!r} is not enabled")
    expr = runtime.db.json_value("t.custom", definition.key)
    return entity.tablename, sql(f"t.deleted_at IS NULL AND {expr} IS NULL")


async def missing_count(runtime: Runtime, definition: Definition) -> int:
    table, where = _where(runtime, definition)
    count = await runtime.db.fetchval(
        sql(f"SELECT COUNT(*) AS n FROM {table} AS t WHERE {{}}", where)
    )
    return int(count or 0)


async def missing_page(
    runtime: Runtime, definition: Definition, *, limit: int = 100, cursor: str | None = None
) -> MissingPage:
    """One page of ids after ``cursor`` (the last id of the previous page)."""
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be 1..1000", errors=[FieldError("limit", "expected 1..1000")])
    table, where = _where(runtime, definition)
    if cursor:
        try:
            after = uuid.UUID(cursor)
        except ValueError:
            raise BadRequest(
                "not a cursor of this list", errors=[FieldError("cursor", "not a cursor")]
            ) from None
        where = sql("{} AND t.id > {}", where, after)
    rows = await runtime.db.fetch(
        sql(f"SELECT t.id FROM {table} AS t WHERE {{}} ORDER BY t.id LIMIT {limit + 1}", where)
    )
    ids = [r["id"] if isinstance(r["id"], uuid.UUID) else uuid.UUID(str(r["id"])) for r in rows]
    next_cursor = str(ids[limit - 1]) if len(ids) > limit else None
    return MissingPage(
        data=ids[:limit], total=await missing_count(runtime, definition), next_cursor=next_cursor
    )
