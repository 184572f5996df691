"""The activity plugin with only individuals, and on another plugin's entity."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from crmkit.core import Runtime

from .conftest import Make, timeline


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {}


@pytest.fixture
def enabled() -> list[str] | None:
    return ["individuals", "activity"]


async def test_with_individuals_only(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, add_entry: Make
) -> None:
    assert sorted(runtime.plugins.loaded) == ["activity", "individuals"]
    person = await make_person()
    await add_entry("note", [("individual", person["id"])], body="hello")
    r = await client.patch(f"/api/v1/individuals/{person['id']}", json={"type": "customer"})
    assert r.status_code == 200, r.text
    entries = await timeline(client, "individuals", person["id"])
    assert [e["kind"] for e in entries] == ["change", "note", "change"]
    r = await client.get(f"/api/v1/individuals/{person['id']}/tabs")
    assert [t["key"] for t in r.json()] == ["details", "notes", "activity"]
    r = await client.post(
        "/api/v1/activities",
        json={
            "kind": "note",
            "records": [{"entity": "organization", "id": person["id"]}],
            "body": "x",
        },
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["records[0].entity"]
