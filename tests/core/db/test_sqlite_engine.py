"""The pooled SQLite engine (it overrides Piccolo internals, so it is tested here),
and concurrent writes through the record service on both engines."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from crmkit.core import SYSTEM, Conflict, Runtime
from crmkit.core.db import Database, open_database
from crmkit.core.db.sqlite import PooledSQLiteEngine, _WriterTransaction
from crmkit.core.migrate import Migrator

from tests import example_plugin
from tests.conftest import make_settings

READERS = 4


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(f"sqlite:///{tmp_path}/engine.db", pool_size=READERS)
    await database.connect()
    try:
        await database.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        await database.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
        yield database
    finally:
        await database.close()


@pytest.fixture
async def sqlite_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime.create(
        make_settings(f"sqlite:///{tmp_path}/rt.db", plugins=["example"]),
        extra_plugins={"example": example_plugin},
    )
    await rt.start()
    try:
        await Migrator(rt).forwards()
        yield rt
    finally:
        await rt.stop()


def _engine(db: Database) -> PooledSQLiteEngine:
    assert isinstance(db.engine, PooledSQLiteEngine)
    return db.engine


async def _count(db: Database) -> int:
    return await db.fetchval("SELECT n FROM counter WHERE id = 1")


def test_open_database_picks_the_pooled_engine(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path}/x.db", pool_size=20)
    assert db.kind == "sqlite"
    assert _engine(db).max_readers == 8  # capped
    assert _engine(db).path == f"{tmp_path}/x.db"


async def test_reads_reuse_connections(db: Database) -> None:
    engine = _engine(db)
    for _ in range(50):
        assert await _count(db) == 0
    await asyncio.gather(*(_count(db) for _ in range(50)))
    async with db.transaction():
        await _count(db)
    assert len(engine._all) <= READERS + 1  # the readers and the one writer
    assert engine._reader_count <= READERS


async def test_wal_mode_and_pragmas(db: Database) -> None:
    assert await db.fetchval("PRAGMA journal_mode") == "wal"
    assert await db.fetchval("PRAGMA foreign_keys") == 1
    assert await db.fetchval("PRAGMA busy_timeout") == 30_000
    async with db.transaction():  # the writer connection is configured the same way
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert await db.fetchval("PRAGMA journal_mode") == "wal"


async def test_foreign_keys_are_enforced(db: Database) -> None:
    await db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"
    )
    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with db.transaction():
            await db.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")


async def test_transactions_are_immediate(db: Database) -> None:
    async with db.transaction() as tx:
        assert isinstance(tx, _WriterTransaction)
        assert tx.transaction_type.value == "IMMEDIATE"
        assert db.in_transaction
    assert not db.in_transaction


async def test_concurrent_read_then_write_transactions(db: Database) -> None:
    async def increment() -> None:
        async with db.transaction():
            n = await _count(db)
            await asyncio.sleep(0)  # let the others run between the read and the write
            await db.execute("UPDATE counter SET n = {} WHERE id = 1", n + 1)

    results = await asyncio.gather(*(increment() for _ in range(20)), return_exceptions=True)
    assert [r for r in results if r is not None] == []  # no "database is locked"
    assert await _count(db) == 20


async def test_concurrent_read_then_write_in_runtime_write(sqlite_runtime: Runtime) -> None:
    db = sqlite_runtime.db
    await db.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    await db.execute("INSERT INTO counter (id, n) VALUES (1, 0)")

    async def increment() -> None:
        async with sqlite_runtime.write():
            n = await _count(db)
            await asyncio.sleep(0)
            await db.execute("UPDATE counter SET n = {} WHERE id = 1", n + 1)

    results = await asyncio.gather(*(increment() for _ in range(20)), return_exceptions=True)
    assert [r for r in results if r is not None] == []
    assert await _count(db) == 20


async def test_reads_outside_see_committed_state_only(db: Database) -> None:
    async with db.transaction():
        await db.execute("UPDATE counter SET n = 5 WHERE id = 1")
        assert await _count(db) == 5  # inside: the writer connection
        # A task outside the transaction's context (as another request would be): a reader.
        other = asyncio.get_running_loop().create_task(_count(db), context=contextvars.Context())
        assert await other == 0
    assert await _count(db) == 5


async def test_transaction_that_raises_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction():
            await db.execute("UPDATE counter SET n = 99 WHERE id = 1")
            raise RuntimeError("boom")
    assert await _count(db) == 0
    async with db.transaction():  # the writer is free again
        await db.execute("UPDATE counter SET n = 1 WHERE id = 1")
    assert await _count(db) == 1


async def test_nested_transaction_joins_the_outer(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as outer:
            async with db.transaction() as inner:
                assert inner is outer
                await db.execute("UPDATE counter SET n = 7 WHERE id = 1")
            assert db.in_transaction  # leaving the inner block does not commit
            raise RuntimeError("outer fails")
    assert await _count(db) == 0  # the inner write went with the outer rollback

    async with db.transaction():
        async with db.transaction():
            await db.execute("UPDATE counter SET n = 8 WHERE id = 1")
    assert await _count(db) == 8


async def test_failed_begin_releases_the_writer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_begin(self: Any) -> None:
        raise RuntimeError("BEGIN failed")

    with monkeypatch.context() as m:
        m.setattr(_WriterTransaction, "begin", failing_begin)
        with pytest.raises(RuntimeError, match="BEGIN failed"):
            async with db.transaction():
                pass
    assert not db.in_transaction

    async def write() -> None:
        async with db.transaction():
            await db.execute("UPDATE counter SET n = 3 WHERE id = 1")

    await asyncio.wait_for(write(), timeout=5)  # would wait forever on a leaked lock
    assert await _count(db) == 3


async def test_executemany_outside_a_transaction(db: Database) -> None:
    await db.executemany("INSERT INTO counter (id, n) VALUES ({}, {})", [(2, 20), (3, 30)])
    assert await db.fetchval("SELECT SUM(n) FROM counter") == 50


async def test_close_closes_every_connection(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path}/close.db", pool_size=READERS)
    await db.connect()
    engine = _engine(db)
    # the writer first: a brand-new file switches to WAL once (as `crmkit init` does),
    # then the readers open (10 first connections racing that switch can see "locked")
    async with db.transaction():
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    await asyncio.gather(*(db.fetch("SELECT 1 AS one") for _ in range(10)))
    opened = list(engine._all)
    assert len(opened) >= 2
    await db.close()
    assert engine._all == []
    for connection in opened:
        with pytest.raises(ValueError):  # aiosqlite: no active connection
            await connection.execute("SELECT 1")
    # The engine opens new connections when used again.
    assert await db.fetchval("SELECT 1 AS one") == 1
    await db.close()


async def test_concurrent_record_updates(runtime: Runtime) -> None:
    """20 concurrent updates of one record: each succeeds or is a Conflict, never worse."""
    records = runtime.records("vehicle")
    vehicle = await records.create({"make": "Volvo", "year": 1990}, actor=SYSTEM)

    async def update(i: int) -> dict[str, Any]:
        return await records.update(vehicle["id"], {"year": 2000 + i}, actor=SYSTEM)

    results = await asyncio.gather(*(update(i) for i in range(20)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, Conflict) for e in errors), errors
    successes = len(results) - len(errors)
    assert successes >= 1
    final = await records.get(vehicle["id"])
    assert final["version"] == 1 + successes
    assert final["year"] in {2000 + i for i, r in enumerate(results) if isinstance(r, dict)}
