"""The :class:`Database`: one engine, its dialect, and the few calls the core needs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from ..errors import BadRequest, CrmError, FieldError, SettingsError, ValidationFailed
from .postgres import PoolPostgresEngine
from .sql import QueryString, sql
from .sqlite import PooledSQLiteEngine

__all__ = ["Database", "open_database"]

Kind = Literal["sqlite", "postgres"]

#: A bound value the database cannot take: PostgreSQL's data exceptions (NUL in text,
#: numeric overflow, out-of-range integers) and SQLite's too-large integers.
DATA_ERRORS: tuple[type[Exception], ...] = (asyncpg.DataError, OverflowError)


def _rejected(exc: Exception, writing: bool) -> CrmError:
    """A client error for a value the database refused (422 in a write, 400 in a read)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    error = ValidationFailed if writing else BadRequest
    return error(
        f"a value is not acceptable to the database: {message}",
        errors=[FieldError("body" if writing else "query", message)],
    )


class Database:
    """An engine plus what differs between SQLite and PostgreSQL.

    Queries outside :meth:`transaction` run on pooled connections; writes belong in
    ``async with db.transaction():`` (IMMEDIATE on SQLite). Piccolo keeps the open
    transaction in a ContextVar, so every query awaited inside the block, including
    Piccolo query-builder calls on bound tables, joins it.
    """

    def __init__(self, url: str, engine: Engine, kind: Kind, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self.engine = engine
        self.kind: Kind = kind
        self.queries = 0  # statements run (tests count these to catch N+1)

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        if isinstance(self.engine, PostgresEngine) and self.engine.pool is None:
            await self.engine.start_connection_pool(min_size=1, max_size=self.pool_size)

    async def close(self) -> None:
        if isinstance(self.engine, PostgresEngine):
            if self.engine.pool is not None:
                await self.engine.close_connection_pool()
        elif isinstance(self.engine, PooledSQLiteEngine):
            await self.engine.close()

    def bind(self, tables: Iterable[type[Table]]) -> None:
        """Point these Piccolo tables at this database's engine."""
        for table in tables:
            table._meta.db = self.engine

    # -- queries -----------------------------------------------------------------

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A write transaction (joins the current one when nested)."""
        return self.engine.transaction()

    @property
    def in_transaction(self) -> bool:
        return self.engine.current_transaction.get() is not None

    async def fetch(self, query: QueryString | str, *args: Any) -> list[dict[str, Any]]:
        if isinstance(query, str):
            query = sql(query, *args)
        self.queries += 1
        try:
            rows = await self.engine.run_querystring(query)
        except DATA_ERRORS as exc:  # client data, not a server fault: never a 500
            raise _rejected(exc, self.in_transaction) from exc
        if rows and not isinstance(rows[0], dict):  # asyncpg Records
            rows = [dict(r) for r in rows]
        return rows or []

    async def fetchrow(self, query: QueryString | str, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(query, *args)
        return rows[0] if rows else None

    async def fetchval(self, query: QueryString | str, *args: Any) -> Any:
        row = await self.fetchrow(query, *args)
        return next(iter(row.values())) if row else None

    async def execute(self, query: QueryString | str, *args: Any) -> None:
        await self.fetch(query, *args)

    async def executemany(self, template: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for many parameter rows (the fast path for bulk inserts).

        ``template`` uses ``{}`` placeholders like :func:`sql`.
        """
        if not rows:
            return
        probe, _ = sql(template, *rows[0]).compile_string(engine_type=self.kind)
        self.queries += 1
        tx = self.engine.current_transaction.get()
        if self.kind == "postgres":
            if tx is not None:
                await tx.connection.executemany(probe, rows)
            else:
                async with self.engine.pool.acquire() as conn:  # type: ignore[union-attr]
                    await conn.executemany(probe, rows)
        else:
            if tx is None:
                async with self.transaction():
                    await self.executemany(template, rows)
                return
            await tx.connection.executemany(probe, rows)

    # -- dialect -----------------------------------------------------------------

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text value of ``column[key]`` (the expression custom-field indexes use)."""
        return self.json_value(column, key)

    def json_value(self, column: str, key: str, kind: str = "text", path: str | None = None) -> str:
        """SQL for the typed value of ``column[key]`` (or ``column[key][path]``).

        Filters, sorts and the custom-field expression indexes use exactly this text.
        SQLite's ``json_extract`` returns JSON numbers as numbers; PostgreSQL casts
        numbers and booleans (dates and date-times are stored as ISO text in UTC, so
        they compare as text: their casts are not immutable and cannot be indexed).
        """
        if self.kind == "postgres":
            if path:
                text = f"({column} -> '{key}' ->> '{path}')"
            else:
                text = f"({column} ->> '{key}')"
            cast = {"number": "numeric", "boolean": "boolean"}.get(kind)
            return f"({text}::{cast})" if cast else text
        return f"json_extract({column}, '$.{key}{'.' + path if path else ''}')"

    def like_op(self, insensitive: bool) -> str:
        if insensitive and self.kind == "postgres":
            return "ILIKE"
        return "LIKE"

    def case_fold(self, expr: str) -> str:
        return f"lower({expr})"

    def nulls(self, descending: bool) -> str:
        """NULL sorts as the largest value on both engines (PostgreSQL's own rule)."""
        return "NULLS FIRST" if descending else "NULLS LAST"


def open_database(url: str, *, pool_size: int = 10, busy_timeout: float = 30.0) -> Database:
    """A :class:`Database` for ``sqlite:///path`` or ``postgresql://…`` (not yet connected)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        path = unquote(url.split("://", 1)[1])
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel.db, sqlite:////abs.db
        if not path:
            raise SettingsError("CRMKIT_DATABASE_URL: a SQLite URL needs a file path")
        engine: Engine = PooledSQLiteEngine(
            path, readers=max(1, min(pool_size, 8)), busy_timeout=busy_timeout
        )
        return Database(url, engine, "sqlite", pool_size=pool_size)
    elif scheme in ("postgres", "postgresql"):
        # JIT compiling took 220 ms of a 380 ms ranked search (bench/search.py): crmkit's
        # queries are short index lookups, where JIT only costs. A URL's own ``?jit=``
        # wins.
        config: dict[str, Any] = {"dsn": url}
        if "jit=" not in url:
            config["server_settings"] = {"jit": "off"}
        engine = PoolPostgresEngine(config=config, extensions=())
        return Database(url, engine, "postgres", pool_size=pool_size)
    else:
        raise SettingsError(
            f"CRMKIT_DATABASE_URL: unsupported database {scheme!r} (use sqlite:/// or postgresql://)"
        )


@contextlib.asynccontextmanager
async def connected(db: Database) -> AsyncIterator[Database]:
    await db.connect()
    try:
        yield db
    finally:
        await db.close()
