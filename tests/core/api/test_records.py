"""The record surface of an entity (create, read, patch, delete, restore, duplicate, tabs)
through real HTTP, on both engines, with the example plugin's ``vehicles`` entity."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key, list_keys
from crmkit.core.db.sql import sql

URL = "/api/v1/vehicles"
PROBLEM = "application/problem+json"


# -- helpers ---------------------------------------------------------------------------


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status`` naming every one of ``fields``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    named = [e["field"] for e in body.get("errors", [])]
    for field in fields:
        assert field in named, (field, body)
    return body


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    r = await client.post(URL, json={"make": "Ford", **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def get(client: httpx.AsyncClient, record_id: str, **params: Any) -> httpx.Response:
    return await client.get(f"{URL}/{record_id}", params=params)


async def listed_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await client.get(URL, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [v["id"] for v in r.json()["data"]]


@pytest.fixture
def enabled() -> list[str]:
    """Core and the example plugin only, whatever else is installed."""
    return ["example"]


@pytest.fixture(autouse=True)
async def custom_fields(runtime: Runtime) -> None:
    """The custom fields the vehicles below use (unknown keys are refused)."""
    types = {"colour": "text", "owners": "integer", "paid": "currency", "x": "text", "y": "text"}
    for key, type_ in {**types, "k": "text"}.items():
        await runtime.custom_fields.create({"entity": "vehicle", "key": key, "type": type_})


@pytest.fixture
async def key_id(runtime: Runtime, api_key: str) -> str:
    prefix = api_key.split("_")[1]
    return str(next(k.id for k in await list_keys(runtime) if k.prefix == prefix))


FULL = {
    "make": "Volvo",
    "model": "XC40",
    "year": 2021,
    "vin": " yv1abc123 ",
    "price": "31999.90",
    "electric": True,
    "registered_on": "2021-03-04",
    "status": "reserved",
    "features": ["towbar", "heated seats"],
    "tags": ["  fleet ", "Fleet", "vip", "", "   ", "big   car", "VIP"],
    "custom": {"colour": "red", "owners": 2, "paid": {"amount": 31999.9, "code": "NOK"}},
}


# -- create ----------------------------------------------------------------------------


async def test_create_echoes_fields_with_location_and_etag(
    client: httpx.AsyncClient, key_id: str
) -> None:
    before = dt.datetime.now(dt.UTC)
    r = await client.post(URL, json=FULL)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    rec = r.json()
    record_id = str(uuid.UUID(rec["id"]))
    assert rec["version"] == 1
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"{URL}/{record_id}"

    assert rec["make"] == "Volvo"
    assert rec["model"] == "XC40"
    assert rec["year"] == 2021
    assert rec["vin"] == "YV1ABC123"  # the plugin's before_save normalises it
    assert rec["price"] == "31999.90"  # the column's scale, on both engines
    assert rec["electric"] is True
    assert rec["registered_on"] == "2021-03-04"
    assert rec["status"] == "reserved"
    assert rec["features"] == ["towbar", "heated seats"]
    # trimmed, inner spaces collapsed, empty dropped, de-duplicated case-insensitively
    assert rec["tags"] == ["fleet", "vip", "big car"]
    assert rec["custom"] == FULL["custom"]
    assert rec["deleted_at"] is None
    assert rec["created_by"] == rec["updated_by"] == f"api_key:{key_id}"
    created = dt.datetime.fromisoformat(rec["created_at"])
    assert created.tzinfo is not None
    assert before - dt.timedelta(seconds=5) <= created <= dt.datetime.now(dt.UTC)
    assert rec["updated_at"] == rec["created_at"]

    # the Location resolves to the same record, with the same ETag
    again = await client.get(r.headers["location"])
    assert again.status_code == 200
    assert again.headers["etag"] == r.headers["etag"]
    assert again.json() == rec


async def test_create_minimal_gets_defaults(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    assert rec["make"] == "Ford"
    assert rec["model"] is None
    assert rec["year"] is None
    assert rec["vin"] is None
    assert rec["price"] is None
    assert rec["electric"] is False
    assert rec["registered_on"] is None
    assert rec["status"] == "in_stock"
    assert rec["features"] == []
    assert rec["tags"] == []
    assert rec["custom"] == {}


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("31999.9", "31999.90"),
        (15000, "15000.00"),
        ("1.005", "1.01"),  # rounded half away from zero, like PostgreSQL
        ("-0.004", "0.00"),
        ("2.675", "2.68"),
        (0.1, "0.10"),
        ("9999999999.99", "9999999999.99"),
        ("1E+3", "1000.00"),
    ],
)
async def test_create_numeric_takes_the_column_scale(
    client: httpx.AsyncClient, sent: Any, stored: str
) -> None:
    r = await client.post(URL, json={"make": "Ford", "price": sent})
    assert r.status_code == 201, r.text
    assert r.json()["price"] == stored
    assert (await get(client, r.json()["id"])).json()["price"] == stored
    r = await client.get(URL, params={"price": stored})
    assert len(r.json()["data"]) == 1


@pytest.mark.parametrize(
    "sent", ["12345678901.23", "10000000000", "9999999999.995", 1e300, "-1e12"]
)
async def test_create_numeric_overflow_is_422_on_both_engines(
    client: httpx.AsyncClient, sent: Any
) -> None:
    r = await client.post(URL, json={"make": "Ford", "price": sent})
    problem(r, 422, "price")
    assert await listed_ids(client) == []


async def test_create_stores_tags_in_the_tag_index(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    rec = await create(client, tags=[" a ", "A", "b"])
    rows = await runtime.db.fetch(
        sql(
            "SELECT tag FROM crmkit_record_tag WHERE record_id = {} ORDER BY tag",
            uuid.UUID(rec["id"]),
        )
    )
    assert [r["tag"] for r in rows] == ["a", "b"]


async def test_create_unknown_field_is_422_naming_it(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Ford", "colour": "red"})
    body = problem(r, 422, "colour")
    assert [e["field"] for e in body["errors"]] == ["colour"]
    assert await listed_ids(client) == []


async def test_create_lists_every_bad_field(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "make": "",
            "model": "x" * 101,
            "year": 1500,
            "vin": 12345,
            "price": "cheap",
            "electric": "perhaps",
            "registered_on": "notadate",
            "status": "stolen",
            "features": ["ok", 5, "fine", None],
            "tags": ["good", 7],
            "custom": ["not", "an", "object"],
            "colour": "red",
            "wheels": 4,
        },
    )
    body = problem(
        r,
        422,
        "make",
        "model",
        "year",
        "vin",
        "price",
        "electric",
        "registered_on",
        "status",
        "features[1]",
        "tags[1]",
        "custom",
        "colour",
        "wheels",
    )
    fields = [e["field"] for e in body["errors"]]
    assert len(fields) == len(set(fields)) == 13, fields
    assert all(e["message"] for e in body["errors"])
    assert await listed_ids(client) == []


async def test_create_valid_fields_are_not_reported_next_to_bad_ones(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        URL,
        json={"make": "Ford", "price": 12.5, "registered_on": "2020-01-01", "year": "nope"},
    )
    body = problem(r, 422, "year")
    assert [e["field"] for e in body["errors"]] == ["year"]


@pytest.mark.parametrize("body", [{}, {"model": "Focus", "year": 2020}])
async def test_create_missing_required_field(client: httpx.AsyncClient, body: dict) -> None:
    r = await client.post(URL, json=body)
    body = problem(r, 422, "make")
    assert [e["field"] for e in body["errors"]] == ["make"]


async def test_create_missing_and_unknown_together(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"colour": "red", "year": 3000})
    problem(r, 422, "make", "colour", "year")


async def test_create_null_for_required_field(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": None, "electric": None})
    problem(r, 422, "make", "electric")


@pytest.mark.parametrize(
    "content", [b'{"make": "Ford",', b"{make: Ford}", b'{"make": "Ford"} trailing', b"\xff\xfe"]
)
async def test_create_malformed_json_is_400(client: httpx.AsyncClient, content: bytes) -> None:
    r = await client.post(URL, content=content, headers={"content-type": "application/json"})
    problem(r, 400, "body")
    assert await listed_ids(client) == []


async def test_create_empty_body(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, content=b"", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
    problem(r, r.status_code, "body")
    assert await listed_ids(client) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"make=Ford&year=2020", "application/x-www-form-urlencoded"),
        (b"make: Ford", "text/plain"),
        (b"<vehicle><make>Ford</make></vehicle>", "application/xml"),
    ],
)
async def test_create_wrong_content_is_a_client_error(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    r = await client.post(URL, content=content, headers={"content-type": content_type})
    assert r.status_code in (400, 415, 422), r.text
    problem(r, r.status_code, *(["body"] if r.status_code == 400 else []))
    assert await listed_ids(client) == []


@pytest.mark.parametrize("body", [b'[{"make": "Ford"}]', b"[]", b'"Ford"', b"42", b"null", b"true"])
async def test_create_body_not_an_object(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post(URL, content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
    problem(r, r.status_code, "body")
    assert await listed_ids(client) == []


async def test_create_rejects_too_long_tag(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Ford", "tags": ["ok", "x" * 101]})
    problem(r, 422, "tags[1]")
    assert await listed_ids(client) == []


async def test_create_plugin_veto_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Ford", "price": "-1"})
    problem(r, 422, "price")
    assert await listed_ids(client) == []


async def test_create_needs_a_key(anon: httpx.AsyncClient) -> None:
    r = await anon.post(URL, json={"make": "Ford"})
    problem(r, 401)


# -- read ------------------------------------------------------------------------------


async def test_read_has_etag_and_honours_if_none_match(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2020)
    r = await get(client, rec["id"])
    assert r.status_code == 200
    assert r.headers["etag"] == '"1"'
    assert r.json() == rec

    for tag in ['"1"', 'W/"1"', '"7", "1"', ' "1" ', "*"]:
        r = await client.get(f"{URL}/{rec['id']}", headers={"If-None-Match": tag})
        assert r.status_code == 304, (tag, r.text)
        assert r.content == b""
        assert r.headers["etag"] == '"1"'

    # after a change the old ETag is stale: the new record comes back
    r = await client.patch(f"{URL}/{rec['id']}", json={"year": 2021})
    assert r.status_code == 200
    r = await client.get(f"{URL}/{rec['id']}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 200
    assert r.headers["etag"] == '"2"'
    assert r.json()["year"] == 2021
    r = await client.get(f"{URL}/{rec['id']}", headers={"If-None-Match": '"2"'})
    assert r.status_code == 304


async def test_read_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    r = await get(client, str(uuid.uuid4()))
    problem(r, 404)
    r = await client.get(f"{URL}/{uuid.uuid4()}", headers={"If-None-Match": "*"})
    problem(r, 404)


@pytest.mark.parametrize("bad", ["not-a-uuid", "123", "0f0f", "%27%20OR%201=1"])
async def test_read_non_uuid_id(client: httpx.AsyncClient, bad: str) -> None:
    r = await client.get(f"{URL}/{bad}")
    assert r.status_code in (400, 404), r.text
    problem(r, r.status_code)


async def test_read_needs_a_key(anon: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    rec = await create(client)
    del client.headers["Authorization"]  # anon and client share one connection
    r = await anon.get(f"{URL}/{rec['id']}")
    problem(r, 401)


# -- patch -----------------------------------------------------------------------------


async def test_patch_is_partial_and_bumps_version(client: httpx.AsyncClient) -> None:
    rec = await create(client, **FULL)
    r = await client.patch(f"{URL}/{rec['id']}", json={"year": 2022, "model": "XC60"})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    new = r.json()
    assert new["version"] == 2
    assert new["year"] == 2022
    assert new["model"] == "XC60"
    untouched = {
        k: v for k, v in rec.items() if k not in ("year", "model", "version", "updated_at")
    }
    assert {k: new[k] for k in untouched} == untouched
    assert new["updated_at"] >= rec["updated_at"]
    r = await get(client, rec["id"])
    assert r.json() == new
    assert r.headers["etag"] == '"2"'


async def test_patch_custom_and_tags_replace_the_whole_value(client: httpx.AsyncClient) -> None:
    rec = await create(client, tags=["a", "b"], custom={"x": "1", "y": "2"})
    r = await client.patch(
        f"{URL}/{rec['id']}", json={"tags": [" c ", "C", "a"], "custom": {"x": "9"}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["c", "a"]
    assert r.json()["custom"] == {"x": "9"}
    assert await listed_ids(client, tag="b") == []
    assert await listed_ids(client, tag="c") == [rec["id"]]


async def test_patch_if_match_current_stale_star_and_garbage(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2000)
    url = f"{URL}/{rec['id']}"

    r = await client.patch(url, json={"year": 2001}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2

    r = await client.patch(url, json={"year": 2002}, headers={"If-Match": '"1"'})
    body = problem(r, 412)
    assert body.get("current_version") == 2
    after = (await get(client, rec["id"])).json()
    assert after["year"] == 2001
    assert after["version"] == 2

    r = await client.patch(url, json={"year": 2003}, headers={"If-Match": 'W/"2"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3

    r = await client.patch(url, json={"year": 2004}, headers={"If-Match": "*"})
    assert r.status_code == 200, r.text
    assert r.json()["year"] == 2004
    assert r.json()["version"] == 4

    for garbage in ["yesterday", '"abc"', "W/", '"4" junk']:
        r = await client.patch(url, json={"year": 1999}, headers={"If-Match": garbage})
        problem(r, 400, "If-Match")
    after = (await get(client, rec["id"])).json()
    assert after["year"] == 2004
    assert after["version"] == 4


async def test_patch_without_real_change_keeps_the_version(client: httpx.AsyncClient) -> None:
    rec = await create(client, **FULL)
    url = f"{URL}/{rec['id']}"
    same = {k: FULL[k] for k in ("make", "model", "year", "electric", "registered_on", "status")}
    for body in [
        {},
        same,
        {"price": "31999.9"},  # the same number, written differently
        {"vin": "yv1abc123"},  # normalised by the plugin to the stored value
        {"tags": ["fleet", "vip", "big car"]},
        {"custom": FULL["custom"]},
        {"features": FULL["features"]},
    ]:
        r = await client.patch(url, json=body)
        assert r.status_code == 200, (body, r.text)
        assert r.json()["version"] == 1, body
        assert r.headers["etag"] == '"1"'
        assert r.json()["updated_at"] == rec["updated_at"]
    assert (await get(client, rec["id"])).json() == rec


async def test_patch_nullable_field_to_null(client: httpx.AsyncClient) -> None:
    rec = await create(client, model="Focus", year=2019, price="100", registered_on="2020-02-02")
    r = await client.patch(
        f"{URL}/{rec['id']}", json={"model": None, "year": None, "registered_on": None}
    )
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["model"] is None
    assert new["year"] is None
    assert new["registered_on"] is None
    assert Decimal(str(new["price"])) == Decimal("100")
    assert new["version"] == 2
    assert await listed_ids(client, year__isnull="true") == [rec["id"]]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"make": None}, ["make"]),
        ({"electric": None}, ["electric"]),
        ({"status": None, "tags": None}, ["status", "tags"]),
        ({"make": ""}, ["make"]),
        ({"year": 99999, "colour": "red"}, ["year", "colour"]),
        ({"features": ["a", 1]}, ["features[1]"]),
    ],
)
async def test_patch_invalid_values_are_422_and_change_nothing(
    client: httpx.AsyncClient, body: dict, fields: list[str]
) -> None:
    rec = await create(client, year=2020)
    r = await client.patch(f"{URL}/{rec['id']}", json=body)
    problem(r, 422, *fields)
    assert (await get(client, rec["id"])).json() == rec


async def test_patch_malformed_and_non_object_bodies(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    url = f"{URL}/{rec['id']}"
    r = await client.patch(url, content=b'{"year": ', headers={"content-type": "application/json"})
    problem(r, 400, "body")
    r = await client.patch(url, json=[{"year": 2020}])
    assert r.status_code in (400, 422)
    problem(r, r.status_code, "body")
    assert (await get(client, rec["id"])).json() == rec


async def test_patch_plugin_veto_changes_nothing(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    r = await client.patch(f"{URL}/{rec['id']}", json={"status": "sold"})
    problem(r, 422, "price")
    assert (await get(client, rec["id"])).json() == rec
    r = await client.patch(f"{URL}/{rec['id']}", json={"status": "sold", "price": "999"})
    assert r.status_code == 200
    assert r.json()["status"] == "sold"


async def test_patch_unknown_or_deleted_record_is_404(client: httpx.AsyncClient) -> None:
    r = await client.patch(f"{URL}/{uuid.uuid4()}", json={"year": 2020})
    problem(r, 404)
    rec = await create(client)
    assert (await client.delete(f"{URL}/{rec['id']}")).status_code == 204
    r = await client.patch(f"{URL}/{rec['id']}", json={"year": 2020})
    problem(r, 404)


async def test_concurrent_patches_with_the_same_if_match(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2000)
    url = f"{URL}/{rec['id']}"
    responses = await asyncio.gather(
        *[client.patch(url, json={"year": 2001 + i}, headers={"If-Match": '"1"'}) for i in range(6)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [412] * 5, [r.text for r in responses]
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    final = (await get(client, rec["id"])).json()
    assert final["version"] == 2
    assert final["year"] == winner["year"]


async def test_concurrent_patches_of_different_fields_all_apply(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    url = f"{URL}/{rec['id']}"
    bodies = [
        {"model": "Kuga"},
        {"year": 2020},
        {"vin": "abc"},
        {"price": "10"},
        {"registered_on": "2020-01-01"},
        {"tags": ["t"]},
        {"custom": {"k": "v"}},
    ]
    responses = await asyncio.gather(*[client.patch(url, json=b) for b in bodies])
    assert [r.status_code for r in responses] == [200] * len(bodies), [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 2 + len(bodies)))
    final = (await get(client, rec["id"])).json()
    assert final["version"] == 1 + len(bodies)
    assert (final["model"], final["year"], final["vin"], final["price"]) == (
        "Kuga",
        2020,
        "ABC",
        "10.00",
    )
    assert (final["registered_on"], final["tags"], final["custom"]) == (
        "2020-01-01",
        ["t"],
        {"k": "v"},
    )


async def test_concurrent_creates(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *[client.post(URL, json={"make": f"M{i}", "tags": ["c"]}) for i in range(20)]
    )
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert len(set(await listed_ids(client, tag="c"))) == 20


# -- delete and restore ------------------------------------------------------------------


async def test_soft_delete_and_restore(client: httpx.AsyncClient) -> None:
    keep = await create(client, make="Audi")
    rec = await create(client, tags=["vip"])
    url = f"{URL}/{rec['id']}"

    r = await client.delete(url)
    assert r.status_code == 204
    assert r.content == b""

    problem(await client.get(url), 404)
    assert await listed_ids(client) == [keep["id"]]
    assert await listed_ids(client, tag="vip") == []
    r = await client.get(URL, params={"count": "true"})
    assert r.json()["total"] == 1

    assert set(await listed_ids(client, include_deleted="true")) == {keep["id"], rec["id"]}
    r = await client.get(url, params={"include_deleted": "true"})
    assert r.status_code == 200
    deleted = r.json()
    assert deleted["deleted_at"] is not None
    assert deleted["version"] == 2
    assert r.headers["etag"] == '"2"'
    assert await listed_ids(client, deleted_at__isnull="false") == [rec["id"]]

    # deleting again: it is gone already
    problem(await client.delete(url), 404)

    r = await client.post(f"{url}/restore")
    assert r.status_code == 200, r.text
    restored = r.json()
    assert restored["deleted_at"] is None
    assert restored["version"] == 3
    assert r.headers["etag"] == '"3"'
    assert restored["tags"] == ["vip"]
    assert (await client.get(url)).json() == restored
    assert set(await listed_ids(client)) == {keep["id"], rec["id"]}
    assert await listed_ids(client, tag="vip") == [rec["id"]]

    # restoring a live record changes nothing
    r = await client.post(f"{url}/restore")
    assert r.status_code == 200
    assert r.json()["version"] == 3


async def test_delete_with_if_match(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    url = f"{URL}/{rec['id']}"
    await client.patch(url, json={"year": 2020})
    problem(await client.delete(url, headers={"If-Match": '"1"'}), 412)
    assert (await client.get(url)).status_code == 200
    problem(await client.delete(url, headers={"If-Match": "nonsense"}), 400, "If-Match")
    assert (await client.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    problem(await client.get(url), 404)


async def test_delete_and_restore_unknown_ids(client: httpx.AsyncClient) -> None:
    problem(await client.delete(f"{URL}/{uuid.uuid4()}"), 404)
    problem(await client.post(f"{URL}/{uuid.uuid4()}/restore"), 404)
    problem(await client.delete(f"{URL}/{uuid.uuid4()}", params={"hard": "true"}), 404)


async def test_hard_delete_removes_for_good(client: httpx.AsyncClient, runtime: Runtime) -> None:
    rec = await create(client, tags=["x"])
    other = await create(client, tags=["x"])
    url = f"{URL}/{rec['id']}"
    r = await client.delete(url, params={"hard": "true"})
    assert r.status_code == 204
    problem(await client.get(url, params={"include_deleted": "true"}), 404)
    assert await listed_ids(client, include_deleted="true") == [other["id"]]
    assert await listed_ids(client, tag="x") == [other["id"]]
    problem(await client.post(f"{url}/restore"), 404)
    rows = await runtime.db.fetch(
        sql("SELECT tag FROM crmkit_record_tag WHERE record_id = {}", uuid.UUID(rec["id"]))
    )
    assert rows == []
    assert (
        await runtime.db.fetchval(
            sql("SELECT COUNT(*) AS n FROM example_vehicle WHERE id = {}", uuid.UUID(rec["id"]))
        )
        == 0
    )


async def test_hard_delete_of_a_soft_deleted_record(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    url = f"{URL}/{rec['id']}"
    assert (await client.delete(url)).status_code == 204
    assert (await client.delete(url, params={"hard": "true"})).status_code == 204
    problem(await client.get(url, params={"include_deleted": "true"}), 404)
    assert await listed_ids(client, include_deleted="true") == []


async def test_hard_delete_needs_an_admin(client: httpx.AsyncClient, runtime: Runtime) -> None:
    rec = await create(client)
    _, agent_key = await create_key(runtime, name="agent", role="agent")
    url = f"{URL}/{rec['id']}"
    r = await client.delete(
        url, params={"hard": "true"}, headers={"Authorization": f"Bearer {agent_key}"}
    )
    problem(r, 403)
    assert (await client.get(url)).status_code == 200
    # a soft delete is fine for an agent
    r = await client.delete(url, headers={"Authorization": f"Bearer {agent_key}"})
    assert r.status_code == 204
    r = await client.get(url, params={"include_deleted": "true"})
    assert r.status_code == 200


# -- duplicate ---------------------------------------------------------------------------


async def test_duplicate_copies_writable_fields(client: httpx.AsyncClient) -> None:
    rec = await create(client, **FULL)
    await client.patch(f"{URL}/{rec['id']}", json={"year": 2022})
    original = (await get(client, rec["id"])).json()

    r = await client.post(f"{URL}/{rec['id']}/duplicate")
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["id"] != rec["id"]
    assert r.headers["location"] == f"{URL}/{copy['id']}"
    assert r.headers["etag"] == '"1"'
    assert copy["version"] == 1
    for name in FULL:
        if name == "price":
            assert Decimal(str(copy[name])) == Decimal(str(original[name]))
        else:
            assert copy[name] == original[name], name
    assert copy["tags"] == ["fleet", "vip", "big car"]
    assert copy["custom"] == FULL["custom"]
    assert copy["year"] == 2022
    assert copy["created_at"] > original["created_at"]

    assert (await get(client, rec["id"])).json() == original
    assert (await client.get(r.headers["location"])).json() == copy
    assert set(await listed_ids(client, tag="vip")) == {rec["id"], copy["id"]}


async def test_duplicate_with_overrides(client: httpx.AsyncClient) -> None:
    rec = await create(client, **FULL)
    r = await client.post(
        f"{URL}/{rec['id']}/duplicate",
        json={"vin": "newvin", "tags": ["copy", " Copy "], "year": None, "custom": {"k": "v"}},
    )
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["vin"] == "NEWVIN"
    assert copy["tags"] == ["copy"]
    assert copy["year"] is None
    assert copy["custom"] == {"k": "v"}
    assert copy["make"] == "Volvo"
    assert copy["model"] == "XC40"
    assert copy["features"] == FULL["features"]
    assert (await get(client, rec["id"])).json() == rec
    assert await listed_ids(client, tag="copy") == [copy["id"]]


async def test_duplicate_errors(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    problem(await client.post(f"{URL}/{uuid.uuid4()}/duplicate"), 404)
    r = await client.post(f"{URL}/{rec['id']}/duplicate", json={"make": None, "colour": "red"})
    problem(r, 422, "make", "colour")
    r = await client.post(f"{URL}/{rec['id']}/duplicate", json={"status": "sold"})
    problem(r, 422, "price")
    assert await listed_ids(client) == [rec["id"]]
    await client.delete(f"{URL}/{rec['id']}")
    problem(await client.post(f"{URL}/{rec['id']}/duplicate"), 404)


# -- tabs --------------------------------------------------------------------------------


async def test_tabs_list_details_first_then_log_with_counts(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2020)
    await client.patch(f"{URL}/{rec['id']}", json={"year": 2021})
    await client.patch(f"{URL}/{rec['id']}", json={"model": "Kuga"})
    r = await client.get(f"{URL}/{rec['id']}/tabs")
    assert r.status_code == 200, r.text
    tabs = r.json()
    assert [t["key"] for t in tabs] == ["details", "log"]
    details, log = tabs
    assert details["count"] == 1
    assert details["title"] == "Details"
    assert details["href"] == f"{URL}/{rec['id']}/tabs/details"
    assert log["title"] == "Change log"
    assert log["count"] == 3
    assert log["href"] == f"{URL}/{rec['id']}/tabs/log"

    other = await create(client)
    tabs = (await client.get(f"{URL}/{other['id']}/tabs")).json()
    assert {t["key"]: t["count"] for t in tabs} == {"details": 1, "log": 1}


async def test_tab_pages(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2020)
    await client.patch(f"{URL}/{rec['id']}", json={"year": 2021})
    await client.patch(f"{URL}/{rec['id']}", json={"model": "Kuga", "tags": ["t"]})

    r = await client.get(f"{URL}/{rec['id']}/tabs/log")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["key"] == "log"
    assert [i["action"] for i in page["data"]] == ["update", "update", "create"]
    assert page["data"][0]["fields"].split(",") == ["model", "tags"]
    assert page["data"][1]["fields"] == "year"
    assert "make" in page["data"][2]["fields"].split(",")

    r = await client.get(f"{URL}/{rec['id']}/tabs/log", params={"limit": 1})
    assert r.status_code == 200
    assert [i["fields"] for i in r.json()["data"]] == ["model,tags"]

    r = await client.get(f"{URL}/{rec['id']}/tabs/details")
    assert r.status_code == 200
    (item,) = r.json()["data"]
    assert item["id"] == rec["id"]
    assert item["model"] == "Kuga"
    assert item["version"] == 3


async def test_tab_errors(client: httpx.AsyncClient) -> None:
    rec = await create(client)
    problem(await client.get(f"{URL}/{rec['id']}/tabs/nope"), 404)
    problem(await client.get(f"{URL}/{uuid.uuid4()}/tabs"), 404)
    problem(await client.get(f"{URL}/{uuid.uuid4()}/tabs/log"), 404)
    problem(await client.get(f"{URL}/{uuid.uuid4()}/overview"), 404)
    problem(await client.get(f"{URL}/{rec['id']}/tabs/log", params={"limit": 0}), 400)
    problem(await client.get(f"{URL}/{rec['id']}/tabs/log", params={"limit": "x"}), 400)
    await client.delete(f"{URL}/{rec['id']}")
    problem(await client.get(f"{URL}/{rec['id']}/tabs"), 404)


async def test_overview(client: httpx.AsyncClient) -> None:
    rec = await create(client, year=2020, tags=["vip"])
    for year in range(2021, 2028):
        await client.patch(f"{URL}/{rec['id']}", json={"year": year})
    r = await client.get(f"{URL}/{rec['id']}/overview")
    assert r.status_code == 200, r.text
    body = r.json()
    current = (await get(client, rec["id"])).json()
    assert body["record"] == current
    assert [t["key"] for t in body["tabs"]] == ["details", "log"]
    details, log = body["tabs"]
    assert details["count"] == 1
    assert [i["id"] for i in details["items"]] == [rec["id"]]
    assert log["count"] == 8
    assert len(log["items"]) == 5  # the default number of first items
    assert all(i["action"] == "update" for i in log["items"])
    assert log["href"] == f"{URL}/{rec['id']}/tabs/log"

    r = await client.get(f"{URL}/{rec['id']}/overview", params={"limit": 2})
    assert [len(t["items"]) for t in r.json()["tabs"]] == [1, 2]
    problem(await client.get(f"{URL}/{rec['id']}/overview", params={"limit": 51}), 400)
