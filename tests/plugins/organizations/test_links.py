"""Links of individuals to organisations: the primary rule, history, errors and events."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime, ValidationFailed, hookimpl

from tests import example_plugin

from .conftest import Make, links_of, primary_of

TODAY = dt.date.today()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


async def test_first_link_becomes_primary_and_primary_moves(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    acme, globex = await make_org("Acme AS"), await make_org("Globex AB")
    first = await link(kari, acme, role="CEO", start_date=days(-400))
    assert first["primary"] is True and first["current"] is True
    assert first["organization"] == {"id": acme["id"], "name": "Acme AS"}
    assert first["role"] == "CEO" and first["individual_id"] == kari["id"]

    second = await link(kari, globex, role="board member", start_date=days(-100))
    assert second["primary"] is False
    assert primary_of(await links_of(client, kari)) == ["Acme AS"]

    third = await link(kari, await make_org("Initech"), role="advisor", primary=True)
    assert third["primary"] is True
    links = await links_of(client, kari)
    assert primary_of(links) == ["Initech"]
    assert [x["organization"]["name"] for x in links] == ["Initech", "Acme AS", "Globex AB"]

    r = await client.patch(
        f"/api/v1/individuals/{kari['id']}/organizations/{second['id']}", json={"primary": True}
    )
    assert r.status_code == 200 and r.json()["primary"] is True
    assert primary_of(await links_of(client, kari)) == ["Globex AB"]


async def test_ending_the_primary_moves_it_to_the_earliest_start(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    acme, globex, initech = (
        await make_org("Acme AS"),
        await make_org("Globex AB"),
        await make_org("Initech"),
    )
    main = await link(kari, acme, role="CEO", start_date=days(-900))
    await link(kari, globex, role="advisor", start_date=days(-50))
    await link(kari, initech, role="board member", start_date=days(-300))
    await link(kari, await make_org("Undated"), role="mentor")  # no start: after dated ones

    r = await client.patch(
        f"/api/v1/individuals/{kari['id']}/organizations/{main['id']}",
        json={"end_date": TODAY.isoformat()},
    )
    assert r.status_code == 200, r.text
    ended = r.json()
    assert (
        ended["end_date"] == TODAY.isoformat()
        and ended["current"] is False
        and ended["primary"] is False
    )
    current = await links_of(client, kari)
    assert [x["organization"]["name"] for x in current] == ["Initech", "Globex AB", "Undated"]
    assert primary_of(current) == ["Initech"]

    # the history keeps the ended link; the record shows current ones only
    history = await links_of(client, kari, include_ended=True)
    assert [x["organization"]["name"] for x in history] == [
        "Initech",
        "Globex AB",
        "Undated",
        "Acme AS",
    ]
    assert history[-1]["current"] is False and history[-1]["role"] == "CEO"
    record = (await client.get(f"/api/v1/individuals/{kari['id']}")).json()
    assert [o["name"] for o in record["organizations"]] == ["Initech", "Globex AB", "Undated"]


async def test_ending_the_only_link_leaves_no_primary_and_reopening_restores_it(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    only = await link(kari, await make_org(), role="CEO", start_date=days(-10))
    url = f"/api/v1/individuals/{kari['id']}/organizations/{only['id']}"
    r = await client.patch(url, json={"end_date": days(-1)})
    assert r.status_code == 200 and r.json()["primary"] is False
    assert await links_of(client, kari) == []
    r = await client.patch(url, json={"end_date": None})
    assert r.status_code == 200 and r.json()["primary"] is True and r.json()["current"] is True
    # a future end date keeps a link current (and primary)
    r = await client.patch(url, json={"end_date": days(30)})
    assert r.json()["current"] is True and r.json()["primary"] is True
    # primary: false on the only current link changes nothing
    r = await client.patch(url, json={"primary": False})
    assert r.status_code == 200 and r.json()["primary"] is True


async def test_unset_primary_moves_it_and_delete_removes_the_link(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    a = await link(kari, await make_org("A"), role="CEO", start_date=days(-10))
    await link(kari, await make_org("B"), role="advisor", start_date=days(-5))
    base = f"/api/v1/individuals/{kari['id']}/organizations"
    r = await client.patch(f"{base}/{a['id']}", json={"primary": False})
    assert r.json()["primary"] is False
    assert primary_of(await links_of(client, kari)) == ["B"]
    b = (await links_of(client, kari))[0]
    assert (await client.delete(f"{base}/{b['id']}")).status_code == 204
    assert primary_of(await links_of(client, kari)) == ["A"]
    assert (await client.get(f"{base}/{b['id']}")).status_code == 404
    assert len(await links_of(client, kari, include_ended=True)) == 1
    assert (await client.delete(f"{base}/{b['id']}")).status_code == 404


async def test_created_ended_link_is_history(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    old = await link(
        kari,
        await make_org("Old Job AS"),
        role="CEO",
        start_date="2015-01-01",
        end_date="2019-06-30",
    )
    assert old["current"] is False and old["primary"] is False
    now = await link(kari, await make_org("New Job AS"), role="CEO")
    assert now["primary"] is True
    # the same organisation and role again is fine when the earlier link has ended
    again = await link(kari, {"id": old["organization_id"]}, role="CEO")
    assert again["current"] is True and again["primary"] is False


async def test_update_fields_and_read_one(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    x = await link(kari, await make_org(), role="manager")
    url = f"/api/v1/individuals/{kari['id']}/organizations/{x['id']}"
    r = await client.patch(
        url,
        json={
            "role": "  Sales   manager ",
            "notes": " Runs the Oslo office ",
            "start_date": "2020-02-01",
        },
    )
    assert r.status_code == 200, r.text
    got = (await client.get(url)).json()
    assert got == r.json()
    assert (got["role"], got["notes"], got["start_date"]) == (
        "Sales manager",
        "Runs the Oslo office",
        "2020-02-01",
    )
    r = await client.patch(url, json={"role": None, "notes": ""})
    assert r.json()["role"] is None and r.json()["notes"] is None


async def test_404s(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari, acme = await make_person(), await make_org()
    ghost = str(uuid.uuid4())
    base = f"/api/v1/individuals/{kari['id']}/organizations"
    for method, url, body in [
        ("POST", f"/api/v1/individuals/{ghost}/organizations", {"organization_id": acme["id"]}),
        ("POST", base, {"organization_id": ghost}),
        ("GET", f"/api/v1/individuals/{ghost}/organizations", None),
        ("GET", f"{base}/{ghost}", None),
        ("PATCH", f"{base}/{ghost}", {"role": "x"}),
        ("DELETE", f"{base}/{ghost}", None),
        ("GET", f"/api/v1/organizations/{ghost}/people", None),
    ]:
        r = await client.request(method, url, json=body)
        assert r.status_code == 404, (method, url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")

    # a deleted organisation cannot be linked; a deleted person has no links to show
    gone = await make_org("Gone AS")
    assert (await client.delete(f"/api/v1/organizations/{gone['id']}")).status_code == 204
    r = await client.post(base, json={"organization_id": gone["id"]})
    assert r.status_code == 404
    x = await link(kari, acme)
    other = await make_person("Ola", "Hansen")
    assert (
        await client.get(f"/api/v1/individuals/{other['id']}/organizations/{x['id']}")
    ).status_code == 404
    assert (
        await client.delete(f"/api/v1/individuals/{other['id']}/organizations/{x['id']}")
    ).status_code == 404
    assert (await client.delete(f"/api/v1/individuals/{kari['id']}")).status_code == 204
    assert (await client.get(base)).status_code == 404
    assert (await client.post(base, json={"organization_id": acme["id"]})).status_code == 404


async def test_identical_current_link_is_409(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari, acme = await make_person(), await make_org()
    first = await link(kari, acme, role="CEO")
    base = f"/api/v1/individuals/{kari['id']}/organizations"
    r = await client.post(base, json={"organization_id": acme["id"], "role": "ceo"})
    assert r.status_code == 409, r.text
    assert r.json()["link_id"] == first["id"]
    assert "already linked to Acme AS as ceo" in r.json()["detail"]
    board = await link(kari, acme, role="board member")  # another role is another link
    r = await client.patch(f"{base}/{board['id']}", json={"role": "CEO"})
    assert r.status_code == 409
    without_role = await link(kari, acme)
    r = await client.post(base, json={"organization_id": acme["id"], "role": None})
    assert r.status_code == 409 and r.json()["link_id"] == without_role["id"]
    # reopening an ended link that now repeats a current one
    await client.patch(f"{base}/{board['id']}", json={"end_date": days(-1), "role": "CEO"})
    r = await client.patch(f"{base}/{board['id']}", json={"end_date": None})
    assert r.status_code == 409


async def test_validation_errors_list_every_field(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari, acme = await make_person(), await make_org()
    base = f"/api/v1/individuals/{kari['id']}/organizations"
    r = await client.post(
        base,
        json={"organization_id": acme["id"], "start_date": "2024-05-01", "end_date": "2024-04-30"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["end_date"]

    r = await client.post(
        base,
        json={
            "organization_id": "not-a-uuid",
            "role": 5,
            "primary": "yes",
            "start_date": "yesterday",
            "colour": "red",
        },
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == 422 and body["type"].endswith("/validation-failed")
    assert {e["field"] for e in body["errors"]} == {
        "organization_id",
        "role",
        "primary",
        "start_date",
        "colour",
    }

    r = await client.post(base, json={"role": "CEO"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["organization_id"]
    r = await client.post(base, json={"organization_id": acme["id"], "role": "x" * 101})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["role"]
    r = await client.post(base, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "body"
    r = await client.post(
        base, json={"organization_id": acme["id"], "primary": True, "end_date": days(-1)}
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["primary"]
    r = await client.post(base, json={"organization_id": acme["id"], "notes": "a\u0000b"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["notes"]

    x = await link(kari, acme, start_date="2024-05-01")
    url = f"{base}/{x['id']}"
    r = await client.patch(url, json={"end_date": "2024-04-01"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["end_date"]
    r = await client.patch(
        url, json={"primary": None, "organization_id": acme["id"], "end_date": "soon"}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"primary", "organization_id", "end_date"}
    r = await client.patch(url, json={"end_date": days(-1), "primary": True})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["primary"]
    assert (await client.get(url)).json() == x  # nothing changed


async def test_link_changes_give_the_person_a_new_version(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari = await make_person()
    r = await client.get(f"/api/v1/individuals/{kari['id']}")
    etag = r.headers["etag"]
    await link(kari, await make_org())
    r = await client.get(f"/api/v1/individuals/{kari['id']}", headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["version"] == kari["version"] + 1
    assert r.json()["organizations"][0]["name"] == "Acme AS"


def _by(events: list[Any], entity: str) -> list[Any]:
    return [
        e for e in events if e.entity == entity and e.action in ("link", "link_update", "unlink")
    ]


async def test_every_change_is_an_event_on_both_records(
    client: httpx.AsyncClient, make_person: Make, make_org: Make, link: Make
) -> None:
    kari, acme = await make_person(), await make_org()
    other = await make_org("Globex AB")
    example_plugin.COMMITTED.clear()
    x = await link(kari, acme, role="CEO")
    people, orgs = (
        _by(example_plugin.COMMITTED, "individual"),
        _by(example_plugin.COMMITTED, "organization"),
    )
    assert [(e.action, str(e.record_id)) for e in people] == [("link", kari["id"])]
    assert [(e.action, str(e.record_id)) for e in orgs] == [("link", acme["id"])]
    person_event, org_event = people[0], orgs[0]
    assert person_event.summary == "linked to Acme AS as CEO"
    assert org_event.summary == "Kari Nordmann linked as CEO"
    assert [(r.entity, str(r.id)) for r in person_event.related] == [("organization", acme["id"])]
    assert [(r.entity, str(r.id)) for r in org_event.related] == [("individual", kari["id"])]
    change = person_event.changes[0]
    assert change.field == "organizations" and change.old is None
    assert (
        change.new["role"] == "CEO"
        and change.new["organization"] == "Acme AS"
        and change.new["primary"] is True
    )
    assert org_event.changes[0].field == "people" and org_event.changes[0].new == change.new
    assert person_event.source == "api" and person_event.actor.kind == "api_key"
    assert person_event.data["link_id"] == x["id"]

    example_plugin.COMMITTED.clear()
    y = await link(kari, other, role="advisor", primary=True)
    moved = _by(example_plugin.COMMITTED, "individual")[0].data["primary_moved"]
    assert moved == {"from": x["id"], "to": y["id"]}

    example_plugin.COMMITTED.clear()
    r = await client.patch(
        f"/api/v1/individuals/{kari['id']}/organizations/{x['id']}",
        json={"end_date": TODAY.isoformat()},
    )
    assert r.status_code == 200
    people, orgs = (
        _by(example_plugin.COMMITTED, "individual"),
        _by(example_plugin.COMMITTED, "organization"),
    )
    assert [e.action for e in people] == ["link_update"] and [e.action for e in orgs] == [
        "link_update"
    ]
    assert people[0].summary == "link to Acme AS ended"
    assert (
        people[0].changes[0].old["end_date"] is None
        and people[0].changes[0].new["end_date"] == TODAY.isoformat()
    )

    example_plugin.COMMITTED.clear()
    r = await client.patch(
        f"/api/v1/individuals/{kari['id']}/organizations/{x['id']}", json={"notes": None}
    )
    assert r.status_code == 200 and example_plugin.COMMITTED == []  # nothing changed: no event

    r = await client.delete(f"/api/v1/individuals/{kari['id']}/organizations/{y['id']}")
    assert r.status_code == 204
    people, orgs = (
        _by(example_plugin.COMMITTED, "individual"),
        _by(example_plugin.COMMITTED, "organization"),
    )
    assert [(e.action, e.summary) for e in people] == [("unlink", "unlinked from Globex AB")]
    assert [(e.action, str(e.record_id)) for e in orgs] == [("unlink", other["id"])]
    assert people[0].changes[0].new is None and people[0].changes[0].old["role"] == "advisor"


class Veto:
    """A throwaway plugin that vetoes the organisation side of a link, inside the transaction."""

    @staticmethod
    @hookimpl
    def record_changed(event: Any) -> None:
        if event.entity == "organization" and event.action == "link":
            raise ValidationFailed("vetoed by a test plugin")


@pytest.mark.parametrize("plugins", [{"example": example_plugin, "veto": Veto}])
async def test_link_and_its_events_are_one_transaction(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make
) -> None:
    kari, acme = await make_person(), await make_org()
    example_plugin.COMMITTED.clear()
    r = await client.post(
        f"/api/v1/individuals/{kari['id']}/organizations", json={"organization_id": acme["id"]}
    )
    assert r.status_code == 422 and r.json()["detail"] == "vetoed by a test plugin"
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual_organization") == 0
    assert (await client.get(f"/api/v1/individuals/{kari['id']}")).json()["version"] == kari[
        "version"
    ]
    assert example_plugin.COMMITTED == []


async def test_hard_delete_takes_the_links_along(
    client: httpx.AsyncClient, runtime: Runtime, make_person: Make, make_org: Make, link: Make
) -> None:
    kari, ola = await make_person(), await make_person("Ola", "Hansen")
    acme, globex = await make_org(), await make_org("Globex AB")
    await link(kari, acme, role="CEO")
    await link(kari, globex, role="advisor")
    await link(ola, acme, role="CFO")
    example_plugin.COMMITTED.clear()
    assert (
        await client.delete(f"/api/v1/organizations/{acme['id']}", params={"hard": "true"})
    ).status_code == 204
    links = await links_of(client, kari)
    assert [(x["organization"]["name"], x["primary"]) for x in links] == [("Globex AB", True)]
    version = (await client.get(f"/api/v1/individuals/{kari['id']}")).json()["version"]
    assert version == kari["version"] + 3  # two links, then the organisation went
    assert await links_of(client, ola) == []
    unlinked = [e for e in example_plugin.COMMITTED if e.action == "unlink"]
    assert sorted(str(e.record_id) for e in unlinked) == sorted([kari["id"], ola["id"]])
    assert (
        await client.delete(f"/api/v1/individuals/{kari['id']}", params={"hard": "true"})
    ).status_code == 204
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual_organization") == 0
    r = await client.get(f"/api/v1/organizations/{globex['id']}/people")
    assert r.json()["data"] == []


async def test_concurrent_links_keep_one_primary(
    client: httpx.AsyncClient, make_person: Make, make_org: Make
) -> None:
    kari = await make_person()
    orgs = [await make_org(f"Org {i}") for i in range(8)]
    base = f"/api/v1/individuals/{kari['id']}/organizations"
    responses = await asyncio.gather(
        *(
            client.post(
                base, json={"organization_id": o["id"], "role": "staff", "primary": i % 2 == 0}
            )
            for i, o in enumerate(orgs)
        )
    )
    assert [r.status_code for r in responses] == [201] * 8
    links = await links_of(client, kari)
    assert len(links) == 8 and sum(x["primary"] for x in links) == 1
