"""Hidden fields stay hidden on every path a value can leave by; unwritable ones are a 403;
"own records" scope; the rate limit."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest
from crmkit.core import Runtime
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.core.db.sql import sql

from tests.conftest import make_settings

SECRET_TITLE = "Astronautzz"
SECRET_EMAIL = "kari@hidden-domain.example"
SECRET_SALARY = 987654


async def _rule(
    runtime: Runtime, entity: str, field: str, read: list[str], write: list[str]
) -> None:
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_field_permission (entity, field, read_roles, write_roles, "
            "updated_at) VALUES ({}, {}, {}, {}, CURRENT_TIMESTAMP)",
            entity,
            field,
            json.dumps(read),
            json.dumps(write),
        )
    )
    runtime.permissions.invalidate()


def _as(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def setup(runtime: Runtime, client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/custom-fields",
        json={
            "entity": "individual",
            "key": "salary",
            "label": "Salary",
            "type": "number",
            "filterable": True,
            "sortable": True,
            "read_roles": ["manager"],
            "write_roles": ["manager"],
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/custom-fields",
        json={"entity": "individual", "key": "shoe_size", "label": "Shoe", "type": "integer"},
    )
    assert r.status_code == 201, r.text
    await _rule(runtime, "individual", "job_title", ["manager"], ["manager"])
    await _rule(runtime, "individual", "emails", ["manager"], ["manager"])
    await _rule(runtime, "individual", "department", [], ["manager"])  # readable, not writable
    r = await client.post(
        "/api/v1/individuals",
        json={
            "first_name": "Kari",
            "last_name": "Nordmann",
            "job_title": SECRET_TITLE,
            "department": "Space",
            "emails": [{"address": SECRET_EMAIL}],
            "custom": {"salary": SECRET_SALARY, "shoe_size": 38},
        },
    )
    assert r.status_code == 201, r.text
    person = r.json()
    # a change to the hidden fields, for the activity log
    r = await client.patch(
        f"/api/v1/individuals/{person['id']}",
        json={
            "job_title": SECRET_TITLE + "2",
            "custom": {"salary": SECRET_SALARY + 1, "shoe_size": 38},
        },
    )
    assert r.status_code == 200, r.text
    keys = {}
    for role in ("viewer", "agent", "manager"):
        _, keys[role] = await create_key(runtime, name=role, role=role)
    return {"id": person["id"], "keys": keys}


def _leaks(text: str) -> list[str]:
    secrets = [
        SECRET_TITLE,
        SECRET_EMAIL,
        "hidden-domain",
        str(SECRET_SALARY),
        str(SECRET_SALARY + 1),
    ]
    return [s for s in secrets if s in text]


async def test_a_viewer_never_receives_a_hidden_value(
    client: httpx.AsyncClient, setup: dict
) -> None:
    pid, viewer = setup["id"], _as(client, setup["keys"]["viewer"])
    urls = [
        f"/api/v1/individuals/{pid}",
        "/api/v1/individuals",
        "/api/v1/individuals?limit=500",
        f"/api/v1/individuals/{pid}/tabs",
        f"/api/v1/individuals/{pid}/tabs/details",
        f"/api/v1/individuals/{pid}/tabs/activity",
        f"/api/v1/individuals/{pid}/overview",
        f"/api/v1/individuals/{pid}/activity",
        "/api/v1/activities",
        f"/api/v1/activities?entity=individual&record_id={pid}",
        f"/api/v1/individuals/{pid}/vcard",
        f"/api/v1/individuals/{pid}.vcf",
        f"/api/v1/individuals/{pid}/duplicates",
    ]
    for url in urls:
        r = await client.get(url, headers=viewer)
        assert r.status_code == 200, (url, r.text)
        assert not _leaks(r.text), (url, _leaks(r.text))
    record = (await client.get(f"/api/v1/individuals/{pid}", headers=viewer)).json()
    assert "job_title" not in record and "emails" not in record
    assert record["custom"] == {"shoe_size": 38}
    assert record["department"] == "Space"  # readable, only not writable
    # the manager (a reader) and the admin see them all
    for key in (setup["keys"]["manager"],):
        full = (await client.get(f"/api/v1/individuals/{pid}", headers=_as(client, key))).json()
        assert full["job_title"] == SECRET_TITLE + "2"
        assert full["custom"]["salary"] == SECRET_SALARY + 1
    # the activity of the change is there, without the hidden parts
    timeline = (await client.get(f"/api/v1/individuals/{pid}/activity", headers=viewer)).json()
    changes = [c["field"] for e in timeline["data"] for c in e["data"].get("changes", [])]
    assert "custom.shoe_size" in changes
    assert not {"job_title", "emails", "custom.salary"} & set(changes)


async def test_hidden_fields_cannot_filter_sort_or_search(
    client: httpx.AsyncClient, setup: dict
) -> None:
    viewer = _as(client, setup["keys"]["viewer"])
    manager = _as(client, setup["keys"]["manager"])

    async def problem(params: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        r = await client.get("/api/v1/individuals", params=params, headers=headers)
        assert r.status_code == 400, (params, r.text)
        return r.json()

    for field, unknown, value in [
        ("job_title", "no_such_field", "x"),
        ("custom.salary__gt", "custom.no_such__gt", "1"),
        ("email", "no_such_filter", SECRET_EMAIL),
        ("email_domain", "no_such_filter", "hidden-domain.example"),
    ]:
        hidden = await problem({field: value}, viewer)
        other = await problem({unknown: value}, viewer)
        # the same answer as for a field that does not exist: no side channel
        assert hidden["title"] == other["title"]
        assert hidden["detail"].replace(field.split("__")[0], "?") == other["detail"].replace(
            unknown.split("__")[0], "?"
        )
    await problem({"sort": "job_title"}, viewer)
    await problem({"sort": "-custom.salary"}, viewer)
    # search does not look into hidden fields ...
    r = await client.get("/api/v1/individuals", params={"q": SECRET_TITLE}, headers=viewer)
    assert r.status_code == 200 and r.json()["data"] == []
    r = await client.get("/api/v1/individuals", params={"q": "hidden-domain"}, headers=viewer)
    assert r.status_code == 200 and r.json()["data"] == []
    # ... for readers who may see them it does, and they may filter and sort
    r = await client.get("/api/v1/individuals", params={"q": SECRET_TITLE}, headers=manager)
    assert [p["id"] for p in r.json()["data"]] == [setup["id"]]
    r = await client.get(
        "/api/v1/individuals",
        params={"custom.salary__gt": "1", "sort": "-custom.salary"},
        headers=manager,
    )
    assert [p["id"] for p in r.json()["data"]] == [setup["id"]]


async def test_unwritable_fields_are_a_403_naming_them_and_hidden_values_survive(
    client: httpx.AsyncClient, setup: dict
) -> None:
    pid, agent = setup["id"], _as(client, setup["keys"]["agent"])
    url = f"/api/v1/individuals/{pid}"
    cases = [
        ({"job_title": "Pilot"}, "job_title"),
        ({"department": "Sales"}, "department"),
        ({"custom": {"salary": 1}}, "custom.salary"),
        ({"emails": [{"address": "a@b.no"}]}, "emails"),
    ]
    for body, field in cases:
        r = await client.patch(url, json=body, headers=agent)
        assert r.status_code == 403, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == [field]
        r = await client.post(
            "/api/v1/individuals", json={"first_name": "A", "last_name": "B", **body}, headers=agent
        )
        assert r.status_code == 403, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    # a readable-but-not-writable value sent back unchanged is fine
    r = await client.patch(url, json={"department": "Space", "first_name": "Kari"}, headers=agent)
    assert r.status_code == 200, r.text
    # a patch of `custom` keeps the values the agent cannot see or write
    r = await client.patch(url, json={"custom": {"shoe_size": 39}}, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["custom"] == {"shoe_size": 39}
    full = (await client.get(url)).json()
    assert full["custom"] == {"shoe_size": 39, "salary": SECRET_SALARY + 1}
    assert full["job_title"] == SECRET_TITLE + "2"
    assert full["emails"][0]["address"] == SECRET_EMAIL
    # nothing the agent was refused was written
    assert full["department"] == "Space"


async def test_own_records_scope(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_role (name, label, description, grants, abilities, scope, "
            "created_at, updated_at) VALUES ({}, {}, '', {}, '[]', 'own', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "field_agent",
            "Field agent",
            json.dumps({"*": ["read", "create", "update", "delete"]}),
        )
    )
    runtime.permissions.invalidate()
    _, key = await create_key(runtime, name="own", role="field_agent")
    own = _as(client, key)
    theirs = await client.post("/api/v1/individuals", json={"first_name": "T", "last_name": "Hers"})
    mine = await client.post(
        "/api/v1/individuals", json={"first_name": "M", "last_name": "Ine"}, headers=own
    )
    assert mine.status_code == 201, mine.text
    listed = (await client.get("/api/v1/individuals?count=true", headers=own)).json()
    assert [p["id"] for p in listed["data"]] == [mine.json()["id"]]
    assert listed["total"] == 1
    other = f"/api/v1/individuals/{theirs.json()['id']}"
    for method, body in [("GET", None), ("PATCH", {"first_name": "X"}), ("DELETE", None)]:
        r = await client.request(method, other, json=body, headers=own)
        assert r.status_code == 404, (method, r.text)
    for suffix in ("/tabs", "/overview", "/activity", "/vcard"):
        r = await client.get(other + suffix, headers=own)
        assert r.status_code == 404, (suffix, r.text)
    assert (await client.get(other)).json()["first_name"] == "T"  # untouched


async def test_rate_limit_is_a_429_problem_with_retry_after(runtime: Runtime, api_key: str) -> None:
    settings = msgspec.structs.replace(runtime.settings, rate_limit=3)
    runtime.settings = settings
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        c.headers["Authorization"] = f"Bearer {api_key}"
        codes = [(await c.get("/api/v1/individuals")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = await c.get("/api/v1/individuals")
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) > 0
        # another key has its own budget
        _, other = await create_key(runtime, name="other", role="viewer")
        r = await c.get("/api/v1/individuals", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 200


def test_settings_default_rate_limit() -> None:
    assert make_settings("sqlite:///x.db").rate_limit > 0


async def test_a_hidden_default_sort_field_is_skipped_not_a_400(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _rule(runtime, "individual", "last_name", ["manager"], [])
    for first in ("B", "A"):
        await client.post("/api/v1/individuals", json={"first_name": first, "last_name": "X"})
    _, key = await create_key(runtime, name="viewer", role="viewer")
    r = await client.get("/api/v1/individuals", headers=_as(client, key))
    assert r.status_code == 200, r.text
    assert [p["first_name"] for p in r.json()["data"]] == ["A", "B"]  # then by first_name
    assert all("last_name" not in p for p in r.json()["data"])
    r = await client.get("/api/v1/individuals?sort=last_name", headers=_as(client, key))
    assert r.status_code == 400


async def test_own_scope_activity_list_shows_only_own_work(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_role (name, label, description, grants, abilities, scope, "
            "created_at, updated_at) VALUES ('solo', 'Solo', '', {}, '[]', 'own', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            json.dumps({"*": ["read", "create", "update"]}),
        )
    )
    runtime.permissions.invalidate()
    _, key = await create_key(runtime, name="solo", role="solo")
    own = _as(client, key)
    theirs = await client.post(
        "/api/v1/individuals", json={"first_name": "Their", "last_name": "S"}
    )
    mine = await client.post(
        "/api/v1/individuals", json={"first_name": "Mine", "last_name": "S"}, headers=own
    )
    entries = (await client.get("/api/v1/activities", headers=own)).json()["data"]
    ids = {r["id"] for e in entries for r in e["records"]}
    assert mine.json()["id"] in ids and theirs.json()["id"] not in ids
    r = await client.get(
        "/api/v1/activities",
        params={"entity": "individual", "record_id": theirs.json()["id"]},
        headers=own,
    )
    assert r.status_code == 404, r.text
