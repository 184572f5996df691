"""Helpers of the search tests: people, organisations, custom fields and notes over HTTP,
and ``find`` (the names a query lists, in order, every page walked)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Make = Callable[..., Awaitable[dict[str, Any]]]
Find = Callable[..., Awaitable[list[str]]]

PEOPLE = "/api/v1/individuals"
SKIP = {"X-Skip-Duplicate-Check": "true"}


def name(record: dict[str, Any]) -> str:
    return f"{record['first_name']} {record['last_name']}"


@pytest.fixture
def person(client: httpx.AsyncClient) -> Make:
    """``await person("Kari", "Nordmann", emails=[...], ...)``: POST, expect 201."""

    async def make(first: str, last: str, **values: Any) -> dict[str, Any]:
        r = await client.post(
            PEOPLE, json={"first_name": first, "last_name": last, **values}, headers=SKIP
        )
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def field(client: httpx.AsyncClient) -> Make:
    """``await field("budget", "number", ...)``: a custom field of individuals."""

    async def make(key: str, type_: str, **values: Any) -> dict[str, Any]:
        body = {"entity": "individual", "key": key, "type": type_, "filterable": True, **values}
        r = await client.post("/api/v1/custom-fields", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def note(client: httpx.AsyncClient) -> Make:
    """``await note(person, "text")``: a note about the person (the activity API)."""

    async def make(about: dict[str, Any], body: str) -> dict[str, Any]:
        r = await client.post(
            "/api/v1/activities",
            json={"kind": "note", "records": [{"entity": "individual", "id": about["id"]}],
                  "body": body},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return r.json()

    return make


async def pages(
    client: httpx.AsyncClient,
    url: str = PEOPLE,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Every record of a list, all pages walked with its cursor."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, params=query, headers=headers)
        assert r.status_code == 200, (params, r.text)
        page = r.json()
        out.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return out


@pytest.fixture
def find(client: httpx.AsyncClient) -> Find:
    """``await find("john smith", type="customer")``: the names listed, in order."""

    async def run(q: str, **params: Any) -> list[str]:
        return [name(r) for r in await pages(client, q=q, **params)]

    return run
