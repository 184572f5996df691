"""The notes and activity tabs, and the overview of a record with a long history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from crmkit.core import Runtime

from .conftest import Make


async def _bulk_entries(runtime: Runtime, person_id: str, n: int) -> None:
    """``n`` notes on a person, written in two statements."""
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    entries, links = [], []
    for i in range(n):
        entry_id, when = uuid.uuid4(), start + dt.timedelta(minutes=i)
        kind = "note" if i % 2 else "call"
        entries.append(
            (
                entry_id,
                kind,
                "k",
                "key",
                "api_key",
                "api",
                when,
                when,
                None,
                f"text {i}",
                "{}",
                f'[{{"entity": "individual", "id": "{person_id}"}}]',
            )
        )
        links.append((uuid.uuid4(), entry_id, "individual", uuid.UUID(person_id), when))
    async with runtime.write():
        await runtime.db.executemany(
            "INSERT INTO activity (id, kind, actor_id, actor_name, actor_kind, source, "
            "occurred_at, created_at, summary, body, data, records) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            entries,
        )
        await runtime.db.executemany(
            "INSERT INTO activity_record (id, activity_id, entity, record_id, occurred_at) "
            "VALUES ({}, {}, {}, {}, {})",
            links,
        )


async def _overview(client: httpx.AsyncClient, runtime: Runtime, person: dict[str, Any]) -> Any:
    before = runtime.db.queries
    r = await client.get(f"/api/v1/individuals/{person['id']}/overview")
    assert r.status_code == 200, r.text
    return runtime.db.queries - before, r.json()


async def test_overview_runs_a_fixed_number_of_queries(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make
) -> None:
    few, many = await make_person(), await make_person("Ola", "Hansen")
    await _bulk_entries(runtime, few["id"], 10)
    await _bulk_entries(runtime, many["id"], 1000)
    await _overview(client, runtime, few)  # warm caches
    small, _ = await _overview(client, runtime, few)
    large, body = await _overview(client, runtime, many)
    assert small == large
    tabs = {t["key"]: t for t in body["tabs"]}
    assert tabs["activity"]["count"] == 1001
    assert tabs["notes"]["count"] == 1000
    assert len(tabs["activity"]["items"]) == 5
    assert tabs["activity"]["items"][0]["kind"] == "change"  # the creation is the newest
    assert tabs["notes"]["items"][0]["body"] == "text 999"


async def test_tabs(client: httpx.AsyncClient, make_person: Make, add_entry: Make) -> None:
    a = await make_person()
    ref = [("individual", a["id"])]
    await add_entry("note", ref, body="one")
    await add_entry("email", ref, subject="two")
    await client.patch(f"/api/v1/individuals/{a['id']}", json={"job_title": "CEO"})
    r = await client.get(f"/api/v1/individuals/{a['id']}/tabs")
    assert r.status_code == 200, r.text
    tabs = r.json()
    keys = [t["key"] for t in tabs]
    assert keys.index("details") < keys.index("notes") < keys.index("activity")
    by_key = {t["key"]: t for t in tabs}
    assert by_key["notes"]["count"] == 2
    assert by_key["notes"]["create_href"] == "/api/v1/activities"
    assert by_key["activity"]["count"] == 4
    r = await client.get(f"/api/v1/individuals/{a['id']}/tabs/notes", params={"limit": 1})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["kind"] for e in page["data"]] == ["email"]
    r = await client.get(
        f"/api/v1/individuals/{a['id']}/tabs/notes", params={"cursor": page["next_cursor"]}
    )
    assert [e["kind"] for e in r.json()["data"]] == ["note"]
    r = await client.get(f"/api/v1/individuals/{a['id']}/tabs/activity", params={"kind": "change"})
    assert [e["summary"] for e in r.json()["data"]] == ["job_title: ∅ → CEO", "created"]
    r = await client.get(f"/api/v1/individuals/{a['id']}/tabs/notes", params={"kind": "change"})
    assert r.json()["data"] == []
    r = await client.get(f"/api/v1/individuals/{a['id']}/tabs/activity", params={"colour": "red"})
    assert r.status_code == 400, r.text
