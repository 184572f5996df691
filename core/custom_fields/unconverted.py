"""The values a forced type change moved aside (``crmkit_custom_unconverted``), paged."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import sql
from ..errors import BadRequest, FieldError
from .values import UNCONVERTED_TABLE

if TYPE_CHECKING:
    from ..runtime import Runtime
    from .definitions import Definition

__all__ = ["Unconverted", "UnconvertedPage", "unconverted_page"]


class Unconverted(msgspec.Struct):
    id: uuid.UUID
    record_id: uuid.UUID
    value: Any
    type_from: str
    type_to: str
    message: str
    created_at: dt.datetime


class UnconvertedPage(msgspec.Struct):
    data: list[Unconverted]
    next_cursor: str | None = None


def _decode(row: dict[str, Any]) -> Unconverted:
    data = dict(row)
    if isinstance(data["value"], str | bytes):
        data["value"] = msgspec.json.decode(data["value"])
    created = data["created_at"]
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    data["created_at"] = created
    return msgspec.convert(data, Unconverted, strict=False)


async def unconverted_page(
    runtime: Runtime, definition: Definition, *, limit: int = 100, cursor: str | None = None
) -> UnconvertedPage:
    """Entries of one field in id order, after ``cursor`` (the last id of the previous page)."""
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be 1..1000", errors=[FieldError("limit", "expected 1..1000")])
    where = sql("definition_id = {}", definition.id)
    if cursor:
        try:
            where = sql("{} AND id > {}", where, uuid.UUID(cursor))
        except ValueError:
            raise BadRequest(
                "not a cursor of this list", errors=[FieldError("cursor", "not a cursor")]
            ) from None
    rows = await runtime.db.fetch(
        sql(
            "SELECT id, record_id, value, type_from, type_to, message, created_at "
            f"FROM {UNCONVERTED_TABLE} WHERE {{}} ORDER BY id LIMIT {limit + 1}",
            where,
        )
    )
    items = [_decode(r) for r in rows]
    next_cursor = str(items[limit - 1].id) if len(items) > limit else None
    return UnconvertedPage(data=items[:limit], next_cursor=next_cursor)
