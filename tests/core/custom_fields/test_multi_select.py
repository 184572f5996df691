"""Multi-select filters: ``in``/``nin``/``contains`` through the value index, on both engines."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.db.sql import sql
from crmkit.core.query.compile import compile_list
from crmkit.core.query.params import parse_list_params

DEFS = "/api/v1/custom-fields"
URL = "/api/v1/vehicles"
INDEX = "crmkit_custom_value_entity_key_value_record_id_idx"


async def mirrored(runtime: Runtime, key: str = "extras") -> set[tuple[str, str]]:
    rows = await runtime.db.fetch(
        sql("SELECT value, record_id FROM crmkit_custom_value WHERE key = {}", key)
    )
    return {(r["value"], str(r["record_id"])) for r in rows}


@pytest.fixture
async def rows(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        DEFS,
        json={"entity": "vehicle", "key": "extras", "type": "multi_select",
              "options": ["roof", "hook", "rails"]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    ids = {}
    for label, extras in [("a", ["roof"]), ("b", ["roof", "hook"]), ("c", ["rails"]), ("d", None)]:
        custom = {"extras": extras} if extras is not None else {}
        r = await client.post(URL, json={"make": label, "custom": custom})
        assert r.status_code == 201, r.text
        ids[label] = r.json()["id"]
    return ids


async def labels(client: httpx.AsyncClient, ids: dict[str, str], **params: Any) -> str:
    r = await client.get(URL, params={"sort": "make", **params})
    assert r.status_code == 200, r.text
    names = {v: k for k, v in ids.items()}
    return "".join(names[x["id"]] for x in r.json()["data"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"custom.extras__contains": "roof"}, "ab"),
        ({"custom.extras__contains": "hook"}, "b"),
        ({"custom.extras__in": "hook,rails"}, "bc"),
        ({"custom.extras__nin": "roof"}, "cd"),
        ({"custom.extras__nin": "roof,rails"}, "d"),
        ({"custom.extras__in": "nothing"}, ""),
        ({"custom.extras__isnull": "true"}, "d"),
        ({"custom.extras__contains": "roof", "custom.extras__nin": "hook"}, "a"),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, rows: dict[str, str], params: dict[str, str], expected: str
) -> None:
    assert await labels(client, rows, **params) == expected


@pytest.mark.parametrize(
    ("param", "value"),
    [("custom.extras", "roof"), ("custom.extras__gt", "a"), ("custom.extras__contains", "")],
)
async def test_other_operators_are_400(
    client: httpx.AsyncClient, rows: dict[str, str], param: str, value: str
) -> None:
    r = await client.get(URL, params={param: value})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] == param


async def test_the_index_follows_every_write(
    runtime: Runtime, client: httpx.AsyncClient, rows: dict[str, str]
) -> None:
    a, b = rows["a"], rows["b"]
    assert ("roof", a) in await mirrored(runtime)
    r = await client.patch(f"{URL}/{a}", json={"custom": {"extras": ["hook", "rails"]}})
    assert r.status_code == 200, r.text
    assert await labels(client, rows, **{"custom.extras__contains": "hook"}) == "ab"
    assert await labels(client, rows, **{"custom.extras__contains": "roof"}) == "b"
    r = await client.patch(f"{URL}/{a}", json={"model": "V70"})  # other fields: untouched
    assert {v for v, rid in await mirrored(runtime) if rid == a} == {"hook", "rails"}
    r = await client.patch(f"{URL}/{a}", json={"custom": {}})
    assert await labels(client, rows, **{"custom.extras__isnull": "true"}) == "ad"
    assert {v for v, rid in await mirrored(runtime) if rid == a} == set()
    # a failed write leaves the index as it was
    r = await client.patch(f"{URL}/{b}", json={"custom": {"extras": ["roof", "nope"]}})
    assert r.status_code == 422
    assert {v for v, rid in await mirrored(runtime) if rid == b} == {"roof", "hook"}
    # soft delete keeps the rows (the list hides the record), hard delete removes them
    assert (await client.delete(f"{URL}/{b}")).status_code == 204
    assert await labels(client, rows, **{"custom.extras__contains": "roof"}) == ""
    assert (
        await labels(client, rows, **{"custom.extras__contains": "roof", "include_deleted": "true"})
        == "b"
    )
    assert (await client.post(f"{URL}/{b}/restore")).status_code == 200
    assert (await client.delete(f"{URL}/{b}", params={"hard": "true"})).status_code == 204
    assert {v for v, rid in await mirrored(runtime) if rid == b} == set()


async def test_existing_values_are_backfilled(runtime: Runtime, client: httpx.AsyncClient) -> None:
    entity = runtime.plugins.entity("vehicle")
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.uuid4() for _ in range(3)]
    values = [["x", "y"], ["y"], "not a list"]
    await runtime.db.executemany(
        f"INSERT INTO {entity.tablename} (id, version, created_at, updated_at, make, tags, custom) "
        "VALUES ({}, 1, {}, {}, 'x', '[]', {})",
        [(i, now, now, json.dumps({"seats": v})) for i, v in zip(ids, values, strict=True)],
    )
    r = await client.post(
        DEFS,
        json={"entity": "vehicle", "key": "seats", "type": "multi_select", "options": ["x", "y"]},
    )
    assert r.status_code == 201, r.text
    expected = {("x", str(ids[0])), ("y", str(ids[0])), ("y", str(ids[1]))}
    assert await mirrored(runtime, "seats") == expected
    # archiving keeps the rows; restoring rebuilds them from the records
    did = r.json()["id"]
    await runtime.db.execute("DELETE FROM crmkit_custom_value")
    assert (await client.delete(f"{DEFS}/{did}")).status_code == 200
    assert (await client.post(f"{DEFS}/{did}/restore")).status_code == 200
    assert await mirrored(runtime, "seats") == expected


async def test_filter_uses_the_value_index(
    runtime: Runtime, client: httpx.AsyncClient, rows: dict[str, str]
) -> None:
    entity = runtime.plugins.entity("vehicle")
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.uuid4() for _ in range(3000)]
    await runtime.db.executemany(
        f"INSERT INTO {entity.tablename} (id, version, created_at, updated_at, make, tags, custom) "
        "VALUES ({}, 1, {}, {}, 'x', '[]', {})",
        [(i, now, now, json.dumps({"extras": ["rails"] if n % 3 else ["roof"]}))
         for n, i in enumerate(ids)],
    )  # fmt: skip
    [definition] = [d for d in await runtime.custom_fields.list("vehicle") if d.key == "extras"]
    from crmkit.core.custom_fields.values import rebuild

    async with runtime.write():
        await rebuild(runtime, definition)
    await runtime.db.execute("ANALYZE")
    for op, value in [("contains", "hook"), ("in", "hook,roof"), ("nin", "rails")]:
        params = parse_list_params(
            [(f"custom.extras__{op}", value), ("limit", "50")], default_limit=50, max_limit=500
        )
        await runtime.custom_fields.ensure()
        compiled = compile_list(
            runtime.db, entity, params, custom_types=runtime.custom_types, runtime=runtime
        )
        query = (
            f"SELECT t.* FROM {entity.tablename} AS t WHERE {{}} "
            f"ORDER BY {compiled.order_by} LIMIT 51"
        )
        if runtime.db.kind == "sqlite":
            plan = await runtime.db.fetch(sql("EXPLAIN QUERY PLAN " + query, compiled.where))
            text = " ".join(str(r.get("detail")) for r in plan)
        else:
            async with runtime.db.transaction():
                await runtime.db.execute("SET LOCAL enable_seqscan = off")
                plan = await runtime.db.fetch(sql("EXPLAIN " + query, compiled.where))
            text = " ".join(str(next(iter(r.values()))) for r in plan)
        assert INDEX in text, (op, text)
    page = (
        await client.get(URL, params={"custom.extras__contains": "roof", "count": "true"})
    ).json()
    assert page["total"] == 1000 + 2  # every third inserted one, and the fixture's a and b
