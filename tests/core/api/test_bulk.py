"""``POST /api/v1/<plural>/bulk``: every action by ids and by query, all or nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from crmkit.core import SYSTEM, Runtime, ValidationFailed
from crmkit.core.apikeys import create_key
from crmkit.core.bulk import MAX_RECORDS, run_bulk
from crmkit.core.db.sql import sql

from tests import example_plugin

VEHICLES = "/api/v1/vehicles"
BULK = f"{VEHICLES}/bulk"


async def _vehicles(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for body in bodies:
        r = await client.post(VEHICLES, json=body)
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


async def _fleet(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return await _vehicles(
        client,
        {"make": "Volvo", "model": "240", "price": "1000", "tags": ["old"]},
        {"make": "Volvo", "model": "740", "price": "2000"},
        {"make": "Saab", "model": "900", "price": "3000", "tags": ["Old", "rare"]},
    )


async def _get(client: httpx.AsyncClient, record_id: str, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{VEHICLES}/{record_id}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _bulk_entries(runtime: Runtime, entity: str = "vehicle") -> dict[str, int]:
    """Activity change entries with source ``bulk``, counted by record."""
    rows = await runtime.db.fetch(
        sql(
            "SELECT r.record_id AS record_id, COUNT(*) AS n FROM activity a "
            "JOIN activity_record r ON r.activity_id = a.id "
            "WHERE a.source = 'bulk' AND r.entity = {} GROUP BY r.record_id",
            entity,
        )
    )
    return {str(r["record_id"]): r["n"] for r in rows}


async def _activity_count(runtime: Runtime) -> int:
    return await runtime.db.fetchval("SELECT COUNT(*) AS n FROM activity")


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- update ------------------------------------------------------------------------------


async def test_update_by_ids(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, c = await _fleet(client)
    r = await client.post(
        BULK, json={"action": "update", "ids": [a["id"], b["id"], a["id"]], "set": {"year": 1990}}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "action": "update",
        "matched": 2,
        "changed": 2,
        "errors": [],
        "dry_run": False,
    }
    assert [(await _get(client, x["id"]))["year"] for x in (a, b, c)] == [1990, 1990, None]
    assert (await _get(client, a["id"]))["version"] == a["version"] + 1
    assert await _bulk_entries(runtime) == {a["id"]: 1, b["id"]: 1}
    # the before_save hooks ran (the example plugin upper-cases VINs)
    r = await client.post(BULK, json={"action": "update", "ids": [c["id"]], "set": {"vin": "yv1"}})
    assert r.status_code == 200, r.text
    assert (await _get(client, c["id"]))["vin"] == "YV1"

    # an update that changes nothing is matched, not changed, and logs nothing
    before = await _activity_count(runtime)
    r = await client.post(
        BULK, json={"action": "update", "ids": [a["id"], b["id"]], "set": {"year": 1990}}
    )
    assert r.json()["matched"] == 2 and r.json()["changed"] == 0
    assert await _activity_count(runtime) == before
    assert (await _get(client, a["id"]))["version"] == a["version"] + 1


async def test_a_bulk_update_writes_what_a_patch_writes(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """The batched writes follow the record service: same row, tag index, event, log."""
    body = {"make": "Volvo", "model": "240", "vin": "abc", "tags": ["old"]}
    patched, bulked = await _vehicles(client, body, body)
    change = {"year": 1990, "vin": " yv1 ", "tags": ["Old", "rare", "rare"], "features": ["abs"]}
    r = await client.patch(f"{VEHICLES}/{patched['id']}", json=change)
    assert r.status_code == 200, r.text
    r = await client.post(BULK, json={"action": "update", "ids": [bulked["id"]], "set": change})
    assert r.status_code == 200, r.text

    def same(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k not in ("id", "created_at", "updated_at")}

    assert same(await _get(client, bulked["id"])) == same(await _get(client, patched["id"]))
    for tag in ("rare", "Old"):  # the tag index
        r = await client.get(VEHICLES, params={"tag": tag})
        assert {x["id"] for x in r.json()["data"]} == {patched["id"], bulked["id"]}, tag

    async def last_entry(record_id: str) -> dict[str, Any]:
        r = await client.get(f"{VEHICLES}/{record_id}/activity")
        assert r.status_code == 200, r.text
        return r.json()["data"][0]

    one, many = await last_entry(patched["id"]), await last_entry(bulked["id"])
    assert (one["source"], many["source"]) == ("api", "bulk")
    assert many["data"]["changes"] == one["data"]["changes"]
    assert many["summary"] == one["summary"]
    logs = await runtime.db.fetch(
        "SELECT vehicle_id, action, fields FROM example_vehicle_log WHERE action = 'update'"
    )
    fields = {str(x["vehicle_id"]): x["fields"] for x in logs}
    assert fields[bulked["id"]] == fields[patched["id"]] == "year,vin,features,tags"


async def test_update_by_query(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, c = await _fleet(client)
    r = await client.post(
        BULK, json={"action": "update", "query": {"make": "Volvo"}, "set": {"status": "reserved"}}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["changed"]) == (2, 2)
    statuses = [(await _get(client, x["id"]))["status"] for x in (a, b, c)]
    assert statuses == ["reserved", "reserved", "in_stock"]
    # q, operators and lists, as in a list's query string
    r = await client.post(
        BULK,
        json={
            "action": "update",
            "query": {"q": "saab", "price__gte": 2500, "model__in": ["900", "9000"]},
            "set": {"electric": True},
        },
    )
    assert (r.json()["matched"], r.json()["changed"]) == (1, 1), r.text
    assert (await _get(client, c["id"]))["electric"] is True
    assert set(await _bulk_entries(runtime)) == {a["id"], b["id"], c["id"]}


async def test_custom_values_merge_into_each_record(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    for key, kind in (("colour", "text"), ("mileage", "integer")):
        r = await client.post(
            "/api/v1/custom-fields",
            json={"entity": "vehicle", "key": key, "label": key, "type": kind},
        )
        assert r.status_code == 201, r.text
    a, b = await _vehicles(
        client,
        {"make": "Volvo", "custom": {"colour": "red"}},
        {"make": "Saab", "custom": {"colour": "blue", "mileage": 5}},
    )
    r = await client.post(
        BULK,
        json={"action": "update", "ids": [a["id"], b["id"]], "set": {"custom": {"mileage": 7}}},
    )
    assert r.status_code == 200, r.text
    assert (await _get(client, a["id"]))["custom"] == {"colour": "red", "mileage": 7}
    assert (await _get(client, b["id"]))["custom"] == {"colour": "blue", "mileage": 7}
    # a bad custom value is refused once, before any record is touched
    r = await client.post(
        BULK,
        json={
            "action": "update",
            "ids": [a["id"]],
            "set": {"custom": {"mileage": "far", "nope": 1}},
        },
    )
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"set.custom.mileage", "set.custom.nope"}


async def test_every_problem_of_set_is_listed_and_nothing_is_written(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    (a, *_) = await _fleet(client)
    before = await _activity_count(runtime)
    r = await client.post(
        BULK,
        json={
            "action": "update",
            "ids": [a["id"]],
            "set": {"make": "", "year": "old", "colour": "red"},
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == {"set.make", "set.year", "set.colour"}
    for body, field in [
        ({"action": "update", "ids": [a["id"]], "set": {}}, "set"),
        ({"action": "update", "ids": [a["id"]]}, "set"),
        ({"action": "update", "set": {"year": 2000}}, "ids"),
        ({"action": "update", "ids": [a["id"]], "query": {}, "set": {"year": 2000}}, "ids"),
        ({"action": "update", "ids": [], "set": {"year": 2000}}, "ids"),
        ({"action": "update", "ids": ["nope"], "set": {"year": 2000}}, "ids[0]"),
        ({"action": "explode", "ids": [a["id"]]}, "action"),
        ({"ids": [a["id"]]}, "action"),
        ({"action": "delete", "ids": [a["id"]], "set": {}}, "set"),
        ({"action": "add_tags", "ids": [a["id"]], "tags": []}, "tags"),
        ({"action": "delete", "query": {"limit": 5}}, "query.limit"),
        ({"action": "delete", "query": {"make": {"a": 1}}}, "query.make"),
    ]:
        r = await client.post(BULK, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.text)
    r = await client.post(BULK, content=b"{not json")
    assert r.status_code == 400, r.text
    r = await client.post(BULK, json={"action": "delete", "query": {"colour": "red"}})
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["query.colour"]
    assert (await _get(client, a["id"]))["version"] == a["version"]
    assert await _activity_count(runtime) == before


async def test_a_record_that_fails_names_itself_and_nothing_is_written(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    a, b = await _vehicles(client, {"make": "Volvo", "price": "10"}, {"make": "Saab"})
    c, d = await _vehicles(client, {"make": "Fiat"}, {"make": "Lada", "price": "5"})
    before = await _activity_count(runtime)
    r = await client.post(
        BULK,
        json={
            "action": "update",
            "ids": [x["id"] for x in (a, b, c, d)],
            "set": {"status": "sold"},
        },
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["matched"] == 4 and body["changed"] == 0
    assert body["errors"] == [
        {"id": b["id"], "field": "price", "message": "required when sold"},
        {"id": c["id"], "field": "price", "message": "required when sold"},
    ]
    for x in (a, b, c, d):
        assert (await _get(client, x["id"]))["status"] == "in_stock"
    assert await _activity_count(runtime) == before


async def test_unknown_ids_are_named_and_nothing_is_written(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    a, b, _ = await _fleet(client)
    ghost = str(uuid.uuid4())
    r = await client.post(BULK, json={"action": "delete", "ids": [a["id"]]})
    assert r.status_code == 200, r.text
    before = await _activity_count(runtime)
    r = await client.post(
        BULK,
        json={"action": "update", "ids": [a["id"], b["id"], ghost], "set": {"year": 2001}},
    )
    assert r.status_code == 422, r.text
    assert {(e["id"], e["field"]) for e in r.json()["errors"]} == {
        (a["id"], "ids"),  # deleted: not a target of an update
        (ghost, "ids"),
    }
    assert (await _get(client, b["id"]))["year"] is None
    assert await _activity_count(runtime) == before


async def test_too_many_ids_is_a_422(client: httpx.AsyncClient) -> None:
    ids = [str(uuid.uuid4()) for _ in range(MAX_RECORDS + 1)]
    r = await client.post(BULK, json={"action": "delete", "ids": ids})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["ids"]


# -- dry run -------------------------------------------------------------------------------


async def test_dry_run_writes_nothing(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, c = await _fleet(client)
    before = await _activity_count(runtime)
    committed = len(example_plugin.COMMITTED)
    r = await client.post(
        BULK,
        json={
            "action": "update",
            "ids": [a["id"], b["id"], c["id"], str(uuid.uuid4())],
            "set": {"model": "740"},
            "dry_run": True,
        },
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["dry_run"] is True
    assert (result["matched"], result["changed"]) == (3, 2)  # b is a 740 already: no change
    assert [s["id"] for s in result["sample"]] == [a["id"], b["id"], c["id"]]
    assert result["sample"][0]["display"] == "Volvo 240"
    assert [e["field"] for e in result["errors"]] == ["ids"]  # the unknown id
    for x in (a, b, c):
        now = await _get(client, x["id"])
        assert (now["version"], now["status"], now["model"]) == (
            x["version"],
            "in_stock",
            x["model"],
        )
    assert await _activity_count(runtime) == before
    assert len(example_plugin.COMMITTED) == committed  # nothing announced after commit

    # the problems a real run would meet are listed instead of raised
    (d,) = await _vehicles(client, {"make": "Lada"})
    before = await _activity_count(runtime)
    r = await client.post(
        BULK,
        json={"action": "update", "query": {}, "set": {"status": "sold"}, "dry_run": True},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["changed"]) == (4, 3)
    assert r.json()["errors"] == [
        {"id": d["id"], "field": "price", "message": "required when sold"}
    ]
    assert await _activity_count(runtime) == before


# -- delete, restore, tags -------------------------------------------------------------------


async def test_delete_and_restore(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, c = await _fleet(client)
    r = await client.post(BULK, json={"action": "delete", "ids": [a["id"], b["id"]]})
    assert (r.status_code, r.json()["changed"]) == (200, 2), r.text
    r = await client.get(VEHICLES)
    assert [x["id"] for x in r.json()["data"]] == [c["id"]]
    # already deleted: matched, not changed
    r = await client.post(BULK, json={"action": "delete", "ids": [a["id"]]})
    assert (r.json()["matched"], r.json()["changed"]) == (1, 0)
    # by query: the deleted ones it matches
    r = await client.post(BULK, json={"action": "restore", "query": {"model": "240"}})
    assert (r.json()["matched"], r.json()["changed"]) == (1, 1), r.text
    r = await client.post(BULK, json={"action": "restore", "ids": [b["id"], c["id"]]})
    assert (r.json()["matched"], r.json()["changed"]) == (2, 1), r.text
    r = await client.get(VEHICLES)
    assert len(r.json()["data"]) == 3
    r = await client.post(BULK, json={"action": "delete", "query": {"make": "Volvo"}})
    assert (r.json()["matched"], r.json()["changed"]) == (2, 2), r.text
    assert (await _get(client, a["id"], include_deleted="true"))["deleted_at"] is not None
    assert await _bulk_entries(runtime) == {a["id"]: 3, b["id"]: 3}  # c never changed


async def test_add_and_remove_tags(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, _, c = await _fleet(client)
    r = await client.post(
        BULK, json={"action": "add_tags", "ids": [a["id"], c["id"]], "tags": [" old ", "sale"]}
    )
    assert (r.status_code, r.json()["changed"]) == (200, 2), r.text
    assert (await _get(client, a["id"]))["tags"] == ["old", "sale"]
    assert (await _get(client, c["id"]))["tags"] == ["Old", "rare", "sale"]
    r = await client.post(BULK, json={"action": "add_tags", "ids": [a["id"]], "tags": ["SALE"]})
    assert r.json()["changed"] == 0
    r = await client.get(VEHICLES, params={"tag": "sale"})
    assert {x["id"] for x in r.json()["data"]} == {a["id"], c["id"]}  # the tag index too

    r = await client.post(
        BULK, json={"action": "remove_tags", "query": {"tag": "sale"}, "tags": ["OLD"]}
    )
    assert (r.json()["matched"], r.json()["changed"]) == (2, 2), r.text
    assert (await _get(client, a["id"]))["tags"] == ["sale"]
    assert (await _get(client, c["id"]))["tags"] == ["rare", "sale"]
    r = await client.post(BULK, json={"action": "remove_tags", "query": {}, "tags": ["sale"]})
    assert (r.json()["matched"], r.json()["changed"]) == (3, 2), r.text
    r = await client.get(VEHICLES, params={"tag": "sale"})
    assert r.json()["data"] == []
    assert await _bulk_entries(runtime) == {a["id"]: 3, c["id"]: 3}
    r = await client.post(
        BULK, json={"action": "add_tags", "query": {"make": "Saab"}, "tags": ["nordic"]}
    )
    assert (r.json()["matched"], r.json()["changed"]) == (1, 1), r.text
    assert (await _get(client, c["id"]))["tags"] == ["rare", "nordic"]


# -- permissions ------------------------------------------------------------------------------


async def test_permissions(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, _ = await _fleet(client)
    keys = {role: (await create_key(runtime, name=role, role=role))[1] for role in
            ("viewer", "agent", "manager")}  # fmt: skip
    body = {"action": "update", "ids": [a["id"]], "set": {"year": 2000}}
    for role in ("viewer", "agent"):  # neither has ``bulk``
        r = await client.post(BULK, json=body, headers=_as(keys[role]))
        assert r.status_code == 403, r.text
        assert r.json()["required"] == "vehicle:bulk"
    r = await client.post(BULK, json=body, headers=_as(keys["manager"]))
    assert r.status_code == 200, r.text

    # bulk, but not the action's own permission
    r = await client.post(
        "/api/v1/roles",
        json={"name": "bulk_reader", "grants": {"*": ["read", "bulk"]}},
    )
    assert r.status_code == 201, r.text
    _, bulk_reader = await create_key(runtime, name="br", role="bulk_reader")
    for body_, required in [
        (body, "vehicle:update"),
        ({"action": "add_tags", "ids": [a["id"]], "tags": ["x"]}, "vehicle:update"),
        ({"action": "delete", "ids": [a["id"]]}, "vehicle:delete"),
        ({"action": "restore", "query": {}}, "vehicle:delete"),
    ]:
        r = await client.post(BULK, json=body_, headers=_as(bulk_reader))
        assert r.status_code == 403, r.text
        assert r.json()["required"] == required

    # bulk and update, but a field the role may not write
    r = await client.put("/api/v1/field-permissions/vehicle/price", json={"write_roles": ["admin"]})
    assert r.status_code == 200, r.text
    r = await client.post(
        BULK,
        json={"action": "update", "ids": [a["id"], b["id"]], "set": {"price": "5", "year": 2001}},
        headers=_as(keys["manager"]),
    )
    assert r.status_code == 403, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["price"]
    assert (await _get(client, b["id"]))["year"] is None
    r = await client.post(
        BULK,
        json={"action": "update", "ids": [b["id"]], "set": {"year": 1999}},
        headers=_as(keys["manager"]),
    )
    assert r.status_code == 200, r.text


async def test_own_scope_reaches_only_own_records(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        "/api/v1/roles",
        json={"name": "own_bulk", "grants": {"*": ["read", "create", "update", "bulk"]},
              "scope": "own"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _, key = await create_key(runtime, name="own", role="own_bulk")
    theirs = (await _fleet(client))[0]
    r = await client.post(VEHICLES, json={"make": "Mine"}, headers=_as(key))
    mine = r.json()
    r = await client.post(
        BULK,
        json={"action": "update", "ids": [mine["id"], theirs["id"]], "set": {"year": 2000}},
        headers=_as(key),
    )
    assert r.status_code == 422, r.text
    assert [(e["id"], e["field"]) for e in r.json()["errors"]] == [(theirs["id"], "ids")]
    r = await client.post(
        BULK,
        json={"action": "update", "query": {}, "set": {"year": 2000}},
        headers=_as(key),
    )
    assert (r.json()["matched"], r.json()["changed"]) == (1, 1), r.text
    assert (await _get(client, theirs["id"]))["year"] is None


# -- 10,000 records ---------------------------------------------------------------------------


async def _seed_vehicles(runtime: Runtime, count: int, *, priceless: int) -> list[str]:
    """``count`` vehicles in one statement; the ``priceless``-th (1-based) has no price."""
    now = dt.datetime.now(dt.UTC)
    ids = [uuid.uuid4() for _ in range(count)]
    await runtime.db.executemany(
        "INSERT INTO example_vehicle (id, version, created_at, updated_at, created_by, "
        "updated_by, make, model, price, electric, status, tags, custom, features) "
        "VALUES ({}, 1, {}, {}, 'seed', 'seed', {}, {}, {}, {}, 'in_stock', '[]', '{{}}', '[]')",
        [
            (
                record_id,
                now,
                now,
                "Volvo",
                f"M{i}",
                None if i + 1 == priceless else Decimal(1000 + i),
                False,
            )
            for i, record_id in enumerate(ids)
        ],
    )
    return [str(i) for i in ids]


async def _statuses(runtime: Runtime) -> dict[str, int]:
    rows = await runtime.db.fetch(
        "SELECT status, COUNT(*) AS n FROM example_vehicle GROUP BY status"
    )
    return {r["status"]: r["n"] for r in rows}


async def test_ten_thousand_records_all_or_nothing(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    ids = await _seed_vehicles(runtime, MAX_RECORDS, priceless=MAX_RECORDS - 1)
    versions = await runtime.db.fetchval("SELECT SUM(version) AS n FROM example_vehicle")
    logs = await runtime.db.fetchval("SELECT COUNT(*) AS n FROM example_vehicle_log")
    before = await _activity_count(runtime)

    # the 9,999th record fails its before_save rule: nothing is changed
    r = await client.post(BULK, json={"action": "update", "ids": ids, "set": {"status": "sold"}})
    assert r.status_code == 422, r.text
    assert r.json()["matched"] == MAX_RECORDS
    assert r.json()["errors"] == [
        {"id": ids[MAX_RECORDS - 2], "field": "price", "message": "required when sold"}
    ]
    assert await _statuses(runtime) == {"in_stock": MAX_RECORDS}
    assert await runtime.db.fetchval("SELECT SUM(version) AS n FROM example_vehicle") == versions
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM example_vehicle_log") == logs
    assert await _activity_count(runtime) == before

    # fixed, the same call changes all 10,000, each with its activity entry
    await runtime.records("vehicle").update(
        uuid.UUID(ids[MAX_RECORDS - 2]), {"price": Decimal(1)}, actor=SYSTEM
    )
    r = await client.post(BULK, json={"action": "update", "ids": ids, "set": {"status": "sold"}})
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["changed"]) == (MAX_RECORDS, MAX_RECORDS)
    assert await _statuses(runtime) == {"sold": MAX_RECORDS}
    entries = await _bulk_entries(runtime)
    assert len(entries) == MAX_RECORDS and set(entries.values()) == {1}

    # a query matching more than 10,000 is refused, whole
    await _seed_vehicles(runtime, 1, priceless=0)
    r = await client.post(BULK, json={"action": "delete", "query": {"make": "Volvo"}})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["query"]
    assert (
        await runtime.db.fetchval(
            "SELECT COUNT(*) AS n FROM example_vehicle WHERE deleted_at IS NOT NULL"
        )
        == 0
    )


# -- plugin actions: organisations ------------------------------------------------------------


async def _people(client: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for i in range(count):
        r = await client.post(
            "/api/v1/individuals",
            json={"first_name": "Kari", "last_name": f"Nordmann{i}"},
            headers={"X-Skip-Duplicate-Check": "true"},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def _links(client: httpx.AsyncClient, person: str) -> list[tuple[str, str | None]]:
    r = await client.get(
        f"/api/v1/individuals/{person}/organizations", params={"include_ended": "true"}
    )
    assert r.status_code == 200, r.text
    return [(x["organization"]["name"], x["role"]) for x in r.json()["data"]]


async def test_link_and_unlink_organization(runtime: Runtime, client: httpx.AsyncClient) -> None:
    a, b, c = await _people(client, 3)
    r = await client.post("/api/v1/organizations", json={"name": "Acme"})
    acme = r.json()["id"]
    url = "/api/v1/individuals/bulk"
    r = await client.post(
        url,
        json={"action": "link_organization", "ids": [a, b], "organization_id": acme, "role": "CTO"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["changed"]) == (2, 2)
    assert await _links(client, a) == [("Acme", "CTO")]
    person = (await client.get(f"/api/v1/individuals/{a}")).json()
    assert [o["name"] for o in person["organizations"]] == ["Acme"]

    # by query; those already linked in that role are left as they are
    r = await client.post(
        url,
        json={
            "action": "link_organization",
            "query": {"q": "kari"},
            "organization_id": acme,
            "role": "cto",
        },
    )
    assert (r.json()["matched"], r.json()["changed"]) == (3, 1), r.text
    assert await _links(client, c) == [("Acme", "cto")]
    linked = await _bulk_entries(runtime, "individual")  # each link: on the person and Acme
    assert set(linked) == {a, b, c} and len(set(linked.values())) == 1
    assert list(await _bulk_entries(runtime, "organization")) == [acme]

    # an unknown organisation is a 422 naming the parameter; nothing is written
    r = await client.post(
        url,
        json={"action": "link_organization", "ids": [a], "organization_id": str(uuid.uuid4())},
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["organization_id"]

    r = await client.post(
        url, json={"action": "unlink_organization", "ids": [a, c], "organization_id": acme}
    )
    assert (r.json()["matched"], r.json()["changed"]) == (2, 2), r.text
    assert await _links(client, a) == [] and await _links(client, c) == []
    assert await _links(client, b) == [("Acme", "CTO")]
    r = await client.post(
        url, json={"action": "unlink_organization", "query": {}, "organization_id": acme}
    )
    assert (r.json()["matched"], r.json()["changed"]) == (3, 1), r.text
    assert await _bulk_entries(runtime, "individual") == {x: 2 * linked[a] for x in (a, b, c)}

    # they need update on individuals and read on organisations, besides bulk
    r = await client.post(
        "/api/v1/roles",
        json={"name": "no_orgs", "grants": {"*": ["read", "update", "bulk"], "organization": []}},
    )
    assert r.status_code == 201, r.text
    _, key = await create_key(runtime, name="no_orgs", role="no_orgs")
    r = await client.post(
        url,
        json={"action": "link_organization", "ids": [a], "organization_id": acme},
        headers=_as(key),
    )
    assert r.status_code == 403, r.text
    assert r.json()["required"] == "organization:read"


async def test_the_service_without_the_api(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    one = await records.create({"make": "Volvo"}, actor=SYSTEM)
    result = await run_bulk(
        runtime, "vehicle", "add_tags", ids=[one["id"]], params={"tags": ["a"]}, actor=SYSTEM
    )
    assert (result.matched, result.changed) == (1, 1)
    assert (await records.get(one["id"]))["tags"] == ["a"]
    with pytest.raises(ValidationFailed, match="name the records"):
        await run_bulk(runtime, "vehicle", "delete")


async def test_the_openapi_document_shows_every_action(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    operation = doc["paths"]["/api/v1/individuals/bulk"]["post"]
    assert operation["operationId"] == "bulk_individuals"
    refs = [
        s["$ref"].rsplit("/", 1)[1]
        for s in operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    ]
    assert refs == [
        "IndividualBulkUpdate",
        "IndividualBulkDelete",
        "IndividualBulkRestore",
        "IndividualBulkAddTags",
        "IndividualBulkRemoveTags",
        "IndividualBulkLinkOrganization",
        "IndividualBulkUnlinkOrganization",
    ]
    schemas = doc["components"]["schemas"]
    link = schemas["IndividualBulkLinkOrganization"]
    assert link["properties"]["action"]["const"] == "link_organization"
    assert {"organization_id", "role", "ids", "query", "dry_run"} <= set(link["properties"])
    assert schemas["IndividualBulkUpdate"]["properties"]["set"]["$ref"].endswith("IndividualPatch")
    assert "VehicleBulkLinkOrganization" not in schemas
    assert json.dumps(doc["paths"]["/api/v1/vehicles/bulk"]["post"]["responses"]["200"])
