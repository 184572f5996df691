"""PostgreSQL connections: settings every connection of the pool gets."""

from __future__ import annotations

import pytest
from crmkit.core import Runtime
from crmkit.core.db import open_database


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_jit_is_off(runtime: Runtime) -> None:
    # short index lookups: JIT compiling only costs (bench/search.py measured 220 ms)
    assert await runtime.db.fetchval("SHOW jit") == "off"


def test_a_url_that_sets_jit_wins() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert open_database(url).engine.config["server_settings"] == {"jit": "off"}
    assert "server_settings" not in open_database(url + "?jit=on").engine.config
