"""Definitions stay fresh across processes: two runtimes on one database (both engines)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from crmkit.core import SYSTEM, Runtime, ValidationFailed
from crmkit.core.query.params import parse_list_params

from tests.conftest import make_settings

DEFS = "/api/v1/custom-fields"


@pytest.fixture
async def other(
    runtime: Runtime, db_url: str, plugins: dict[str, Any], enabled: list[str] | None
) -> AsyncIterator[Runtime]:
    """A second runtime on the same database: another worker process, as far as caches go."""
    rt = Runtime.create(make_settings(db_url, plugins=enabled), extra_plugins=plugins)
    await rt.start()
    rt.custom_fields.read_check_interval = 0.2  # the default is a second; the rule is the same
    try:
        yield rt
    finally:
        await rt.stop()


def makes(page: Any) -> list[str]:
    return sorted(r["make"] for r in page.data)


async def test_a_definition_made_in_one_worker_works_in_another(
    client: httpx.AsyncClient, other: Runtime
) -> None:
    vehicles = other.records("vehicle")
    assert await other.custom_fields.ensure() == {}  # cached: no definitions
    r = await client.post(
        DEFS, json={"entity": "vehicle", "key": "budget", "type": "number", "filterable": True}
    )
    assert r.status_code == 201, r.text
    # a write checks the generation at once: validated (and converted) by the new type
    made = await vehicles.create({"make": "big", "custom": {"budget": "100001"}}, actor=SYSTEM)
    assert made["custom"] == {"budget": 100001}
    await vehicles.create({"make": "small", "custom": {"budget": 9}}, actor=SYSTEM)
    with pytest.raises(ValidationFailed) as bad:
        await vehicles.create({"make": "x", "custom": {"budget": "lots"}}, actor=SYSTEM)
    assert [e.field for e in bad.value.errors] == ["custom.budget"]
    # reads check at most once per interval; then the filter is typed (as text "9" > "50")
    await asyncio.sleep(other.custom_fields.read_check_interval + 0.05)
    params = parse_list_params([("custom.budget__gt", "50")])
    assert makes(await vehicles.list(params)) == ["big"]

    # and the other way round: archived in the second worker, refused by the first
    [definition] = await other.custom_fields.list("vehicle")
    await other.custom_fields.set_archived(definition.id, True)
    r = await client.post("/api/v1/vehicles", json={"make": "z", "custom": {"budget": 1}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "custom.budget"


async def test_multi_select_made_elsewhere_is_indexed_and_filterable(
    client: httpx.AsyncClient, other: Runtime
) -> None:
    await other.custom_fields.ensure()
    r = await client.post(
        DEFS,
        json={"entity": "vehicle", "key": "extras", "type": "multi_select", "options": ["a", "b"]},
    )
    assert r.status_code == 201, r.text
    vehicles = other.records("vehicle")
    await vehicles.create({"make": "one", "custom": {"extras": ["a", "b"]}}, actor=SYSTEM)
    await vehicles.create({"make": "two", "custom": {"extras": ["b"]}}, actor=SYSTEM)
    r = await client.get("/api/v1/vehicles", params={"custom.extras__contains": "a"})
    assert [x["make"] for x in r.json()["data"]] == ["one"]


async def test_the_check_is_one_read_per_transaction_or_interval(runtime: Runtime) -> None:
    service, db = runtime.custom_fields, runtime.db
    await service.ensure()
    before = db.queries
    await service.ensure()
    await service.ensure()
    assert db.queries == before  # within the interval: the cache alone
    async with runtime.write():
        await service.ensure()
        await service.ensure()
    assert db.queries == before + 1  # a write reads the generation once
    service.read_check_interval = 0
    await service.ensure()
    assert db.queries == before + 2  # unchanged generation: the definitions are not re-read
