"""Changing a custom field's type: dry run, refusal, forced apply, activity, indexes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import SYSTEM, Runtime
from crmkit.core.custom_fields.coerce import coerce
from crmkit.core.custom_fields.definitions import Definition
from crmkit.core.custom_fields.types import BUILTIN_FIELD_TYPES

DEFS = "/api/v1/custom-fields"
URL = "/api/v1/vehicles"
TYPES = {t.name: t for t in BUILTIN_FIELD_TYPES}


def fields(r: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def define(client: httpx.AsyncClient, key: str, type_: str, **extra: Any) -> dict[str, Any]:
    r = await client.post(DEFS, json={"entity": "vehicle", "key": key, "type": type_, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def make(client: httpx.AsyncClient, label: str, custom: dict[str, Any]) -> str:
    r = await client.post(URL, json={"make": label, "custom": custom})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def read(client: httpx.AsyncClient, rid: str) -> dict[str, Any]:
    r = await client.get(f"{URL}/{rid}")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
async def counts(client: httpx.AsyncClient) -> dict[str, Any]:
    """A text field with "12", " 7 ", "abc", a soft-deleted "5" and a record without it."""
    d = await define(client, "n", "text", filterable=True, validation={"max_length": 20})
    ids = {
        "twelve": await make(client, "a", {"n": "12"}),
        "seven": await make(client, "b", {"n": " 7 "}),
        "abc": await make(client, "c", {"n": "abc"}),
        "five": await make(client, "d", {"n": "5"}),
        "none": await make(client, "e", {}),
    }
    assert (await client.delete(f"{URL}/{ids['five']}")).status_code == 204
    return {"definition": d, "ids": ids, "url": f"{DEFS}/{d['id']}/change-type"}


async def test_dry_run_is_the_default_and_changes_nothing(
    client: httpx.AsyncClient, counts: dict[str, Any]
) -> None:
    r = await client.post(counts["url"], json={"type": "integer"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["type_from"] == "text" and report["type_to"] == "integer"
    assert report["applied"] is False
    assert (report["records"], report["convertible"], report["unconvertible"]) == (4, 3, 1)
    assert report["failures"] == [
        {"record_id": counts["ids"]["abc"], "value": "abc", "message": "expected a number"}
    ]
    d = (await client.get(f"{DEFS}/{counts['definition']['id']}")).json()
    assert d["type"] == "text" and d["version"] == 1
    assert (await read(client, counts["ids"]["twelve"]))["custom"] == {"n": "12"}


async def test_apply_with_failures_is_refused_without_force(
    client: httpx.AsyncClient, counts: dict[str, Any]
) -> None:
    r = await client.post(counts["url"], json={"type": "integer", "dry_run": False})
    assert r.status_code == 409, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["unconvertible"] == 1 and body["applied"] is False
    assert [f["value"] for f in body["failures"]] == ["abc"]
    assert "force" in fields(r)
    d = (await client.get(f"{DEFS}/{counts['definition']['id']}")).json()
    assert d["type"] == "text" and d["version"] == 1  # rolled back, all of it
    assert (await read(client, counts["ids"]["twelve"]))["custom"] == {"n": "12"}
    r = await client.get(f"{URL}/{counts['ids']['twelve']}/activity")
    assert [e["data"]["action"] for e in r.json()["data"]] == ["create"]


async def test_forced_apply_converts_and_sets_aside(
    runtime: Runtime, client: httpx.AsyncClient, counts: dict[str, Any]
) -> None:
    ids, did = counts["ids"], counts["definition"]["id"]
    before = await read(client, ids["twelve"])
    r = await client.post(counts["url"], json={"type": "integer", "dry_run": False, "force": True})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["applied"] is True and report["set_aside"] == 1
    assert (report["records"], report["convertible"], report["changed"]) == (4, 3, 3)
    d = report["definition"]
    assert d["type"] == "integer" and d["version"] == 2
    assert d["validation"] == {}  # max_length does not apply to a number
    # every value converted, the soft-deleted one too; "abc" left the record
    twelve = await read(client, ids["twelve"])
    assert twelve["custom"] == {"n": 12} and twelve["version"] == before["version"] + 1
    assert (await read(client, ids["seven"]))["custom"] == {"n": 7}
    assert (await read(client, ids["abc"]))["custom"] == {}
    five = await runtime.records("vehicle").get(ids["five"], include_deleted=True)
    assert five["custom"] == {"n": 5} and five["deleted_at"] is not None
    # ... and was moved aside, recoverable
    r = await client.get(f"{DEFS}/{did}/unconverted")
    assert r.status_code == 200, r.text
    [entry] = r.json()["data"]
    assert (entry["record_id"], entry["value"], entry["type_from"], entry["type_to"]) == (
        ids["abc"],
        "abc",
        "text",
        "integer",
    )
    assert entry["message"] == "expected a number"
    # one activity entry per changed record, in the same transaction
    r = await client.get(f"{URL}/{ids['twelve']}/activity")
    latest = r.json()["data"][0]
    assert latest["data"]["changes"] == [{"field": "custom.n", "old": "12", "new": 12}]
    assert latest["summary"] == "custom.n: 12 → 12 (converted from text to integer)"
    r = await client.get(f"{URL}/{ids['abc']}/activity")
    aside = r.json()["data"][0]
    assert aside["data"]["changes"] == [{"field": "custom.n", "old": "abc", "new": None}]
    assert "set aside" in aside["summary"]
    assert (await client.get(f"{URL}/{ids['none']}/activity")).json()["data"][0]["data"][
        "action"
    ] == "create"
    # the field now filters as a number (8 < 12 numerically; "12" < "8" as text)
    r = await client.get(URL, params={"custom.n__gt": "8"})
    assert [x["id"] for x in r.json()["data"]] == [ids["twelve"]]
    # and writes are validated against the new type
    r = await client.patch(f"{URL}/{ids['abc']}", json={"custom": {"n": "x"}})
    assert r.status_code == 422 and set(fields(r)) == {"custom.n"}
    r = await client.patch(f"{URL}/{ids['abc']}", json={"custom": {"n": 3}})
    assert r.status_code == 200 and r.json()["custom"] == {"n": 3}
    # a record removed for good takes its set-aside value with it
    assert (await client.delete(f"{URL}/{ids['abc']}", params={"hard": "true"})).status_code == 204
    assert (await client.get(f"{DEFS}/{did}/unconverted")).json()["data"] == []


async def test_select_and_multi_select_round_trip(client: httpx.AsyncClient) -> None:
    d = await define(client, "fuel", "select", options=["ev", "petrol", "gas"])
    one = await make(client, "one", {"fuel": "ev"})
    two = await make(client, "two", {"fuel": "petrol"})
    url = f"{DEFS}/{d['id']}/change-type"
    r = await client.post(url, json={"type": "multi_select", "dry_run": False})
    assert r.status_code == 200, r.text
    assert r.json()["definition"]["options"] == d["options"]  # kept when not sent
    assert (await read(client, one))["custom"] == {"fuel": ["ev"]}
    r = await client.get(URL, params={"custom.fuel__contains": "ev"})
    assert [x["id"] for x in r.json()["data"]] == [one]  # the value index was rebuilt
    r = await client.patch(f"{URL}/{two}", json={"custom": {"fuel": ["petrol", "gas"]}})
    assert r.status_code == 200, r.text
    report = (await client.post(url, json={"type": "select"})).json()
    assert (report["convertible"], report["unconvertible"]) == (1, 1)
    assert report["failures"][0]["message"] == "has 2 values; a select field holds one"
    r = await client.post(url, json={"type": "select", "dry_run": False})
    assert r.status_code == 409
    r = await client.patch(f"{URL}/{two}", json={"custom": {"fuel": ["gas"]}})
    r = await client.post(url, json={"type": "select", "dry_run": False})
    assert r.status_code == 200, r.text
    assert (await read(client, two))["custom"] == {"fuel": "gas"}
    r = await client.get(URL, params={"custom.fuel__in": "gas,ev", "sort": "make"})
    assert [x["id"] for x in r.json()["data"]] == [one, two]


async def test_text_to_select_keeps_only_options(client: httpx.AsyncClient) -> None:
    d = await define(client, "colour", "text")
    red = await make(client, "red", {"colour": "red"})
    await make(client, "teal", {"colour": "teal"})
    url = f"{DEFS}/{d['id']}/change-type"
    r = await client.post(url, json={"type": "select"})
    assert r.status_code == 422 and set(fields(r)) == {"options"}
    r = await client.post(url, json={"type": "select", "options": ["red", "blue"]})
    report = r.json()
    assert (report["convertible"], report["unconvertible"]) == (1, 1)
    assert report["failures"][0]["value"] == "teal"
    assert report["failures"][0]["message"] == "must be one of: red, blue"
    assert (await read(client, red))["custom"] == {"colour": "red"}


async def test_number_to_text_and_default(client: httpx.AsyncClient) -> None:
    d = await define(client, "km", "number", default=10, sortable=True)
    rid = await make(client, "x", {"km": 20.5})
    url = f"{DEFS}/{d['id']}/change-type"
    r = await client.post(url, json={"type": "text", "dry_run": False})
    assert r.status_code == 200, r.text
    assert r.json()["definition"]["default"] == "10"
    assert (await read(client, rid))["custom"] == {"km": "20.5"}
    r = await client.post(f"{DEFS}/{d['id']}/change-type", json={"type": "boolean"})
    assert r.status_code == 422 and "default" in fields(r)
    r = await client.post(url, json={"type": "boolean", "default": None})
    assert r.status_code == 200 and r.json()["unconvertible"] == 1


async def test_bad_requests(client: httpx.AsyncClient) -> None:
    d = await define(client, "k", "text")
    url = f"{DEFS}/{d['id']}/change-type"
    r = await client.post(url, json={"type": "text"})
    assert r.status_code == 422 and fields(r) == {"type": "is already text"}
    r = await client.post(url, json={"type": "hologram"})
    assert r.status_code == 422 and set(fields(r)) == {"type"}
    r = await client.post(url, json={"type": "integer", "bogus": 1})
    assert r.status_code == 422
    r = await client.post(
        url, json={"type": "integer", "dry_run": False}, headers={"If-Match": '"7"'}
    )
    assert r.status_code == 412
    missing = "00000000-0000-0000-0000-000000000000"
    assert (
        await client.post(f"{DEFS}/{missing}/change-type", json={"type": "text"})
    ).status_code == 404
    # PATCH still refuses a type change and says where to go
    r = await client.patch(f"{DEFS}/{d['id']}", json={"type": "integer"})
    assert r.status_code == 422 and "change-type" in fields(r)["type"]
    await client.delete(f"{DEFS}/{d['id']}")
    assert (await client.post(url, json={"type": "integer"})).status_code == 409


async def test_the_expression_index_follows_the_type(
    runtime: Runtime, client: httpx.AsyncClient, counts: dict[str, Any]
) -> None:
    async def indexdef() -> str:
        name = "example_vehicle_cf_n_idx"
        if runtime.db.kind == "sqlite":
            return str(
                await runtime.db.fetchval(
                    f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{name}'"
                )
            )
        return str(
            await runtime.db.fetchval(f"SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'")
        )

    assert "numeric" not in await indexdef()
    r = await client.post(counts["url"], json={"type": "number", "dry_run": False, "force": True})
    assert r.status_code == 200, r.text
    # (SQLite's expression is the same json_extract for text and numbers)
    expected = "json_extract(custom, '$.n')" if runtime.db.kind == "sqlite" else "::numeric"
    assert expected in await indexdef()


async def test_many_records_use_batched_statements(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    d = await define(client, "q", "text")
    records = runtime.records("vehicle")

    for i in range(30):
        await records.create({"make": f"m{i}", "custom": {"q": str(i)}}, actor=SYSTEM)
    before = runtime.db.queries
    r = await client.post(
        f"{DEFS}/{d['id']}/change-type", json={"type": "integer", "dry_run": False}
    )
    assert r.status_code == 200 and r.json()["changed"] == 30
    used = runtime.db.queries - before
    # the activity plugin writes two rows per event; the rest is per batch or per request
    # (the search index: the definitions read again once, its rows replaced per batch)
    assert used <= 2 * 30 + 20, used


@pytest.mark.parametrize(
    ("value", "type_", "options", "expected"),
    [
        ("12", "integer", None, 12),
        (" 2.50 ", "number", None, 2.5),
        (12, "text", None, "12"),
        (20.5, "long_text", None, "20.5"),
        (True, "text", None, "true"),
        ("yes", "boolean", None, True),
        (0, "boolean", None, False),
        ("a", "multi_select", ["a", "b"], ["a"]),
        (["b"], "select", ["a", "b"], "b"),
        ([], "select", ["a"], None),
        (["a", "b"], "text", None, "a, b"),
        ("2024-01-02T23:30:00+00:00", "date", None, "2024-01-02"),
        ("2024-01-02", "datetime", None, "2024-01-02T00:00:00.000000+00:00"),
        ({"amount": 9.5, "code": "EUR"}, "number", None, 9.5),
        ({"amount": 9.5, "code": "EUR"}, "text", None, "9.5 EUR"),
        ("12.50 nok", "currency", None, {"amount": 12.5, "code": "NOK"}),
    ],
)
def test_conversions(value: Any, type_: str, options: list[str] | None, expected: Any) -> None:
    definition = Definition(
        id=uuid.uuid4(),
        entity="vehicle",
        key="k",
        label="K",
        type=type_,
        options=[{"value": o, "label": o} for o in options or []],
    )
    assert coerce(value, TYPES[type_], definition) == expected


@pytest.mark.parametrize(
    ("value", "type_", "message"),
    [
        ("abc", "integer", "expected a number"),
        (2.5, "integer", "expected a whole number"),
        (True, "number", "true/false is not a number"),
        ("maybe", "boolean", "cannot tell whether 'maybe' means true or false"),
        (["a", "b"], "select", "has 2 values; a select field holds one"),
        (12, "currency", "a money amount needs a currency code (like '12.50 EUR')"),
        ("x", "date", "expected an ISO 8601 date (YYYY-MM-DD)"),
    ],
)
def test_failed_conversions(value: Any, type_: str, message: str) -> None:
    definition = Definition(
        id=uuid.uuid4(),
        entity="vehicle",
        key="k",
        label="K",
        type=type_,
        options=[{"value": "a", "label": "a"}, {"value": "b", "label": "b"}],
    )
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        coerce(value, TYPES[type_], definition)
