"""What commands share: the settings, a started :class:`Runtime`, one ``asyncio.run``.

Commands of plugins may use :func:`with_runtime` too: it applies ``--database-url``
and ``--config`` (the group puts them in the environment) and turns a database that
cannot be reached into a one-line error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from crmkit.core.runtime import Runtime
from crmkit.core.settings import load_settings

from .errors import DatabaseUnreachable, one_line, redact_url

__all__ = ["quiet_plugin_log", "run", "with_runtime"]

T = TypeVar("T")

#: What connecting (or opening the SQLite file) raises when the database is not there.
_CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, sqlite3.Error)
_PICCOLO_CONNECT_WARNING = r".*Unable to (connect to database|fetch server version)"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion: the only event loop a command starts."""
    return asyncio.run(coro)


def _unreachable(runtime: Runtime, reason: str) -> DatabaseUnreachable:
    url = redact_url(runtime.settings.database_url)
    return DatabaseUnreachable(f"cannot reach the database at {url}: {reason}")


async def _connect(runtime: Runtime, *, create: bool) -> None:
    if runtime.db.kind == "sqlite":
        # Checked here rather than left to SQLite: a failed aiosqlite connect leaves a
        # thread that reports to the (by then closed) event loop and dies noisily.
        folder = Path(runtime.db.engine.path).parent
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise _unreachable(runtime, f"the folder {folder} does not exist")
    try:
        await runtime.start()
        await runtime.db.fetch("SELECT 1")  # SQLite opens its file on the first query
    except _CONNECT_ERRORS as exc:
        await runtime.stop()
        raise _unreachable(runtime, one_line(exc) or type(exc).__name__) from exc


def _create_runtime() -> Runtime:
    with warnings.catch_warnings():
        # Piccolo's PostgresEngine checks the server version when it is made and warns
        # when it cannot connect; connecting is checked (and reported) by _connect.
        warnings.filterwarnings("ignore", message=_PICCOLO_CONNECT_WARNING)
        return Runtime.create(load_settings())


async def _run_with(runtime: Runtime, fn: Callable[[Runtime], Awaitable[T]], create: bool) -> T:
    await _connect(runtime, create=create)
    try:
        return await fn(runtime)
    finally:
        await runtime.stop()


def with_runtime(fn: Callable[[Runtime], Awaitable[T]], *, create: bool = False) -> T:
    """Build the runtime from the settings, connect, await ``fn(runtime)``, disconnect.

    ``create`` makes the folder of a SQLite file first (``crmkit init``).
    """
    runtime = _create_runtime()  # outside the loop: Piccolo's engine runs its own at init
    return run(_run_with(runtime, fn, create))


@contextlib.contextmanager
def quiet_plugin_log() -> Iterator[None]:
    """Silence the plugin host's log while a command reports plugin failures itself."""
    logger = logging.getLogger("crmkit.plugins")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled
