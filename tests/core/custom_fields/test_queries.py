"""Typed filters and sorts on custom fields, and the expression index behind them."""

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

VALUES = {
    "a": {"budget": 9, "bought": "2020-01-05", "ok": True, "fuel": "ev", "seen": "2024-01-01T10:00:00Z"},
    "b": {"budget": 100001, "bought": "2019-12-31", "ok": False, "fuel": "petrol"},
    "c": {"budget": 20.5, "paid": {"amount": 5, "code": "EUR"}},
    "d": {"budget": 1000000, "paid": {"amount": 30, "code": "NOK"}, "seen": "2024-01-01T09:00:00-02:00"},
    "e": {},
}  # fmt: skip


@pytest.fixture
async def rows(client: httpx.AsyncClient) -> dict[str, str]:
    for key, type_, extra in [
        ("budget", "number", {"filterable": True, "sortable": True}),
        ("bought", "date", {"sortable": True}),
        ("ok", "boolean", {}),
        ("fuel", "select", {"options": ["ev", "petrol"]}),
        ("seen", "datetime", {}),
        ("paid", "currency", {"filterable": True}),
        ("extras", "multi_select", {"options": ["x"]}),
    ]:
        r = await client.post(DEFS, json={"entity": "vehicle", "key": key, "type": type_, **extra})
        assert r.status_code == 201, r.text
    ids = {}
    for label, custom in VALUES.items():
        r = await client.post(URL, json={"make": label, "custom": custom})
        assert r.status_code == 201, r.text
        ids[r.json()["id"]] = label
    return ids


async def labels(client: httpx.AsyncClient, rows: dict[str, str], **params: Any) -> str:
    r = await client.get(URL, params=params)
    assert r.status_code == 200, r.text
    return "".join(rows[x["id"]] for x in r.json()["data"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"custom.budget__gt": "100000", "sort": "make"}, "bd"),
        ({"custom.budget__lt": "21", "sort": "make"}, "ac"),
        ({"custom.budget__gte": "20.5", "custom.budget__lte": "100001", "sort": "make"}, "bc"),
        ({"custom.budget__in": "9,1000000", "sort": "make"}, "ad"),
        ({"sort": "custom.budget"}, "acbde"),
        ({"sort": "-custom.budget"}, "edbca"),
        ({"custom.bought__gt": "2019-12-31", "sort": "make"}, "a"),
        ({"sort": "custom.bought,make"}, "bacde"),
        ({"custom.ok": "true", "sort": "make"}, "a"),
        ({"custom.ok": "false", "sort": "make"}, "b"),
        ({"custom.fuel__in": "ev,petrol", "sort": "make"}, "ab"),
        ({"custom.seen__gt": "2024-01-01T10:30:00Z", "sort": "make"}, "d"),
        ({"custom.paid__gt": "10", "sort": "make"}, "d"),
        ({"sort": "-custom.paid,make"}, "abedc"),
        ({"custom.extras__isnull": "true", "sort": "make"}, "abcde"),
    ],
)
async def test_typed_filters_and_sorts(
    client: httpx.AsyncClient, rows: dict[str, str], params: dict[str, str], expected: str
) -> None:
    assert await labels(client, rows, **params) == expected


async def test_keyset_paging_on_a_custom_number(
    client: httpx.AsyncClient, rows: dict[str, str]
) -> None:
    seen = ""
    params: dict[str, Any] = {"sort": "custom.budget", "limit": 2}
    while True:
        r = (await client.get(URL, params=params)).json()
        seen += "".join(rows[x["id"]] for x in r["data"])
        if not r["next_cursor"]:
            break
        params["cursor"] = r["next_cursor"]
    assert seen == "acbde"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("custom.budget__contains", "1"),
        ("custom.ok__gt", "true"),
        ("custom.fuel__contains", "e"),
        ("custom.seen__in", "2024-01-01"),
        ("custom.budget__gt", "lots"),
        ("custom.extras__eq", "x"),
    ],
)
async def test_operators_outside_the_type_are_400(
    client: httpx.AsyncClient, rows: dict[str, str], param: str, value: str
) -> None:
    r = await client.get(URL, params={param: value})
    assert r.status_code == 400, r.text
    assert [e["field"].split("__")[0] for e in r.json()["errors"]] == [param.split("__")[0]]


async def test_filter_and_sort_first_50_uses_the_expression_index(
    runtime: Runtime, client: httpx.AsyncClient, rows: dict[str, str]
) -> None:
    entity = runtime.plugins.entity("vehicle")
    now = dt.datetime.now(dt.UTC)
    await runtime.db.executemany(
        f"INSERT INTO {entity.tablename} (id, version, created_at, updated_at, make, tags, custom) "
        "VALUES ({}, 1, {}, {}, 'x', '[]', {})",
        [(uuid.uuid4(), now, now, json.dumps({"budget": i})) for i in range(3000)],
    )
    await runtime.db.execute("ANALYZE")
    params = parse_list_params(
        [("custom.budget__gt", "100000"), ("sort", "custom.budget"), ("limit", "50")],
        default_limit=50,
        max_limit=500,
    )
    await runtime.custom_fields.ensure()
    compiled = compile_list(
        runtime.db, entity, params, custom_types=runtime.custom_types, runtime=runtime
    )
    query = (
        f"SELECT t.* FROM {entity.tablename} AS t WHERE {{}} ORDER BY {compiled.order_by} LIMIT 51"
    )
    index = "example_vehicle_cf_budget_idx"
    if runtime.db.kind == "sqlite":
        plan = await runtime.db.fetch(sql("EXPLAIN QUERY PLAN " + query, compiled.where))
        text = " ".join(str(r.get("detail")) for r in plan)
    else:
        async with runtime.db.transaction():
            await runtime.db.execute("SET LOCAL enable_seqscan = off")
            plan = await runtime.db.fetch(sql("EXPLAIN " + query, compiled.where))
        text = " ".join(str(next(iter(r.values()))) for r in plan)
    assert index in text, text
