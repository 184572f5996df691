"""The individuals plugin on its own: no example plugin, no other plugin enabled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from crmkit.core import Runtime

from .helpers import URL, create, listed_ids, patch, problem, read


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {}


@pytest.fixture
def enabled() -> list[str] | None:
    return ["individuals"]


async def test_only_individuals_is_loaded(runtime: Runtime) -> None:
    assert "individual" in runtime.plugins.entities
    assert "vehicle" not in runtime.plugins.entities


async def test_crud_alone(client: httpx.AsyncClient) -> None:
    body = await create(
        client,
        first_name="ola",
        last_name="NORDMANN",
        emails=[{"address": "Ola@Example.no"}],
        tags=["vip"],
    )
    rid = body["id"]
    assert (body["first_name"], body["last_name"]) == ("Ola", "Nordmann")
    assert await listed_ids(client) == [rid]
    assert await listed_ids(client, email="ola@example.no") == [rid]
    r = await patch(client, rid, job_title="CEO")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    r = await client.patch(f"{URL}/{rid}", json={"job_title": "CTO"}, headers={"If-Match": '"1"'})
    problem(r, 412)
    assert (await read(client, rid))["job_title"] == "CEO"
    assert (await client.delete(f"{URL}/{rid}")).status_code == 204
    problem(await client.get(f"{URL}/{rid}"), 404)
    assert await listed_ids(client) == []
    r = await client.post(f"{URL}/{rid}/restore")
    assert r.status_code == 200, r.text
    assert await listed_ids(client) == [rid]
    assert (await client.get(f"{URL}/{rid}/duplicates")).status_code == 200
    assert (await client.get(f"{URL}/duplicates")).status_code == 200
    assert (await client.get(f"{URL}/{rid}/vcard")).status_code == 200
    assert (await client.delete(f"{URL}/{rid}", params={"hard": "true"})).status_code == 204
    problem(await client.get(f"{URL}/{rid}", params={"include_deleted": "true"}), 404)


async def test_merge_alone(client: httpx.AsyncClient) -> None:
    a = await create(client, emails=[{"address": "a@example.no"}])
    b = await create(
        client, emails=[{"address": "b@gmail.com"}]
    )  # same name only: listed, not blocked
    r = await client.post(f"{URL}/merge", json={"target": a["id"], "sources": [b["id"]]})
    assert r.status_code == 200, r.text
    assert [e["address"] for e in r.json()["target"]["emails"]] == ["a@example.no", "b@gmail.com"]
    r = await client.post(f"{URL}/merges/{r.json()['id']}/undo")
    assert r.status_code == 200, r.text
    assert sorted(await listed_ids(client)) == sorted([a["id"], b["id"]])


async def test_other_entities_are_not_served(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await client.get("/api/v1/vehicles")).status_code == 404
    assert (await client.post("/api/v1/vehicles", json={"make": "Ford"})).status_code == 404
    schema = (await anon.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert "/api/v1/individuals" in paths or "/api/v1/individuals/" in paths
    assert "/api/v1/individuals/merge" in paths
    assert not any(p.startswith("/api/v1/vehicles") for p in paths)


async def test_health_alone(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/health")).status_code == 200
    problem(await anon.get(URL), 401)
