"""Merging individuals moves their links; undoing the merge puts every link back exactly."""

from __future__ import annotations

from typing import Any

import httpx
from crmkit.core import Runtime

from tests import example_plugin

from .conftest import Make, links_of


async def _rows(runtime: Runtime) -> list[dict[str, Any]]:
    rows = await runtime.db.fetch("SELECT * FROM individual_organization ORDER BY id")
    return [{k: str(v) for k, v in row.items()} for row in rows]


async def test_merge_moves_links_and_undo_restores_them(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make, link: Make
) -> None:
    # hook: merge_records
    # hook: unmerge_records
    acme, board, old, mine = [
        await make_org(n) for n in ("Acme AS", "Board AS", "Old AS", "Mine AS")
    ]
    source = await make_person("Kari", "Nordmann", emails=[{"address": "kari@acme.no"}])
    target = await make_person("Kari", "Nordman", emails=[{"address": "kari.nordmann@gmail.com"}])
    await link(source, acme, role="CEO", start_date="2018-01-01")  # primary; repeats the target's
    await link(source, board, role="board member", start_date="2019-01-01")
    await link(source, old, role="CEO", start_date="2010-01-01", end_date="2015-01-01")
    await link(target, acme, role="ceo", start_date="2018-02-01")
    await link(target, mine, role="owner", start_date="2020-01-01", primary=True)
    before = await _rows(runtime)

    example_plugin.COMMITTED.clear()
    r = await client.post(
        "/api/v1/individuals/merge", json={"target": target["id"], "sources": [source["id"]]}
    )
    assert r.status_code == 200, r.text
    merge_id = r.json()["id"]
    merged = r.json()["target"]
    assert sorted((o["name"], o["role"], o["primary"]) for o in merged["organizations"]) == [
        ("Acme AS", "ceo", False),
        ("Board AS", "board member", False),
        ("Mine AS", "owner", True),
    ]
    history = await links_of(client, target, include_ended=True)
    assert [(x["organization"]["name"], x["current"]) for x in history][-1] == ("Old AS", False)
    assert len(history) == 4  # the source's repeat of Acme AS/CEO is gone, the rest moved
    people = (await client.get(f"/api/v1/organizations/{acme['id']}/people")).json()["data"]
    assert [m["individual_id"] for m in people] == [target["id"]]
    # the moves are events on both ends
    moved = [
        e
        for e in example_plugin.COMMITTED
        if e.source == "merge" and e.action in ("link", "unlink", "link_update")
    ]
    assert {(e.entity, e.action) for e in moved} >= {
        ("individual", "link"),
        ("individual", "unlink"),
        ("organization", "link"),
        ("organization", "unlink"),
    }
    assert any(str(e.record_id) == board["id"] and e.entity == "organization" for e in moved)

    r = await client.post(f"/api/v1/individuals/merges/{merge_id}/undo")
    assert r.status_code == 200, r.text
    assert await _rows(runtime) == before
    assert [x["organization"]["name"] for x in await links_of(client, source)] == [
        "Acme AS",
        "Board AS",
    ]
    assert [x["primary"] for x in await links_of(client, source)] == [True, False]
    assert [x["organization"]["name"] for x in await links_of(client, target)] == [
        "Mine AS",
        "Acme AS",
    ]


async def test_merge_into_a_person_without_links_keeps_the_sources_primary(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make, link: Make
) -> None:
    a, b = await make_person("Ola", "Hansen"), await make_person("Ola", "Hanssen")
    c = await make_person("Ola", "Hansen", emails=[{"address": "ola@x.no"}])
    x, y = await make_org("X AS"), await make_org("Y AS")
    await link(a, x, role="staff", start_date="2015-01-01")
    await link(a, y, role="CEO", start_date="2016-01-01", primary=True)
    await link(c, x, role="advisor", start_date="2012-01-01")
    before = await _rows(runtime)
    r = await client.post(
        "/api/v1/individuals/merge", json={"target": b["id"], "sources": [a["id"], c["id"]]}
    )
    assert r.status_code == 200, r.text
    orgs = r.json()["target"]["organizations"]
    assert (orgs[0]["name"], orgs[0]["role"], orgs[0]["primary"]) == ("Y AS", "CEO", True)
    assert len(orgs) == 3
    r = await client.post(f"/api/v1/individuals/merges/{r.json()['id']}/undo")
    assert r.status_code == 200
    assert await _rows(runtime) == before


async def test_merge_without_links_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make
) -> None:
    a, b = await make_person("Ola", "Hansen"), await make_person("Ola", "Hanssen")
    r = await client.post(
        "/api/v1/individuals/merge", json={"target": a["id"], "sources": [b["id"]]}
    )
    assert r.status_code == 200 and r.json()["target"]["organizations"] == []
    r = await client.post(f"/api/v1/individuals/merges/{r.json()['id']}/undo")
    assert r.status_code == 200
