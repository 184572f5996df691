"""PostgreSQL through asyncpg with a pool (Piccolo's engine, without its start-up probe)."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresEngine

__all__ = ["PoolPostgresEngine"]


class PoolPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine that does not connect when it is created.

    Piccolo's constructor opens a connection just to read the server version (and
    warns when the server is down); crmkit connects once, when the runtime starts,
    and reports an unreachable server there as a one-line error.
    """

    async def check_version(self) -> None:  # the pool's first connection is the check
        return None
