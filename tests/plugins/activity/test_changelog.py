"""The automatic change log: every change of every entity, atomic with the change."""

from __future__ import annotations

import types
import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import SYSTEM, Event, FieldError, Runtime, ValidationFailed, hookimpl

from tests import example_plugin

from .conftest import Make, timeline


async def _key_label(runtime: Runtime) -> str:
    rows = await runtime.db.fetch("SELECT id FROM crmkit_api_key")
    assert len(rows) == 1
    return f"api_key:{rows[0]['id']}"


def _changes(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["old"], c["new"]) for c in entry["data"]["changes"]}


async def _set_custom(client: httpx.AsyncClient, runtime: Runtime, person_id: str) -> None:
    """Give the person ``custom.budget = 100`` through the API (defining the field)."""
    r = await client.post(
        "/api/v1/custom-fields",
        json={"entity": "individual", "key": "budget", "label": "Budget", "type": "number"},
    )
    assert r.status_code == 201, r.text
    r = await client.patch(f"/api/v1/individuals/{person_id}", json={"custom": {"budget": 100}})
    assert r.status_code == 200, r.text


async def test_a_scripted_sequence_is_logged(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make
) -> None:
    label = await _key_label(runtime)
    person = await make_person(type="prospect")
    pid = person["id"]
    url = f"/api/v1/individuals/{pid}"

    r = await client.patch(url, json={"type": "customer", "job_title": "CEO"})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"job_title": "Chair"})
    assert r.status_code == 200, r.text
    await _set_custom(client, runtime, pid)
    org = None
    if "organization" in runtime.plugins.entities:
        r = await client.post("/api/v1/organizations", json={"name": "Acme AS"})
        assert r.status_code == 201, r.text
        org = r.json()
        r = await client.post(f"{url}/organizations", json={"organization_id": org["id"]})
        assert r.status_code == 201, r.text
    r = await client.patch(url, json={"tags": ["vip"]})
    assert r.status_code == 200, r.text
    r = await client.delete(url)
    assert r.status_code == 204, r.text
    r = await client.post(f"{url}/restore")
    assert r.status_code == 200, r.text
    other = await make_person("Kari", "Nordman")
    r = await client.post(
        "/api/v1/individuals/merge", json={"target": pid, "sources": [other["id"]]}
    )
    assert r.status_code == 200, r.text

    entries = await timeline(client, "individuals", pid)
    assert all(e["kind"] == "change" for e in entries)
    assert all(e["actor"]["label"] == label for e in entries)
    assert all(e["source"] in ("api", "merge") for e in entries)
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times, reverse=True)  # newest first
    story = list(reversed(entries))
    actions = [e["data"]["action"] for e in story]
    expected = ["create", "update", "update", "update"]
    # a link is announced on both ends; each end's event concerns the other record too
    expected += ["link", "link"] if org else []
    expected += ["update", "delete", "restore", "merge"]
    assert actions == expected, [e["summary"] for e in story]

    created, first, second, custom = story[:4]
    assert created["summary"] == "created"
    assert created["records"] == [{"entity": "individual", "id": pid}]
    assert _changes(first)["type"] == ("prospect", "customer")
    assert _changes(first)["job_title"] == (None, "CEO")
    assert "type: prospect → customer" in first["summary"]
    assert _changes(second) == {"job_title": ("CEO", "Chair")}
    assert _changes(custom) == {"custom.budget": (None, 100)}
    rest = story[4:]
    if org:
        links, rest = rest[:2], rest[2:]
        assert {e["summary"] for e in links} == {"linked to Acme AS", "Kari Nordmann linked"}
        for link in links:
            assert {"entity": "organization", "id": org["id"]} in link["records"]
            assert {"entity": "individual", "id": pid} in link["records"]
        # the organisation's timeline shows the link too
        org_entries = await timeline(client, "organizations", org["id"], kind="change")
        assert any(e["data"]["action"] == "link" for e in org_entries)
    tag, deleted, restored, merged = rest
    assert _changes(tag) == {"tags": ([], ["vip"])}
    assert deleted["summary"] == "deleted"
    assert restored["summary"] == "restored"
    assert merged["source"] == "merge"
    assert merged["summary"] == "merged 1 record(s) into this one"
    assert {"entity": "individual", "id": other["id"]} in merged["records"]
    # the merged-away record's own timeline shows the merge, and its deletion
    theirs = [e["data"]["action"] for e in await timeline(client, "individuals", other["id"])]
    assert "merge" in theirs
    assert "delete" in theirs


def _boom_plugin() -> types.ModuleType:
    """A throwaway plugin (loaded after activity) whose record_changed fails on a marker."""
    module = types.ModuleType("boom", "Fails a change after the activity entry is written.")
    module.__version__ = "0.0.1"
    module.requires = ()
    module.after = ("activity",)
    module.seen = []

    @hookimpl
    async def record_changed(runtime: Runtime, event: Event) -> None:
        if any(c.new == "explode" for c in event.changes):
            n = await runtime.db.fetchval("SELECT COUNT(*) AS n FROM activity")
            module.seen.append(int(n))
            raise ValidationFailed("boom", errors=[FieldError("job_title", "boom")])

    module.record_changed = record_changed
    return module


BOOM = _boom_plugin()


class TestAtomic:
    async def test_a_failed_change_leaves_no_entry(
        self, client: httpx.AsyncClient, runtime: Runtime, make_person: Make
    ) -> None:
        assert runtime.plugins.loaded.index("activity") < runtime.plugins.loaded.index("boom")
        person = await make_person()
        before = await runtime.db.fetchval("SELECT COUNT(*) AS n FROM activity")
        BOOM.seen.clear()
        r = await client.patch(f"/api/v1/individuals/{person['id']}", json={"job_title": "explode"})
        assert r.status_code == 422, r.text
        # the entry had been written inside the transaction ...
        assert BOOM.seen == [int(before) + 1]
        # ... and went with the change
        assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM activity") == before
        r = await client.get(f"/api/v1/individuals/{person['id']}")
        assert r.json()["job_title"] is None
        entries = await timeline(client, "individuals", person["id"])
        assert [e["data"]["action"] for e in entries] == ["create"]


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {"example": example_plugin, "boom": BOOM}


async def test_change_entries_are_append_only(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make
) -> None:
    person = await make_person()
    [entry] = await timeline(client, "individuals", person["id"])
    url = f"/api/v1/activities/{entry['id']}"
    r = await client.patch(url, json={"summary": "rewritten"})
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.delete(url)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(url)
    assert r.status_code == 200
    assert r.json()["summary"] == "created"


async def test_plugin_actions_and_hard_deletes_are_logged(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    r = await client.post("/api/v1/vehicles", json={"make": "Volvo"})
    assert r.status_code == 201, r.text
    vehicle = r.json()
    async with runtime.write():
        await runtime.emit(
            Event(
                entity="vehicle",
                record_id=uuid.UUID(vehicle["id"]),
                action="service",
                actor=SYSTEM,
                source="workflow",
                summary="serviced at 120 000 km",
                data={"km": 120000},
            )
        )
    entries = await timeline(client, "vehicles", vehicle["id"])
    assert [e["summary"] for e in entries] == ["serviced at 120 000 km", "created"]
    assert entries[0]["source"] == "workflow"
    assert entries[0]["data"]["details"] == {"km": 120000}
    r = await client.delete(f"/api/v1/vehicles/{vehicle['id']}", params={"hard": "true"})
    assert r.status_code == 204, r.text
    rows = await runtime.db.fetch(
        "SELECT a.summary FROM activity a JOIN activity_record r ON r.activity_id = a.id "
        "WHERE r.record_id = {} ORDER BY a.occurred_at",
        uuid.UUID(vehicle["id"]),
    )
    assert [r["summary"] for r in rows][-1] == "deleted for good"
