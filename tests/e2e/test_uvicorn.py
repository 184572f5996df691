"""The real thing: ``uvicorn`` serving ``create_app`` (the factory) in its own process.

Settings come from the environment only (``CRMKIT_DATABASE_URL``; ``CRMKIT_PLUGINS``
unset, so every installed plugin is enabled), on a database migrated beforehand: a
SQLite file, and a fresh PostgreSQL schema when the server is reachable.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.migrate import Migrator

from tests.conftest import PG_URL, REQUIRE_PG, make_settings

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
STARTUP_SECONDS = 30.0
STOP_SECONDS = 15.0


async def _prepare(url: str) -> str:
    """Migrate every installed plugin's tables and create an admin key (as ``crmkit init``)."""
    async with Runtime.create(make_settings(url)) as runtime:
        await Migrator(runtime).forwards()
        _, key = await create_key(runtime, name="e2e", role="admin")
    return key


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, key: str, workdir: Path) -> None:
        self.url = url
        self.key = key
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "uvicorn.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRMKIT_")}
        env["CRMKIT_DATABASE_URL"] = url
        env["CRMKIT_CONFIG"] = str(workdir / "absent.toml")
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "crmkit.core.api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text("utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"uvicorn exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"uvicorn was not ready within {STARTUP_SECONDS}s:\n{self.output()}")

    def stop(self) -> int:
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=STOP_SECONDS)
        finally:
            self.log.close()
        return self.process.returncode


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"uvicorn-{request.param}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{workdir}/crmkit.db"
    else:
        schema = f"e2e_{uuid.uuid4().hex[:12]}"
        try:
            asyncio.run(_pg(f"CREATE SCHEMA {schema}"))
        except (OSError, asyncpg.PostgresError) as exc:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL is required but unreachable at {PG_URL}: {exc}")
            pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}search_path={schema}"
    try:
        key = asyncio.run(_prepare(url))
        srv = Server(url, key, workdir)
        try:
            srv.wait_ready()
            yield srv
        finally:
            code = srv.stop()
        # a clean shutdown: the app's on_shutdown closed the database without a traceback
        # (uvicorn re-raises the signal it stopped on once it has shut down)
        assert code in (0, -signal.SIGTERM), (code, srv.output())
        assert "Application shutdown complete" in srv.output(), srv.output()
        assert "Traceback" not in srv.output(), srv.output()
    finally:
        if schema is not None:
            asyncio.run(_pg(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM, r.headers
    body = r.json()
    assert body["status"] == status and body["type"] and body["title"], body
    return body


def api_collection(server: Server) -> str | None:
    """The list route of an entity (answers a ``...Page``), if any entity is installed."""
    doc = httpx.get(f"{server.base}/schema/openapi.json", timeout=10).json()
    for path, item in sorted(doc["paths"].items()):
        if not path.startswith("/api/v1/") or "{" in path or "get" not in item:
            continue
        content = item["get"]["responses"].get("200", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if schema.get("$ref", "").endswith("Page"):
            return path
    return None


def test_health(server: Server) -> None:
    r = httpx.get(f"{server.base}/health", timeout=5)
    assert r.status_code == 200, r.text
    expected = "sqlite" if server.url.startswith("sqlite") else "postgres"
    assert r.json() == {"status": "ok", "database": expected}


def test_openapi_document_and_docs_need_no_key(server: Server) -> None:
    r = httpx.get(f"{server.base}/schema/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert "/health" in doc["paths"]
    r = httpx.get(f"{server.base}/schema", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")


def test_unknown_api_route_is_a_404_problem(server: Server) -> None:
    body = problem(httpx.get(f"{server.base}/api/v1/no-such-thing", timeout=5), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    headers = {"Authorization": f"Bearer {server.key}"}
    problem(httpx.get(f"{server.base}/api/v1/no-such-thing", headers=headers, timeout=5), 404)


def test_api_routes_need_a_key(server: Server) -> None:
    path = api_collection(server)
    if path is None:
        pytest.skip("no entity plugin is installed: no API route to call")
    r = httpx.get(f"{server.base}{path}", timeout=5)
    problem(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer")
    bad = {"Authorization": "Bearer crm_000000000000_nope"}
    problem(httpx.get(f"{server.base}{path}", headers=bad, timeout=5), 401)
    for headers in ({"Authorization": f"Bearer {server.key}"}, {"X-API-Key": server.key}):
        r = httpx.get(f"{server.base}{path}", headers=headers, timeout=5)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["data"] == []


def test_streamed_import_then_streamed_export_over_real_http(server: Server) -> None:
    """A CSV body streamed in chunks (the test client cannot stream a request) imports,
    and the export comes back chunked with every row."""
    headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "text/csv"}
    rows = 1500

    def body() -> Iterator[bytes]:
        yield b"first_name,last_name,email_1,tags\n"
        for i in range(rows):
            yield f"Person{i},Streamer,p{i}@stream.example,e2e\n".encode()

    r = httpx.post(
        f"{server.base}/api/v1/individuals/import",
        params={"format": "csv", "on_duplicate": "create"},
        content=body(),
        headers=headers,
        timeout=300,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["errors"]) == (rows, [])
    with httpx.stream(
        "GET",
        f"{server.base}/api/v1/individuals/export",
        params={"format": "csv", "tag": "e2e"},
        headers={"Authorization": headers["Authorization"]},
        timeout=300,
    ) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        text = b"".join(response.iter_bytes()).decode("utf-8-sig")
    lines = text.splitlines()
    assert len(lines) == rows + 1
    assert {line.split(",")[lines[0].split(",").index("email_1")] for line in lines[1:]} == {
        f"p{i}@stream.example" for i in range(rows)
    }
    # and the search index followed the import
    r = httpx.get(
        f"{server.base}/api/v1/individuals",
        params={"q": "streamer person1499", "count": "true"},
        headers={"Authorization": headers["Authorization"]},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["total"] == 1, r.text
