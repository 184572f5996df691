"""Saved searches through real HTTP on both engines: the CRUD surface, checks on save,
results equal to the list they stand for (fresh, paged, with the reader's access),
private and shared visibility across keys, and the resolver the export uses."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Access, Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.db.sql import sql
from crmkit.core.errors import Conflict, NotFound
from crmkit.core.events import Actor
from crmkit.core.saved_searches import resolve_saved_search

URL = "/api/v1/saved-searches"
PROBLEM = "application/problem+json"

VEHICLES = [
    {"make": "Ford", "model": "Focus", "year": 2018, "vin": "WF0A1", "tags": ["fleet"]},
    {"make": "Ford", "model": "Kuga", "year": 2021, "vin": "WF0B2", "tags": ["fleet", "vip"]},
    {"make": "Tesla", "model": "Model 3", "year": 2021, "vin": "5YJ31", "tags": ["fleet"]},
    {"make": "Tesla", "model": "Model Y", "year": 2023, "vin": "5YJY2", "tags": []},
    {"make": "Volvo", "model": "XC40", "year": 2019, "vin": "YV1X4", "tags": ["fleet"]},
    {"make": "Ford", "model": "Puma", "year": 2021, "vin": "WF0C3", "tags": ["fleet"]},
    {"make": "Tesla", "model": "Model S", "year": 2016, "vin": "5YJS5", "tags": ["fleet"]},
]
#: A search and the list query string it stands for.
FILTERS = [["make__in", "Ford,Tesla"], ["tag", "fleet"]]
SORT = "-year,model"
LIST_QUERY = "make__in=Ford,Tesla&tag=fleet&sort=-year,model"


@pytest.fixture
def enabled() -> list[str]:
    """Core and the example plugin (vehicles) only."""
    return ["example"]


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _vehicles(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for body in VEHICLES:
        r = await client.post("/api/v1/vehicles", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def _save(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any):
    body = {"entity": "vehicle", "name": "Fleet", **body}
    r = await client.post(URL, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _pages(client: httpx.AsyncClient, url: str, **kw: Any) -> list[list[str]]:
    """The ids of every page of ``url`` (limit 2), following ``next_cursor``."""
    pages, cursor = [], None
    sep = "&" if "?" in url else "?"
    while True:
        page_url = f"{url}{sep}limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(page_url, **kw)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([v["id"] for v in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20


async def _rule(runtime: Runtime, entity: str, field: str, read: list[str]) -> None:
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_field_permission (entity, field, read_roles, write_roles, "
            "updated_at) VALUES ({}, {}, {}, {}, CURRENT_TIMESTAMP)",
            entity,
            field,
            json.dumps(read),
            json.dumps(read),
        )
    )
    runtime.permissions.invalidate()


def _without_instance(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "instance"}


# -- the CRUD surface --------------------------------------------------------------------


async def test_create_read_list_change_and_delete(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "entity": "vehicle",
            "name": "  Fleet   Fords ",
            "q": " focus ",
            "filters": [["make", "Ford"], ["tag", "fleet"], ["year__gte", "2019"]],
            "sort": "-year",
        },
    )
    assert r.status_code == 201, r.text
    saved = r.json()
    assert r.headers["location"] == f"{URL}/{saved['id']}"
    assert saved["name"] == "Fleet Fords"
    assert saved["q"] == "focus"
    assert saved["filters"] == [["make", "Ford"], ["tag", "fleet"], ["year__gte", "2019"]]
    assert saved["sort"] == "-year" and saved["shared"] is False
    assert saved["owner_kind"] == "api_key" and saved["owner_id"]
    assert saved["created_at"] == saved["updated_at"]

    r = await client.get(f"{URL}/{saved['id']}")
    assert r.status_code == 200 and r.json() == saved

    await _save(client, name="Another", filters=[["year__gte", "2020"]])
    r = await client.get(URL)
    assert r.status_code == 200
    assert [s["name"] for s in r.json()["data"]] == ["Another", "Fleet Fords"]
    r = await client.get(URL, params={"entity": "vehicle", "mine": "true", "limit": 1})
    body = r.json()
    assert [s["name"] for s in body["data"]] == ["Another"] and body["next_cursor"]
    r = await client.get(URL, params={"limit": 1, "cursor": body["next_cursor"]})
    assert [s["name"] for s in r.json()["data"]] == ["Fleet Fords"]
    assert r.json()["next_cursor"] is None
    for query, field in [({"cursor": "bm9uc2Vuc2U"}, "cursor"), ({"entity": "ship"}, "entity")]:
        r = await client.get(URL, params=query)
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["field"] == field

    r = await client.patch(
        f"{URL}/{saved['id']}", json={"name": "Fords", "shared": True, "q": None}
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["name"], changed["shared"], changed["q"]) == ("Fords", True, None)
    assert changed["filters"] == saved["filters"] and changed["sort"] == "-year"
    assert changed["updated_at"] > saved["updated_at"]
    assert (await client.get(f"{URL}/{saved['id']}")).json() == changed

    r = await client.delete(f"{URL}/{saved['id']}")
    assert r.status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        r = await client.request(
            method, f"{URL}/{saved['id']}", json={} if method == "PATCH" else None
        )
        assert r.status_code == 404, (method, r.text)
        assert r.headers["content-type"] == PROBLEM
    r = await client.get(f"{URL}/{saved['id']}/results")
    assert r.status_code == 404
    assert [s["name"] for s in (await client.get(URL)).json()["data"]] == ["Another"]
    # the name is free again once deleted
    await _save(client, name="Fords")


async def test_names_are_unique_per_owner_and_entity(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    first = await _save(client, name="Mine")
    r = await client.post(URL, json={"entity": "vehicle", "name": "Mine"})
    assert r.status_code == 409, r.text
    assert r.json()["errors"] == [
        {"field": "name", "message": "already used by another of your saved searches"}
    ]
    other = await _save(client, name="Other")
    r = await client.patch(f"{URL}/{other['id']}", json={"name": "Mine"})
    assert r.status_code == 409
    assert (await client.get(f"{URL}/{other['id']}")).json()["name"] == "Other"
    # renaming to its own name is no conflict; another owner may use the name
    r = await client.patch(f"{URL}/{first['id']}", json={"name": "Mine", "shared": True})
    assert r.status_code == 200
    _, key = await create_key(runtime, name="second", role="agent")
    await _save(client, headers=_as(key), name="Mine")
    count = await runtime.db.fetchval(
        "SELECT COUNT(*) AS n FROM crmkit_saved_search WHERE name = 'Mine'"
    )
    assert count == 2


async def test_every_problem_of_a_query_is_a_422_naming_where_it_is(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        URL,
        json={
            "entity": "vehicle",
            "name": "Broken",
            "filters": [
                ["make", "Ford"],
                ["colour_of_sky", "blue"],
                ["year__about", "2020"],
                ["year", "soon"],
                ["limit", "5"],
                ["q", "ford"],
                ["custom.Bad Key", "x"],
            ],
            "sort": "-year,wheels",
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    fields = [e["field"] for e in problem["errors"]]
    assert fields == [
        "filters[1]",
        "filters[2]",
        "filters[3]",
        "filters[4]",
        "filters[5]",
        "filters[6]",
        "sort",
    ]
    messages = {e["field"]: e["message"] for e in problem["errors"]}
    assert "colour_of_sky" in messages["filters[1]"]
    assert "about" in messages["filters[2]"]
    assert "year" in messages["filters[3]"]
    assert "wheels" in messages["sort"]
    assert "not a filter" in messages["filters[4]"] and "`q`" in messages["filters[5]"]

    for body, field in [
        ({"entity": "spaceship", "name": "x"}, "entity"),
        ({"entity": "vehicle", "name": "   "}, "name"),
        ({"entity": "vehicle", "name": "x", "q": "a" * 1001}, "q"),
        ({"entity": "vehicle", "name": "x", "filters": [["make"]]}, "filters[0]"),
        ({"entity": "vehicle", "name": "x", "filters": [["make", "a\x00b"]]}, "filters[0]"),
        ({"entity": "vehicle", "name": "x", "sort": "-"}, "sort"),
        ({"entity": "vehicle", "name": "x", "owner_id": "someone"}, "owner_id"),
    ]:
        r = await client.post(URL, json=body)
        assert r.status_code == 422, (body, r.text)
        assert [e["field"] for e in r.json()["errors"]][:1] == [field], (body, r.text)
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM crmkit_saved_search") == 0

    saved = await _save(client, filters=[["make", "Ford"]])
    r = await client.patch(f"{URL}/{saved['id']}", json={"filters": [["make__near", "x"]]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "filters[0]"
    r = await client.patch(f"{URL}/{saved['id']}", json={"sort": "nothing"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sort"
    r = await client.patch(f"{URL}/{saved['id']}", json={"entity": "nothing"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "entity"
    assert (await client.get(f"{URL}/{saved['id']}")).json() == saved


async def test_a_value_the_database_refuses_is_refused_on_save(
    client: httpx.AsyncClient,
) -> None:
    # converts as an integer, but no engine compares an integer column with it
    r = await client.post(
        URL, json={"entity": "vehicle", "name": "x", "filters": [["year", str(10**30)]]}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "filters[0]"


# -- results ---------------------------------------------------------------------------


async def test_results_are_the_list_they_stand_for_page_by_page(
    client: httpx.AsyncClient,
) -> None:
    await _vehicles(client)
    saved = await _save(client, filters=FILTERS, sort=SORT)
    results = await _pages(client, f"{URL}/{saved['id']}/results")
    listed = await _pages(client, f"/api/v1/vehicles?{LIST_QUERY}")
    assert results == listed
    assert [len(p) for p in results] == [2, 2, 1]  # five fleet Fords and Teslas
    r = await client.get(f"{URL}/{saved['id']}/results", params={"count": "true", "limit": 500})
    body = r.json()
    assert body["total"] == 5 and body["next_cursor"] is None
    full = (await client.get(f"/api/v1/vehicles?{LIST_QUERY}&count=true&limit=500")).json()
    assert body == full
    years = [v["year"] for v in body["data"]]
    assert years == sorted(years, reverse=True)
    # without count, no total; a cursor of another list is the list's 400
    r = await client.get(f"{URL}/{saved['id']}/results")
    assert r.json()["total"] is None
    other = (await client.get("/api/v1/vehicles?limit=1")).json()["next_cursor"]
    r = await client.get(f"{URL}/{saved['id']}/results", params={"cursor": other})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor"


async def test_results_with_q_and_the_default_sort(client: httpx.AsyncClient) -> None:
    await _vehicles(client)
    saved = await _save(client, q="model")
    results = await _pages(client, f"{URL}/{saved['id']}/results")
    assert results == await _pages(client, "/api/v1/vehicles?q=model")
    assert sum(len(p) for p in results) == 3


async def test_results_are_computed_fresh(client: httpx.AsyncClient) -> None:
    ids = await _vehicles(client)
    saved = await _save(client, filters=FILTERS, sort=SORT)
    url = f"{URL}/{saved['id']}/results?limit=500"
    before = [v["id"] for v in (await client.get(url)).json()["data"]]
    r = await client.post(
        "/api/v1/vehicles",
        json={"make": "Tesla", "model": "Cybertruck", "year": 2030, "tags": ["fleet"]},
    )
    new = r.json()["id"]
    after = [v["id"] for v in (await client.get(url)).json()["data"]]
    assert after == [new, *before]
    await client.patch(f"/api/v1/vehicles/{ids[0]}", json={"tags": []})
    await client.delete(f"/api/v1/vehicles/{ids[1]}")
    last = [v["id"] for v in (await client.get(url)).json()["data"]]
    assert last == [i for i in after if i not in ids[:2]]


# -- who sees and changes what ----------------------------------------------------------


async def test_private_and_shared_searches_across_keys(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _vehicles(client)
    _, alice = await create_key(runtime, name="alice", role="agent")
    _, bob = await create_key(runtime, name="bob", role="agent")
    private = await _save(client, _as(alice), name="Alice private", filters=FILTERS)
    shared = await _save(client, _as(alice), name="Alice shared", filters=FILTERS, shared=True)
    own = await _save(client, _as(bob), name="Bob private")

    r = await client.get(URL, headers=_as(bob))
    assert [s["name"] for s in r.json()["data"]] == ["Alice shared", "Bob private"]
    r = await client.get(URL, params={"mine": "true"}, headers=_as(bob))
    assert [s["name"] for s in r.json()["data"]] == ["Bob private"]
    r = await client.get(URL, headers=_as(alice))
    assert [s["name"] for s in r.json()["data"]] == ["Alice private", "Alice shared"]

    # someone else's private search does not exist for them, admins included
    for key in (bob, None):
        headers = _as(key) if key else None
        for url in (f"{URL}/{private['id']}", f"{URL}/{private['id']}/results"):
            r = await client.get(url, headers=headers)
            assert r.status_code == 404, (url, r.text)
        r = await client.patch(f"{URL}/{private['id']}", json={"shared": True}, headers=headers)
        assert r.status_code == 404
    # a shared one can be read and run by anyone, changed only by its owner (or an admin)
    r = await client.get(f"{URL}/{shared['id']}", headers=_as(bob))
    assert r.status_code == 200 and r.json() == shared
    r = await client.get(f"{URL}/{shared['id']}/results", headers=_as(bob))
    assert r.status_code == 200 and len(r.json()["data"]) == 5
    for method in ("PATCH", "DELETE"):
        body = {"name": "Bob's now"} if method == "PATCH" else None
        r = await client.request(method, f"{URL}/{shared['id']}", json=body, headers=_as(bob))
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == PROBLEM
    assert (await client.get(f"{URL}/{shared['id']}")).json()["name"] == "Alice shared"
    r = await client.patch(f"{URL}/{shared['id']}", json={"shared": False}, headers=_as(alice))
    assert r.status_code == 200
    r = await client.get(f"{URL}/{shared['id']}", headers=_as(bob))
    assert r.status_code == 404
    r = await client.patch(f"{URL}/{own['id']}", json={"shared": True}, headers=_as(bob))
    assert r.status_code == 200
    # an admin may change and delete a shared search of someone else
    r = await client.patch(f"{URL}/{own['id']}", json={"name": "Renamed by admin"})
    assert r.status_code == 200
    assert r.json()["owner_id"] == own["owner_id"]  # still Bob's
    r = await client.delete(f"{URL}/{own['id']}")
    assert r.status_code == 204
    assert (await client.get(URL, headers=_as(bob))).json()["data"] == []


async def test_a_viewer_runs_a_shared_search_but_cannot_change_it(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _vehicles(client)
    shared = await _save(client, filters=FILTERS, sort=SORT, shared=True)
    _, viewer = await create_key(runtime, name="viewer", role="viewer")
    results = await _pages(client, f"{URL}/{shared['id']}/results", headers=_as(viewer))
    assert results == await _pages(client, f"/api/v1/vehicles?{LIST_QUERY}")
    r = await client.patch(f"{URL}/{shared['id']}", json={"sort": "year"}, headers=_as(viewer))
    assert r.status_code == 403
    r = await client.delete(f"{URL}/{shared['id']}", headers=_as(viewer))
    assert r.status_code == 403
    assert (await client.get(f"{URL}/{shared['id']}")).json() == shared
    # a viewer may keep searches of their own
    mine = await _save(client, _as(viewer), name="Viewer's")
    r = await client.delete(f"{URL}/{mine['id']}", headers=_as(viewer))
    assert r.status_code == 204


async def test_a_hidden_field_in_a_shared_search_is_the_lists_400(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _vehicles(client)
    r = await client.post(
        "/api/v1/custom-fields",
        json={
            "entity": "vehicle",
            "key": "cost",
            "label": "Cost",
            "type": "number",
            "read_roles": ["manager"],
            "write_roles": ["manager"],
        },
    )
    assert r.status_code == 201, r.text
    await _rule(runtime, "vehicle", "vin", ["manager"])
    _, manager = await create_key(runtime, name="manager", role="manager")
    _, viewer = await create_key(runtime, name="viewer", role="viewer")
    cases = [
        ([["tag", "fleet"], ["vin__startswith", "WF0"]], None, "tag=fleet&vin__startswith=WF0"),
        ([["custom.cost__gt", "100"]], None, "custom.cost__gt=100"),
        ([["make", "Ford"]], "vin", "make=Ford&sort=vin"),
    ]
    for filters, sort, query in cases:
        name = f"uses a hidden field {query}"
        saved = await _save(
            client, _as(manager), name=name, filters=filters, sort=sort, shared=True
        )
        r = await client.get(f"{URL}/{saved['id']}/results", headers=_as(manager))
        assert r.status_code == 200, r.text
        results = await client.get(f"{URL}/{saved['id']}/results", headers=_as(viewer))
        listed = await client.get(f"/api/v1/vehicles?{query}", headers=_as(viewer))
        assert results.status_code == listed.status_code == 400, results.text
        assert results.headers["content-type"] == PROBLEM
        assert _without_instance(results.json()) == _without_instance(listed.json())
        # nor can the viewer save a search with it
        r = await client.post(
            URL,
            json={"entity": "vehicle", "name": "x", "filters": filters, "sort": sort},
            headers=_as(viewer),
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == (
            "sort" if sort else f"filters[{len(filters) - 1}]"
        )


async def test_a_role_that_cannot_read_the_entity(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    r = await client.post(
        "/api/v1/roles",
        json={"name": "no_vehicles", "grants": {"*": ["read"], "vehicle": []}},
    )
    assert r.status_code == 201, r.text
    _, key = await create_key(runtime, name="blind", role="no_vehicles")
    shared = await _save(client, filters=FILTERS, shared=True)
    assert (await client.get(URL, headers=_as(key))).json()["data"] == []
    r = await client.get(f"{URL}/{shared['id']}/results", headers=_as(key))
    assert r.status_code == 403, r.text
    assert r.json()["required"] == "vehicle:read"
    r = await client.post(URL, json={"entity": "vehicle", "name": "x"}, headers=_as(key))
    assert r.status_code == 403


async def test_every_route_needs_a_key(anon: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    saved = await _save(client)
    key = anon.headers.pop("Authorization")  # (``client`` is ``anon`` with a key)
    routes = [
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/{saved['id']}"),
        ("PATCH", f"{URL}/{saved['id']}"),
        ("DELETE", f"{URL}/{saved['id']}"),
        ("GET", f"{URL}/{saved['id']}/results"),
    ]
    for method, url in routes:
        body = {"entity": "vehicle", "name": "x"} if method in ("POST", "PATCH") else None
        r = await anon.request(method, url, json=body)
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.headers["content-type"] == PROBLEM
    anon.headers["Authorization"] = key
    r = await client.get(f"{URL}/{saved['id']}")
    assert r.status_code == 200, "still there"


# -- for the export command -------------------------------------------------------------


async def test_resolve_a_saved_search_by_name_or_id_into_list_parameters(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _vehicles(client)
    saved = await _save(client, filters=FILTERS, sort=SORT)
    expected = (await client.get(f"/api/v1/vehicles?{LIST_QUERY}&limit=500")).json()["data"]
    for ref in ("Fleet", saved["id"]):
        found, params = await resolve_saved_search(runtime, ref)
        assert str(found.id) == saved["id"]
        page = await runtime.records(found.entity).list(params)
        assert [str(r["id"]) for r in page.data] == [v["id"] for v in expected]
    with pytest.raises(NotFound):
        await resolve_saved_search(runtime, "No such search")
    with pytest.raises(NotFound):
        await resolve_saved_search(runtime, str(uuid.uuid4()))
    # the same name of two owners: the system must be told which
    _, key = await create_key(runtime, name="other", role="agent")
    other = await _save(client, _as(key), name="Fleet", shared=True)
    with pytest.raises(Conflict) as info:
        await resolve_saved_search(runtime, "Fleet")
    assert {c["id"] for c in info.value.extra["candidates"]} == {saved["id"], other["id"]}
    # an actor's own search wins over a shared one of the same name
    owner = Actor(id=found.owner_id, name="owner", role="admin", kind=found.owner_kind)
    found, _ = await resolve_saved_search(runtime, "Fleet", Access.full(owner))
    assert str(found.id) == saved["id"]
    # someone else's private one is not found for another actor
    stranger = Actor(id="nobody", name="nobody", role="agent")
    access = await runtime.permissions.access(stranger)
    found, _ = await resolve_saved_search(runtime, "Fleet", access)
    assert str(found.id) == other["id"]
