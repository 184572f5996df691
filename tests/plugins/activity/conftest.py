"""Helpers of the activity tests: people over HTTP, timelines, entries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Make = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_person(client: httpx.AsyncClient) -> Make:
    async def make(first: str = "Kari", last: str = "Nordmann", **values: Any) -> dict[str, Any]:
        r = await client.post(
            "/api/v1/individuals",
            json={"first_name": first, "last_name": last, **values},
            headers={"X-Skip-Duplicate-Check": "true"},
        )
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def add_entry(client: httpx.AsyncClient) -> Make:
    """``await add_entry("note", [("individual", id)], body=...)``: POST, expect 201."""

    async def make(kind: str, records: list[tuple[str, Any]], **values: Any) -> dict[str, Any]:
        body = {"kind": kind, "records": [{"entity": e, "id": str(i)} for e, i in records]}
        r = await client.post("/api/v1/activities", json={**body, **values})
        assert r.status_code == 201, r.text
        return r.json()

    return make


async def timeline(
    client: httpx.AsyncClient, plural: str, record_id: Any, **params: Any
) -> list[dict[str, Any]]:
    """Every entry of a record's timeline (all pages), newest first."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/api/v1/{plural}/{record_id}/activity", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return out
