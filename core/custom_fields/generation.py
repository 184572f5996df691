"""The definitions' generation: a counter that every definition change bumps.

Definitions are cached per process. A worker that changes one bumps
``crmkit_meta.custom_fields_generation`` in the same transaction, so every other
worker sees, with one primary-key read, that its cache is stale (core migration 0003).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..db.sql import sql

if TYPE_CHECKING:
    from ..db import Database

__all__ = ["GENERATION", "META", "bump_generation", "read_generation"]

META = "crmkit_meta"
GENERATION = "custom_fields_generation"


async def read_generation(db: Database) -> int | None:
    """The stored generation (``None`` when the row is missing)."""
    value = await db.fetchval(sql(f"SELECT value FROM {META} WHERE key = {{}}", GENERATION))
    return None if value is None else int(value)


async def bump_generation(db: Database) -> None:
    """Count one more definition change; call it first in the change's transaction.

    On PostgreSQL the row lock also queues concurrent definition changes behind each
    other, so two of them never interleave.
    """
    row = await db.fetchrow(
        sql(f"UPDATE {META} SET value = value + 1 WHERE key = {{}} RETURNING value", GENERATION)
    )
    if row is None:
        await db.execute(sql(f"INSERT INTO {META} (key, value) VALUES ({{}}, 2)", GENERATION))
