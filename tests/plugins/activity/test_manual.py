"""Manual entries: kinds and their validation, authors, the log, filters and search."""

from __future__ import annotations

from typing import Any

import httpx
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key

from .conftest import Make, timeline

URL = "/api/v1/activities"


def _fields(r: httpx.Response) -> set[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in r.json()["errors"]}


def _refs(*records: dict[str, Any], entity: str = "individual") -> list[dict[str, Any]]:
    return [{"entity": entity, "id": r["id"]} for r in records]


async def test_each_kind(client: httpx.AsyncClient, make_person: Make) -> None:
    a, b = await make_person(), await make_person("Ola", "Hansen")
    r = await client.post(URL, json={"kind": "note", "records": _refs(a), "body": "Likes golf"})
    assert r.status_code == 201, r.text
    note = r.json()
    assert r.headers["location"] == f"{URL}/{note['id']}"
    assert note["body"] == "Likes golf"
    assert note["records"] == _refs(a)
    assert note["actor"]["kind"] == "api_key"
    call = {"direction": "out", "outcome": "left a message", "duration_seconds": 45, "body": "x"}
    r = await client.post(URL, json={"kind": "call", "records": _refs(a), **call})
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {
        "direction": "out",
        "outcome": "left a message",
        "duration_seconds": 45,
    }
    meeting = {
        "starts_at": "2026-03-01T10:00:00+01:00",
        "ends_at": "2026-03-01T11:00:00+01:00",
        "location": "Oslo",
        "attendees": ["Kari", "Ola", "Per"],
        "body": "Quarterly review",
    }
    r = await client.post(URL, json={"kind": "meeting", "records": _refs(a, b), **meeting})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attendees"] == ["Kari", "Ola", "Per"]
    email = {
        "subject": "Renewal offer",
        "from": "me@example.com",
        "to": ["kari@example.no"],
        "cc": [],
        "direction": "out",
        "message_id": "<1@example.com>",
        "body": "Please find attached",
        "occurred_at": "2026-01-05T09:30:00Z",
    }
    r = await client.post(URL, json={"kind": "email", "records": _refs(a), **email})
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["data"]["from"] == "me@example.com"
    assert sent["occurred_at"].startswith("2026-01-05T09:30:00")
    # the meeting is on both people's timelines
    for person in (a, b):
        kinds = [e["kind"] for e in await timeline(client, "individuals", person["id"])]
        assert "meeting" in kinds
    kinds = [e["kind"] for e in await timeline(client, "individuals", a["id"])]
    assert sorted(kinds) == ["call", "change", "email", "meeting", "note"]
    r = await client.get(f"{URL}/{note['id']}")
    assert r.status_code == 200
    assert r.json() == note


async def test_validation(client: httpx.AsyncClient, make_person: Make) -> None:
    a = await make_person()
    r = await client.post(
        URL,
        json={"kind": "call", "records": [], "direction": "sideways", "duration_seconds": -1},
    )
    assert {"records", "direction", "duration_seconds"} <= _fields(r)
    missing = "00000000-0000-4000-8000-000000000000"
    r = await client.post(
        URL,
        json={
            "kind": "note",
            "records": [
                *_refs(a),
                {"entity": "individual", "id": missing},
                {"entity": "x", "id": missing},
            ],
            "body": "hi",
        },
    )
    assert _fields(r) == {"records[1]", "records[2].entity"}
    r = await client.post(URL, json={"kind": "note", "records": _refs(a)})
    assert _fields(r) == {"body"}
    r = await client.post(URL, json={"kind": "note", "records": _refs(a), "body": "x", "mood": 1})
    assert _fields(r) == {"mood"}
    r = await client.post(URL, json={"kind": "fax", "records": _refs(a)})
    assert "kind" in _fields(r)
    r = await client.post(URL, json={"kind": "change", "records": _refs(a)})
    assert "kind" in _fields(r)
    r = await client.post(
        URL,
        json={
            "kind": "meeting",
            "records": _refs(a),
            "starts_at": "2026-03-01T10:00:00Z",
            "ends_at": "2026-03-01T09:00:00Z",
        },
    )
    assert _fields(r) == {"ends_at"}
    r = await client.post(URL, json={"kind": "email", "records": _refs(a), "to": "x@y.z"})
    assert _fields(r) == {"subject", "to"}
    r = await client.post(URL, json=[1])
    assert r.status_code in (400, 422), r.text
    # nothing was written
    assert [e["kind"] for e in await timeline(client, "individuals", a["id"])] == ["change"]


async def test_notes_are_edited_by_their_author_only(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, add_entry: Make
) -> None:
    a = await make_person()
    note = await add_entry("note", [("individual", a["id"])], body="first draft")
    _, other_key = await create_key(runtime, name="other", role="admin")
    other = {"Authorization": f"Bearer {other_key}"}
    url = f"{URL}/{note['id']}"
    r = await client.patch(url, json={"body": "hijacked"}, headers=other)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.delete(url, headers=other)
    assert r.status_code == 403, r.text
    r = await client.patch(url, json={"kind": "call"})
    assert _fields(r) == {"kind"}
    r = await client.patch(url, json={"body": ""})
    assert _fields(r) == {"body"}
    r = await client.patch(url, json={"body": "final text"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["body"] == "final text"
    assert edited["edited_at"] is not None
    assert edited["occurred_at"] == note["occurred_at"]
    entries = await timeline(client, "individuals", a["id"], kind="change")
    edit = entries[0]
    assert edit["summary"] == "note edited"
    assert edit["data"]["record_id"] == note["id"]
    assert edit["data"]["changes"] == [{"field": "body", "old": "first draft", "new": "final text"}]
    assert edit["actor"] == note["actor"]
    # removing it: the author only, logged too
    r = await client.delete(url)
    assert r.status_code == 204, r.text
    assert (await client.get(url)).status_code == 404
    entries = await timeline(client, "individuals", a["id"])
    assert [e["summary"] for e in entries][:2] == ["note deleted", "note edited"]
    assert "note" not in [e["kind"] for e in entries]


async def test_filters_and_paging(
    client: httpx.AsyncClient, make_person: Make, add_entry: Make
) -> None:
    a = await make_person()
    ref = [("individual", a["id"])]
    for day in range(1, 8):
        kind = "note" if day % 2 else "call"
        extra = {"body": f"day {day}"} if kind == "note" else {"direction": "in"}
        await add_entry(kind, ref, occurred_at=f"2026-02-0{day}T12:00:00Z", **extra)
    everything = await timeline(client, "individuals", a["id"])
    assert len(everything) == 8  # and the creation
    paged = await timeline(client, "individuals", a["id"], limit=3)
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    times = [e["occurred_at"] for e in everything]
    assert times == sorted(times, reverse=True)
    notes = await timeline(client, "individuals", a["id"], kind="note")
    assert [e["body"] for e in notes] == ["day 7", "day 5", "day 3", "day 1"]
    both = await timeline(client, "individuals", a["id"], kind="note,call", limit=2)
    assert len(both) == 7
    window = await timeline(
        client, "individuals", a["id"], since="2026-02-03T00:00:00Z", until="2026-02-05T12:00:00Z"
    )
    assert [e["body"] or e["kind"] for e in window] == ["call", "day 3"]
    window = await timeline(client, "individuals", a["id"], since="2026-02-06T13:00:00+01:00")
    assert [e["body"] or e["kind"] for e in window] == ["change", "day 7", "call"]
    # the log itself, by kind, record and actor
    r = await client.get(URL, params={"kind": "note", "entity": "individual", "record_id": a["id"]})
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 4
    actor_id = everything[0]["actor"]["id"]
    r = await client.get(URL, params={"actor_id": actor_id, "limit": 500})
    assert len(r.json()["data"]) == 8
    seen, cursor = [], None
    while True:  # the whole log, two at a time
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(URL, params=params)).json()
        seen += [e["id"] for e in page["data"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [e["id"] for e in r.json()["data"]]
    r = await client.get(URL, params={"actor_id": "nobody"})
    assert r.json()["data"] == []
    # bad parameters
    base = f"/api/v1/individuals/{a['id']}/activity"
    for params, field in (
        ({"kind": "fax"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"cursor": "nope"}, "cursor"),
        ({"colour": "red"}, "colour"),
    ):
        r = await client.get(base, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = await client.get(base, params={"limit": 0})
    assert r.status_code == 400
    r = await client.get(URL, params={"entity": "individual"})
    assert r.status_code == 400
    r = await client.get("/api/v1/individuals/00000000-0000-4000-8000-000000000000/activity")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_search_text_contributes_notes(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, add_entry: Make
) -> None:
    a, b, c = await make_person(), await make_person("Ola", "Hansen"), await make_person("P", "Q")
    await add_entry("note", [("individual", a["id"])], body="Loves sailing")
    await add_entry(
        "call",
        [("individual", a["id"]), ("individual", b["id"])],
        direction="in",
        body="About boats",
    )
    await add_entry("email", [("individual", b["id"])], subject="Offer", body="Cheap boats")
    removed = await add_entry("note", [("individual", b["id"])], body="forgotten")
    assert (await client.delete(f"{URL}/{removed['id']}")).status_code == 204
    results = await runtime.plugins.call(
        "search_text", runtime=runtime, entity="individual", record_ids=[a["id"], b["id"], c["id"]]
    )
    texts = [r for r in results if r]
    assert len(texts) == 1
    found = {str(k): v for k, v in texts[0].items()}
    assert found == {a["id"]: "Loves sailing About boats", b["id"]: "About boats Offer Cheap boats"}
    other = await runtime.plugins.call(
        "search_text", runtime=runtime, entity="organization", record_ids=[a["id"]]
    )
    assert [r for r in other if r] == []
