"""Shared helpers of the individuals tests (HTTP, both engines)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from crmkit.core import Runtime
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.core.migrate import Migrator
from crmkit.plugins.individuals import INDIVIDUAL

from tests.conftest import make_settings

URL = "/api/v1/individuals"
PROBLEM = "application/problem+json"
SKIP = {"X-Skip-Duplicate-Check": "true"}

#: Every writable field of an individual (what a merge undo must restore exactly).
WRITABLE = tuple(INDIVIDUAL.writable)


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status`` naming every one of ``fields``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    assert body["status"] == status
    assert body["title"]
    named = [e["field"] for e in body.get("errors", [])]
    for field in fields:
        assert field in named, (field, body)
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def create(client: httpx.AsyncClient, *, skip: bool = False, **fields: Any) -> dict[str, Any]:
    body = {"first_name": "Kari", "last_name": "Nordmann", **fields}
    r = await client.post(URL, json=body, headers=SKIP if skip else None)
    assert r.status_code == 201, r.text
    return r.json()


async def get(client: httpx.AsyncClient, record_id: str, **params: Any) -> httpx.Response:
    return await client.get(f"{URL}/{record_id}", params=params)


async def read(client: httpx.AsyncClient, record_id: str, **params: Any) -> dict[str, Any]:
    r = await get(client, record_id, **params)
    assert r.status_code == 200, r.text
    return r.json()


async def patch(client: httpx.AsyncClient, record_id: str, **fields: Any) -> httpx.Response:
    return await client.patch(f"{URL}/{record_id}", json=fields)


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(URL, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [v["id"] for v in await listed(client, **params)]


def writable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in WRITABLE}


@contextlib.asynccontextmanager
async def configured_client(
    db_url: str, *, plugins: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client on an app whose runtime has ``settings`` (e.g. ``plugin=...``)."""
    rt = Runtime.create(make_settings(db_url, **settings), extra_plugins=plugins or {})
    await rt.start()
    try:
        await Migrator(rt).forwards()
        _, key = await create_key(rt, name="tests", role="admin")
        transport = httpx.ASGITransport(app=create_app(runtime=rt), raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client
    finally:
        await rt.stop()
