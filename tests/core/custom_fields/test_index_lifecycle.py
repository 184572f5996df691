"""Expression indexes exist exactly while a field is active and filterable or sortable."""

from __future__ import annotations

import httpx
from crmkit.core import Runtime

DEFS = "/api/v1/custom-fields"
NAME = "example_vehicle_cf_km_idx"


async def has_index(runtime: Runtime, name: str = NAME) -> bool:
    if runtime.db.kind == "sqlite":
        query = f"SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{name}'"
    else:
        query = f"SELECT indexname FROM pg_indexes WHERE indexname = '{name}'"
    return await runtime.db.fetchrow(query) is not None


async def test_index_follows_the_flags_archive_and_restore(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.post(DEFS, json={"entity": "vehicle", "key": "km", "type": "integer"})
    url = f"{DEFS}/{r.json()['id']}"
    assert not await has_index(runtime)
    assert (await client.patch(url, json={"filterable": True})).status_code == 200
    assert await has_index(runtime)
    assert (await client.patch(url, json={"sortable": True})).status_code == 200
    assert (await client.patch(url, json={"filterable": False})).status_code == 200
    assert await has_index(runtime)  # still sortable
    assert (await client.patch(url, json={"sortable": False})).status_code == 200
    assert not await has_index(runtime)
    assert (await client.patch(url, json={"filterable": True})).status_code == 200
    assert (await client.delete(url)).status_code == 200
    assert not await has_index(runtime)  # archived
    assert (await client.post(f"{url}/restore")).status_code == 200
    assert await has_index(runtime)
    # the restored index serves the filter again
    r = await client.post("/api/v1/vehicles", json={"make": "x", "custom": {"km": 12}})
    r = await client.get("/api/v1/vehicles", params={"custom.km__gt": "9"})
    assert [x["make"] for x in r.json()["data"]] == ["x"]


async def test_multi_select_gets_no_expression_index(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        DEFS,
        json={"entity": "vehicle", "key": "tags2", "type": "multi_select", "options": ["a"],
              "filterable": True},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert not await has_index(runtime, "example_vehicle_cf_tags2_idx")  # the value index serves it
