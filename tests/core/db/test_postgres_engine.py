"""PostgreSQL connections: settings every connection of the pool gets."""

from __future__ import annotations

import msgspec
import pytest
from crmkit.core import Runtime


async def test_jit_is_off_unless_the_url_says_otherwise(runtime: Runtime, db_url: str) -> None:
    if runtime.db.kind != "postgres":
        pytest.skip("PostgreSQL only")
    # short index lookups: JIT compiling only costs (bench/search.py measured 220 ms)
    assert await runtime.db.fetchval("SHOW jit") == "off"
    settings = msgspec.structs.replace(runtime.settings, database_url=db_url + "&jit=on")
    on = Runtime.create(settings)
    await on.start()
    try:
        assert await on.db.fetchval("SHOW jit") == "on"
    finally:
        await on.stop()
