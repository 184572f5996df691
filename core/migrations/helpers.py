"""Helpers for writing Piccolo migrations by hand, short and frozen in time.

A migration declares its columns inline (never by importing today's tables), so it
means the same thing forever::

    async def forwards():
        manager = MigrationManager(migration_id=ID, app_name="tickets")  # this module's
        create_table(manager, "Ticket", "ticket", **entity_columns(), subject=Varchar(length=300))
        add_index(manager, "ticket", ["status", "priority"])
        return manager
"""

from __future__ import annotations

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import (
    MigrationManager as PiccoloMigrationManager,
)
from piccolo.columns import JSONB, UUID, Column, Integer, Timestamptz, Varchar
from piccolo.engine import engine_finder

__all__ = ["MigrationManager", "add_index", "create_table", "entity_columns", "run_sql"]


class MigrationManager(PiccoloMigrationManager):
    """Piccolo's manager, plus SQL that runs *after* the tables and columns exist.

    (Piccolo runs ``add_raw`` first, before ``add_table``, so an index on a new table
    cannot be a raw step.) Everything runs in one transaction.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_after: list[str] = []
        self.sql_after_backwards: list[str] = []

    async def _run_sql(self, statements: list[str]) -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    async def run(self, backwards: bool = False) -> None:
        engine = engine_finder()
        assert engine is not None
        async with engine.transaction():
            if backwards:
                await self._run_sql(list(reversed(self.sql_after_backwards)))
                await super().run(backwards=True)
            else:
                await super().run()
                await self._run_sql(self.sql_after)


def entity_columns() -> dict[str, Column]:
    """The columns every entity table starts with (``crmkit.core.EntityTable`` at 0.1)."""
    return {
        "id": UUID(primary_key=True),
        "version": Integer(default=1, null=False),
        "created_at": Timestamptz(index=True),
        "updated_at": Timestamptz(index=True),
        "deleted_at": Timestamptz(null=True, default=None, index=True),
        "created_by": Varchar(length=200, null=True, default=None),
        "updated_by": Varchar(length=200, null=True, default=None),
        "tags": JSONB(default=[]),
        "custom": JSONB(default={}),
    }


def create_table(
    manager: MigrationManager, class_name: str, tablename: str, **columns: Column
) -> None:
    """Add a table with these columns to the migration."""
    manager.add_table(class_name=class_name, tablename=tablename)
    for name, column in columns.items():
        params: dict[str, Any] = dict(column._meta.params)
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name=name,
            db_column_name=name,
            column_class_name=type(column).__name__,
            column_class=type(column),
            params=params,
        )


def run_sql(
    manager: MigrationManager, forwards: list[str], backwards: list[str] | None = None
) -> None:
    """Raw statements to run after the migration's tables exist (and to undo backwards)."""
    manager.sql_after.extend(forwards)
    manager.sql_after_backwards.extend(backwards or [])


def add_index(
    manager: MigrationManager, tablename: str, columns: list[str], *, unique: bool = False, where: str | None = None
) -> None:
    """A (composite, optionally partial or unique) index, dropped again backwards."""
    name = f"{tablename}_{'_'.join(c.split()[0] for c in columns)}_idx"
    clause = f" WHERE {where}" if where else ""
    run_sql(
        manager,
        [
            f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} "
            f"ON {tablename} ({', '.join(columns)}){clause}"
        ],
        [f"DROP INDEX IF EXISTS {name}"],
    )
