"""``GET /api/v1/<plural>/export``: each format, filters and ``q``, field permissions,
the export grant, saved searches, and a streamed response in batches."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import httpx
import msgspec
import pytest
import vobject
from crmkit.core import SYSTEM, Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.transfer.columns import column_model
from crmkit.core.transfer.export import BATCH
from litestar import Litestar

PEOPLE = "/api/v1/individuals"
SKIP = {"X-Skip-Duplicate-Check": "true"}
SECRET_TITLE = "Astronautzz"
SECRET_SALARY = 987654


def _csv(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def _person(client: httpx.AsyncClient, **values: Any) -> dict[str, Any]:
    r = await client.post(PEOPLE, json=values, headers=SKIP)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
async def people(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.post(
        "/api/v1/custom-fields",
        json={"entity": "individual", "key": "budget", "type": "number", "filterable": True},
    )
    assert r.status_code == 201, r.text
    return [
        await _person(
            client,
            first_name="Kari",
            last_name="Ødegård",
            type="customer",
            tags=["vip"],
            emails=[{"address": "kari@acme.example", "label": "work"}, {"address": "k@h.example"}],
            phones=[{"number": "+4791234567"}],
            birthday="1980-05-17",
            custom={"budget": 1500},
        ),
        await _person(client, first_name="Ola", last_name="Berg", type="prospect"),
        await _person(client, first_name="José", last_name="García", type="customer"),
    ]


async def test_csv(client: httpx.AsyncClient, runtime: Runtime, people: list) -> None:
    r = await client.get(f"{PEOPLE}/export", params={"sort": "last_name"})
    header, rows = _csv(r)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert r.headers["content-disposition"] == f'attachment; filename="individuals-{today}.csv"'
    model = await column_model(
        runtime, runtime.plugins.entity("individual"), sizes={"emails": 2, "phones": 1}
    )
    assert header == model.header  # two email columns: Kari has two
    assert header[:3] == ["id", "first_name", "last_name"]
    assert {"email_2", "email_2_label", "custom.budget", "organization"} <= set(header)
    assert "email_3" not in header and "phone_2" not in header
    assert [row["last_name"] for row in rows] == ["Berg", "García", "Ødegård"]
    kari = rows[2]
    assert (kari["id"], kari["email_1"], kari["email_1_label"]) == (
        people[0]["id"],
        "kari@acme.example",
        "work",
    )
    assert (kari["email_2"], kari["phone_1"], kari["tags"]) == ("k@h.example", "+4791234567", "vip")
    assert (kari["birthday"], kari["custom.budget"], kari["status"]) == (
        "1980-05-17",
        "1500",
        "active",
    )


async def test_jsonl_is_the_read_shape(client: httpx.AsyncClient, people: list) -> None:
    r = await client.get(f"{PEOPLE}/export", params={"format": "jsonl", "sort": "first_name"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["content-disposition"].endswith('.jsonl"')
    lines = r.text.splitlines()
    assert r.text.endswith("\n") and len(lines) == 3
    listed = (await client.get(PEOPLE, params={"sort": "first_name"})).json()["data"]
    assert [json.loads(line) for line in lines] == listed


async def test_vcf_parses_with_vobject(client: httpx.AsyncClient, people: list) -> None:
    r = await client.get(f"{PEOPLE}/export", params={"format": "vcf", "type": "customer"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/vcard")
    cards = list(vobject.readComponents(r.text))
    assert sorted(c.fn.value for c in cards) == ["José García", "Kari Ødegård"]
    kari = next(c for c in cards if c.n.value.given == "Kari")
    assert kari.version.value == "4.0"
    assert [e.value for e in kari.contents["email"]] == ["kari@acme.example", "k@h.example"]
    assert kari.uid.value == f"urn:uuid:{people[0]['id']}"


async def test_vcf_is_for_individuals_only(client: httpx.AsyncClient) -> None:
    for url, params in [
        ("/api/v1/organizations/export", {"format": "vcf"}),
        (f"{PEOPLE}/export", {"format": "xlsx"}),
    ]:
        r = await client.get(url, params=params)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["format"]


async def test_filters_q_sort_and_limit(client: httpx.AsyncClient, people: list) -> None:
    async def names(**params: str) -> list[str]:
        _, rows = _csv(await client.get(f"{PEOPLE}/export", params=params))
        return [row["first_name"] for row in rows]

    assert await names(type="customer", sort="first_name") == ["José", "Kari"]
    assert await names(tag="vip") == ["Kari"]
    assert await names(**{"custom.budget__gte": "1000"}) == ["Kari"]
    assert await names(q="garcia") == ["José"]
    assert await names(email="kari@acme.example") == ["Kari"]
    assert await names(sort="-first_name", limit="2") == ["Ola", "Kari"]
    assert await names(type="nobody") == []
    # without a sort: id order (index order, the same cost for every page)
    _, rows = _csv(await client.get(f"{PEOPLE}/export"))
    assert [row["id"] for row in rows] == sorted(p["id"] for p in people)
    r = await client.get(f"{PEOPLE}/export", params={"type": "nobody"})
    assert r.content.decode("utf-8-sig").count("\r\n") == 1  # the header, alone


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"nope": "1"}, "nope"),
        ({"type__between": "a"}, "type__between"),
        ({"sort": "nope"}, "sort"),
        ({"cursor": "abc"}, "cursor"),
        ({"count": "true"}, "count"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_bad_parameters_are_a_400_before_any_byte(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    r = await client.get(f"{PEOPLE}/export", params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]} or field in r.json()["detail"]


async def test_saved_search(client: httpx.AsyncClient, people: list) -> None:
    r = await client.post(
        "/api/v1/saved-searches",
        json={"entity": "individual", "name": "Customers", "filters": [["type", "customer"]]},
    )
    assert r.status_code == 201, r.text
    saved = r.json()["id"]
    for ref in (saved, "Customers"):
        _, rows = _csv(await client.get(f"{PEOPLE}/export", params={"saved": ref}))
        assert sorted(row["first_name"] for row in rows) == ["José", "Kari"]
    # the request's own filters add to the saved ones
    _, rows = _csv(await client.get(f"{PEOPLE}/export", params={"saved": saved, "tag": "vip"}))
    assert [row["first_name"] for row in rows] == ["Kari"]
    r = await client.get(f"{PEOPLE}/export", params={"saved": str(uuid.uuid4())})
    assert r.status_code == 404, r.text


async def _rule(client: httpx.AsyncClient, field: str, roles: list[str]) -> None:
    r = await client.put(
        f"/api/v1/field-permissions/individual/{field}",
        json={"read_roles": roles, "write_roles": roles},
    )
    assert r.status_code == 200, r.text


async def test_hidden_fields_are_neither_columns_nor_values(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/custom-fields",
        json={"entity": "individual", "key": "salary", "type": "number", "read_roles": ["manager"]},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/roles", json={"name": "exporter", "grants": {"*": ["read", "export"]}}
    )
    assert r.status_code == 201, r.text
    for field in ("job_title", "emails"):
        await _rule(client, field, ["manager"])
    await _person(
        client,
        first_name="Kari",
        last_name="Nordmann",
        job_title=SECRET_TITLE,
        emails=[{"address": "kari@hidden-domain.example"}],
        custom={"salary": SECRET_SALARY},
    )
    _, exporter = await create_key(runtime, name="exporter", role="exporter")
    _, manager = await create_key(runtime, name="manager", role="manager")
    for fmt in ("csv", "jsonl", "vcf"):
        r = await client.get(
            f"{PEOPLE}/export",
            params={"format": fmt},
            headers={"Authorization": f"Bearer {exporter}"},
        )
        assert r.status_code == 200, r.text
        text = r.content.decode("utf-8-sig")
        for secret in (SECRET_TITLE, "hidden-domain", str(SECRET_SALARY)):
            assert secret not in text, (fmt, secret)
        assert "Nordmann" in text
        if fmt == "csv":
            header = next(csv.reader(io.StringIO(text)))
            assert not {"job_title", "email_1", "email_1_label", "custom.salary"} & set(header)
            assert {"first_name", "department", "phone_1"} <= set(header)
    # a filter on a hidden field is the 400 of a field that does not exist
    r = await client.get(
        f"{PEOPLE}/export",
        params={"job_title": SECRET_TITLE},
        headers={"Authorization": f"Bearer {exporter}"},
    )
    assert r.status_code == 400, r.text
    header, rows = _csv(
        await client.get(f"{PEOPLE}/export", headers={"Authorization": f"Bearer {manager}"})
    )
    assert {"job_title", "email_1", "custom.salary"} <= set(header)
    assert rows[0]["job_title"] == SECRET_TITLE and rows[0]["custom.salary"] == str(SECRET_SALARY)


async def test_export_needs_the_export_grant(client: httpx.AsyncClient, runtime: Runtime) -> None:
    for role in ("viewer", "agent"):
        _, key = await create_key(runtime, name=role, role=role)
        headers = {"Authorization": f"Bearer {key}"}
        assert (await client.get(PEOPLE, headers=headers)).status_code == 200
        r = await client.get(f"{PEOPLE}/export", headers=headers)
        assert r.status_code == 403, r.text
        assert r.json()["required"] == "individual:export"
    assert (await client.get(f"{PEOPLE}/export", headers={"Authorization": ""})).status_code == 401


async def _vehicles(runtime: Runtime, count: int) -> None:
    """``count`` vehicles in one statement (the export, not the inserts, is under test)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        (uuid.uuid4(), 1, now, now, "[]", "{}", f"Make {i:05d}", 2000 + i % 20, '["abs"]')
        for i in range(count)
    ]
    await runtime.db.executemany(
        "INSERT INTO example_vehicle (id, version, created_at, updated_at, tags, custom, make, "
        "year, features) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        rows,
    )


async def _asgi_get(app: Litestar, path: str, query: str, key: str) -> tuple[dict, list[bytes]]:
    """The response start and each body message, as the server sends them."""
    messages: list[dict[str, Any]] = []
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    return start, [m.get("body", b"") for m in messages if m["type"] == "http.response.body"]


async def test_a_large_export_streams_in_batches(
    app: Litestar, runtime: Runtime, api_key: str
) -> None:
    count = 2 * BATCH + 500
    await _vehicles(runtime, count)
    for fmt in ("csv", "jsonl"):
        start, bodies = await _asgi_get(app, "/api/v1/vehicles/export", f"format={fmt}", api_key)
        assert start["status"] == 200
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        assert "content-length" not in headers  # streamed (chunked), not one buffer
        chunks = [b for b in bodies if b]
        # a chunk per page of BATCH records (and the header row first for CSV)
        assert len(chunks) == 3 + (fmt == "csv"), [len(c) for c in chunks]
        text = b"".join(chunks).decode("utf-8-sig")
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert rows[0][:3] == ["id", "make", "model"] and len(rows) == count + 1
            assert len({row[0] for row in rows[1:]}) == count  # no page twice
        else:
            records = [msgspec.json.decode(line) for line in text.splitlines()]
            assert len(records) == count
            assert len({r["id"] for r in records}) == count


async def test_a_vehicle_export_without_the_individuals(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await runtime.records("vehicle").create(
        {"make": "Tesla", "features": ["a;b", "c"], "electric": True}, actor=SYSTEM
    )
    header, rows = _csv(await client.get("/api/v1/vehicles/export"))
    assert header == [
        "id", "make", "model", "year", "vin", "price", "electric", "registered_on", "status",
        "features", "tags",
    ]  # fmt: skip
    assert (rows[0]["features"], rows[0]["electric"]) == ("a\\;b;c", "true")


async def test_the_openapi_document_describes_the_export(anon: httpx.AsyncClient) -> None:
    doc = (await anon.get("/schema/openapi.json")).json()
    operation = doc["paths"]["/api/v1/individuals/export"]["get"]
    assert operation["operationId"] == "export_individuals"
    assert set(operation["responses"]["200"]["content"]) == {"text/csv", "application/x-ndjson"}
    assert {"400", "401", "403", "404"} <= set(operation["responses"])
    names = {p["name"] for p in operation["parameters"]}
    assert {"format", "q", "sort", "include_deleted", "saved"} <= names
