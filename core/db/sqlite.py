"""A SQLite engine that reuses connections and serialises writers.

Piccolo's stock ``SQLiteEngine`` opens a new connection for every query outside a
transaction (PITFALLS.md: ~10x slower) and starts transactions DEFERRED, which fail
with "database is locked" under concurrent read-then-write. This subclass keeps:

* a small pool of reader connections for queries outside a transaction;
* one writer connection behind an :class:`asyncio.Lock`; every transaction is
  ``BEGIN IMMEDIATE`` on it, so writers in this process queue instead of failing,
  and writers in other processes wait on SQLite's busy timeout;
* per-connection pragmas (foreign keys, busy timeout) and WAL set once.

It overrides Piccolo internals (``_run_in_new_connection``, the transaction class),
so the Piccolo version is pinned in pyproject.toml and tests/core/db exercises it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)

__all__ = ["PooledSQLiteEngine"]


class _WriterTransaction(SQLiteTransaction):
    """A transaction on the engine's single writer connection (IMMEDIATE by default)."""

    engine: PooledSQLiteEngine

    async def get_connection(self) -> aiosqlite.Connection:
        return await self.engine._acquire_writer()

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:  # BEGIN failed or was cancelled: free the writer
            self.engine._release_writer()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.engine.current_transaction.reset(self.context)
            self.engine._release_writer()
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with reused connections and IMMEDIATE write transactions."""

    def __init__(
        self, path: str, *, readers: int = 4, busy_timeout: float = 30.0, **kwargs: Any
    ) -> None:
        super().__init__(path=path, timeout=busy_timeout, **kwargs)
        self.busy_timeout_ms = int(busy_timeout * 1000)
        self.max_readers = max(1, readers)
        self._readers: asyncio.Queue[aiosqlite.Connection] | None = None
        self._reader_count = 0
        self._all: list[aiosqlite.Connection] = []
        self._writer: aiosqlite.Connection | None = None
        self._writer_lock: asyncio.Lock | None = None
        self._wal_done = False

    # -- connections -------------------------------------------------------------

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(**self.connection_kwargs)
        connection.row_factory = dict_factory  # type: ignore[assignment]
        if not self._wal_done:
            # Persistent in the file; cannot run inside a transaction.
            await connection.execute("PRAGMA journal_mode=WAL")
            self._wal_done = True
        await connection.execute("PRAGMA foreign_keys = ON")
        await connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        await connection.execute("PRAGMA synchronous = NORMAL")
        self._all.append(connection)
        return connection

    async def get_connection(self) -> aiosqlite.Connection:
        """A fresh connection, configured like the pooled ones (used by ``batch``)."""
        return await self._connect()

    async def _acquire_reader(self) -> aiosqlite.Connection:
        if self._readers is None:
            self._readers = asyncio.Queue()
        if self._readers.empty() and self._reader_count < self.max_readers:
            self._reader_count += 1
            try:
                return await self._connect()
            except BaseException:
                self._reader_count -= 1
                raise
        return await self._readers.get()

    def _release_reader(self, connection: aiosqlite.Connection) -> None:
        assert self._readers is not None
        self._readers.put_nowait(connection)

    async def _acquire_writer(self) -> aiosqlite.Connection:
        if self._writer_lock is None:
            self._writer_lock = asyncio.Lock()
        await self._writer_lock.acquire()
        try:
            if self._writer is None:
                self._writer = await self._connect()
        except BaseException:
            self._writer_lock.release()
            raise
        return self._writer

    def _release_writer(self) -> None:
        assert self._writer_lock is not None
        self._writer_lock.release()

    async def close(self) -> None:
        """Close every connection the engine opened."""
        for connection in self._all:
            try:
                await connection.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass
        self._all.clear()
        self._readers = None
        self._reader_count = 0
        self._writer = None
        self._writer_lock = None

    # -- Piccolo hooks -----------------------------------------------------------

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        connection = await self._acquire_reader()
        try:
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        finally:
            self._release_reader(connection)

    async def _run_in_existing_connection(
        self,
        connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ):
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.immediate,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _WriterTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )
