"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a schema of their own on ``CRMKIT_TEST_POSTGRES_URL`` (default:
the local server's ``test`` database). When the server cannot be reached they skip,
unless ``CRMKIT_REQUIRE_POSTGRES=1`` (set by .ci/run), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from crmkit.core import Runtime, load_settings
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.core.migrate import Migrator
from litestar import Litestar

from tests import example_plugin

PG_URL = os.environ.get("CRMKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CRMKIT_REQUIRE_POSTGRES") == "1"
ENGINES = ["sqlite", "postgres"]


async def _pg_schema() -> str:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return schema


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=ENGINES)
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/crmkit.db"
        return
    schema = await _pg_schema()
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}search_path={schema}"
    finally:
        await _drop_schema(schema)


def make_settings(db_url: str, **overrides: Any):
    env = {"CRMKIT_CONFIG": "/nonexistent/crmkit.toml"}
    return load_settings(env, database_url=db_url, **overrides)


@pytest.fixture
def plugins() -> dict[str, Any]:
    """Plugins registered directly (besides installed ones); tests may override."""
    return {"example": example_plugin}


@pytest.fixture
def enabled() -> list[str] | None:
    """The enabled list (``None``: every installed plugin plus ``plugins``)."""
    return None


@pytest.fixture
async def runtime(
    db_url: str, plugins: dict[str, Any], enabled: list[str] | None
) -> AsyncIterator[Runtime]:
    """A started runtime on a migrated database."""
    example_plugin.COMMITTED.clear()
    settings = make_settings(db_url, plugins=enabled)
    rt = Runtime.create(settings, extra_plugins=plugins)
    await rt.start()
    try:
        await Migrator(rt).forwards()
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
async def api_key(runtime: Runtime) -> str:
    _, key = await create_key(runtime, name="tests", role="admin")
    return key


@pytest.fixture
def app(runtime: Runtime) -> Litestar:
    return create_app(runtime=runtime)


@pytest.fixture
async def anon(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, in the test's event loop, without an API key.

    (Litestar's own test client runs the app on another loop, which an asyncpg pool
    made on this one cannot serve; the runtime is already started by its fixture.)
    """
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def client(anon: httpx.AsyncClient, api_key: str) -> httpx.AsyncClient:
    """The HTTP client, authenticated as an admin."""
    anon.headers["Authorization"] = f"Bearer {api_key}"
    return anon
