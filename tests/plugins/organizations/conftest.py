"""Helpers of the organisation tests: make organisations, people and links over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Make = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_org(client: httpx.AsyncClient) -> Make:
    async def make(name: str = "Acme AS", **values: Any) -> dict[str, Any]:
        r = await client.post("/api/v1/organizations", json={"name": name, **values})
        assert r.status_code == 201, r.text
        return r.json()

    return make


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
def link(client: httpx.AsyncClient) -> Make:
    """``await link(person, org, role=..., ...)``: POST the link, expect 201, return it."""

    async def make(person: dict[str, Any], org: dict[str, Any], **values: Any) -> dict[str, Any]:
        r = await client.post(
            f"/api/v1/individuals/{person['id']}/organizations",
            json={"organization_id": org["id"], **values},
        )
        assert r.status_code == 201, r.text
        return r.json()

    return make


async def links_of(
    client: httpx.AsyncClient, person: dict[str, Any], *, include_ended: bool = False
) -> list[dict[str, Any]]:
    params = {"include_ended": "true"} if include_ended else {}
    r = await client.get(f"/api/v1/individuals/{person['id']}/organizations", params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def primary_of(links: list[dict[str, Any]]) -> list[str]:
    return [x["organization"]["name"] for x in links if x["primary"]]
