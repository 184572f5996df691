"""What organisations add to individuals (field, filters, tabs) and an organisation's people."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from crmkit.core import Runtime

from .conftest import Make

YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()


async def test_the_record_shows_its_current_organizations(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    # hook: register_entity_extensions
    kari = await make_person()
    assert kari["organizations"] == []
    acme, globex = await make_org("Acme AS"), await make_org("Globex AB")
    x = await link(kari, acme, role="CEO", start_date="2020-01-01")
    await link(kari, globex, role="advisor")
    await link(
        kari, await make_org("Old AS"), role="CEO", start_date="2010-01-01", end_date="2012-01-01"
    )
    record = (await client.get(f"/api/v1/individuals/{kari['id']}")).json()
    assert record["organizations"] == [
        {
            "id": x["id"],
            "organization_id": acme["id"],
            "name": "Acme AS",
            "role": "CEO",
            "primary": True,
            "start_date": "2020-01-01",
            "end_date": None,
        },
        {
            "id": record["organizations"][1]["id"],
            "organization_id": globex["id"],
            "name": "Globex AB",
            "role": "advisor",
            "primary": False,
            "start_date": None,
            "end_date": None,
        },
    ]
    # a deleted organisation drops out; the primary shown moves with it
    assert (await client.delete(f"/api/v1/organizations/{acme['id']}")).status_code == 204
    record = (await client.get(f"/api/v1/individuals/{kari['id']}")).json()
    assert [(o["name"], o["primary"]) for o in record["organizations"]] == [("Globex AB", True)]
    listed = (await client.get("/api/v1/individuals")).json()["data"]
    assert listed[0]["organizations"] == record["organizations"]


async def test_a_list_runs_the_same_queries_for_5_and_20_people(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make, link: Make
) -> None:
    orgs = [await make_org(f"Org {i}") for i in range(3)]
    for i in range(20):
        person = await make_person(f"Person{i:02d}", "Hansen")
        await link(person, orgs[i % 3], role="manager")
        if i % 2:
            await link(person, orgs[(i + 1) % 3], role="board member")

    async def queries(limit: int) -> int:
        before = runtime.db.queries
        r = await client.get("/api/v1/individuals", params={"limit": limit})
        assert r.status_code == 200 and len(r.json()["data"]) == limit
        assert all(p["organizations"] for p in r.json()["data"])
        return runtime.db.queries - before

    assert await queries(5) == await queries(20)


async def test_filters_organization_and_role(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    acme, globex = await make_org("Acme AS"), await make_org("Globex AB")
    kari, ola, ase = (
        await make_person("Kari", "Nordmann"),
        await make_person("Ola", "Hansen"),
        await make_person("Åse", "Ødegård"),
    )
    await link(kari, acme, role="CEO")
    await link(ola, globex, role="Sales manager")
    await link(ase, acme, role="board member", end_date=YESTERDAY)  # ended: not a member now
    await link(ase, globex, role="Chair of the board")

    async def names(**params: str) -> list[str]:
        r = await client.get("/api/v1/individuals", params=params)
        assert r.status_code == 200, r.text
        return sorted(p["first_name"] for p in r.json()["data"])

    assert await names(organization=acme["id"]) == ["Kari"]
    assert await names(organization=globex["id"]) == ["Ola", "Åse"]
    assert await names(organization__in=f"{acme['id']},{globex['id']}") == ["Kari", "Ola", "Åse"]
    assert await names(organization_role="ceo") == ["Kari"]
    assert await names(organization_role__in="CEO,sales MANAGER") == ["Kari", "Ola"]
    assert await names(organization_role__icontains="board") == ["Åse"]
    assert await names(organization_role__icontains="50%_") == []
    assert await names(organization=globex["id"], organization_role__icontains="man") == ["Ola"]
    assert await names(organization=str(uuid.uuid4())) == []

    for params, field in [
        ({"organization": "acme"}, "organization"),
        ({"organization__icontains": "a"}, "organization__icontains"),
        ({"organization_role__gt": "a"}, "organization_role__gt"),
    ]:
        r = await client.get("/api/v1/individuals", params=params)
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["field"] == field


async def test_people_of_an_organization_are_keyset_paged(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    acme = await make_org()
    expected = []
    for i, (first, last) in enumerate(
        [
            ("Kari", "Nordmann"),
            ("Ola", "Hansen"),
            ("Åse", "Ødegård"),
            ("Per", "Hansen"),
            ("Anna", "Berg"),
            ("Ola", "Hansen"),
        ]
    ):
        person = await make_person(
            first, last, job_title=f"Title {i}", emails=[{"address": f"p{i}@acme.no"}]
        )
        await link(person, acme, role="CEO" if i == 0 else "staff")
        expected.append((last, first))
    gone = await make_person("Gone", "Person")
    await link(gone, acme, role="staff")
    assert (await client.delete(f"/api/v1/individuals/{gone['id']}")).status_code == 204
    past = await make_person("Former", "Employee")
    await link(past, acme, role="CFO", start_date="2001-01-01", end_date="2005-01-01")

    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/api/v1/organizations/{acme['id']}/people", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["data"]) <= 2
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(m["individual"]["last_name"], m["individual"]["first_name"]) for m in seen] == sorted(
        expected
    )
    assert len({m["id"] for m in seen}) == 6
    first = next(m for m in seen if m["role"] == "CEO")
    assert (
        first["individual"]["first_name"] == "Kari"
        and first["individual"]["job_title"] == "Title 0"
    )
    assert first["individual"]["primary_email"] == "p0@acme.no"
    assert (
        first["organization_id"] == acme["id"]
        and first["primary"] is True
        and first["current"] is True
    )

    r = await client.get(
        f"/api/v1/organizations/{acme['id']}/people", params={"include_ended": "true", "limit": 50}
    )
    assert len(r.json()["data"]) == 7
    for bad in ({"cursor": "nonsense"}, {"limit": "0"}, {"limit": "501"}):
        r = await client.get(f"/api/v1/organizations/{acme['id']}/people", params=bad)
        assert r.status_code == 400, (bad, r.text)


async def test_tabs_on_both_records(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    orgs = [await make_org(name) for name in ("Cee AS", "Bee AS", "Aye AS")]
    for org in orgs:
        await link(kari, org, role="board member")
    await link(kari, await make_org("Old AS"), end_date="2020-01-01", start_date="2019-01-01")
    for i in range(3):
        await link(await make_person(f"P{i}", "Hansen"), orgs[0], role="staff")

    tabs = {
        t["key"]: t for t in (await client.get(f"/api/v1/individuals/{kari['id']}/tabs")).json()
    }
    assert tabs["organizations"]["count"] == 3
    assert tabs["organizations"]["create_href"] == f"/api/v1/individuals/{kari['id']}/organizations"
    names, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/api/v1/individuals/{kari['id']}/tabs/organizations", params=params)
        assert r.status_code == 200, r.text
        names += [x["organization"]["name"] for x in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert names == ["Aye AS", "Bee AS", "Cee AS"]

    org_tabs = {
        t["key"]: t
        for t in (await client.get(f"/api/v1/organizations/{orgs[0]['id']}/tabs")).json()
    }
    assert org_tabs["people"]["count"] == 4
    before = runtime.db.queries
    r = await client.get(f"/api/v1/organizations/{orgs[0]['id']}/tabs/people", params={"limit": 10})
    few = runtime.db.queries - before
    assert [x["individual"]["first_name"] for x in r.json()["data"]] == ["P0", "P1", "P2", "Kari"]
    overview = (await client.get(f"/api/v1/organizations/{orgs[0]['id']}/overview")).json()
    assert next(t for t in overview["tabs"] if t["key"] == "people")["count"] == 4
    for i in range(3, 10):
        await link(await make_person(f"P{i}", "Hansen"), orgs[0], role="staff")
    before = runtime.db.queries
    await client.get(f"/api/v1/organizations/{orgs[0]['id']}/tabs/people", params={"limit": 10})
    assert runtime.db.queries - before == few
