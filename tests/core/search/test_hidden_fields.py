"""Fields a role cannot read are neither searched nor named in ``q`` by that role.

Set up like tests/core/api/test_field_permissions.py: a field rule on built-in fields,
``read_roles`` on a custom field, keys of the built-in roles.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.db.sql import sql

from .conftest import PEOPLE, Make, name, pages


async def _rule(runtime: Runtime, field: str, read: list[str]) -> None:
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_field_permission (entity, field, read_roles, write_roles, "
            "updated_at) VALUES ('individual', {}, {}, {}, CURRENT_TIMESTAMP)",
            field,
            json.dumps(read),
            json.dumps(read),
        )
    )
    runtime.permissions.invalidate()


@pytest.fixture
async def keys(
    runtime: Runtime, client: httpx.AsyncClient, person: Make, field: Make
) -> dict[str, dict[str, str]]:
    await field("codename", "text", read_roles=["manager"], write_roles=["manager"])
    await field("shoe", "text")
    await person(
        "Kari",
        "Nordmann",
        job_title="Astronautzz",
        emails=[{"address": "kari@hiddendomain.example"}],
        custom={"codename": "Bluebird", "shoe": "Sneakerzz"},
    )
    await person("Ola", "Svensson", job_title="Pilot")
    await _rule(runtime, "job_title", ["manager"])
    await _rule(runtime, "emails", ["manager"])
    await _rule(runtime, "last_name", ["manager"])  # and with it the display name
    out = {}
    for role in ("viewer", "manager"):
        _, key = await create_key(runtime, name=role, role=role)
        out[role] = {"Authorization": f"Bearer {key}"}
    return out


async def _found(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, **params: str
) -> list[str]:
    records = await pages(client, headers=headers, q=q, **params)
    return [r["first_name"] for r in records]


async def test_hidden_fields_are_not_searched(
    client: httpx.AsyncClient, keys: dict[str, Any]
) -> None:
    viewer, manager = keys["viewer"], keys["manager"]
    # (an explicit sort: the default one is on last_name, hidden from the viewer)
    for q in ("astronautzz", "hiddendomain", "bluebird", "nordmann", '"kari nordmann"'):
        assert await _found(client, viewer, q, sort="created_at") == [], q
        assert await _found(client, manager, q, sort="created_at") == ["Kari"], q
    # what the viewer may read is searched as usual (a name word, a visible custom field)
    assert await _found(client, viewer, "kari", sort="created_at") == ["Kari"]
    assert await _found(client, viewer, "sneakerzz", sort="created_at") == ["Kari"]
    # Ola's title is hidden
    assert await _found(client, viewer, "pilot OR kari", sort="created_at") == ["Kari"]
    assert await _found(client, manager, "pilot OR kari", sort="created_at") == ["Kari", "Ola"]


async def test_a_hidden_field_is_an_unknown_field(
    client: httpx.AsyncClient, keys: dict[str, Any]
) -> None:
    viewer, manager = keys["viewer"], keys["manager"]

    async def problem(q: str) -> dict[str, Any]:
        r = await client.get(PEOPLE, params={"q": q, "sort": "created_at"}, headers=viewer)
        assert r.status_code == 400, (q, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        return r.json()

    for hidden, unknown in (
        ("job_title", "jab_title"),
        ("email", "emale"),
        ("custom.codename", "custom.codenome"),
        ("last_name", "lost_name"),
        ("name", "nome"),  # the display name shows the hidden last name
    ):
        shown, other = await problem(f"{hidden}:x"), await problem(f"{unknown}:x")
        assert shown["title"] == other["title"]
        assert shown["detail"].replace(hidden, "?") == other["detail"].replace(unknown, "?")
        assert shown["position"] == other["position"] == 0
        assert [e["field"] for e in shown["errors"]] == ["q"]
    # the manager may use them
    r = await client.get(
        PEOPLE, params={"q": "job_title:astro email:hiddendomain"}, headers=manager
    )
    assert [name(p) for p in r.json()["data"]] == ["Kari Nordmann"]
    r = await client.get(PEOPLE, params={"q": "custom.codename:bluebird"}, headers=manager)
    assert [name(p) for p in r.json()["data"]] == ["Kari Nordmann"]


async def test_the_rank_does_not_reveal_hidden_matches(
    client: httpx.AsyncClient, runtime: Runtime, person: Make, note: Make
) -> None:
    """Two people match "zeta" in a note; one also in a hidden field, which ranks higher:
    for the viewer they tie (the default sort decides), the manager sees her first."""
    anna = await person("Anna", "Aas")
    berit = await person("Berit", "Berg", job_title="Zeta")
    await note(anna, "zeta")
    await note(berit, "zeta")
    await _rule(runtime, "job_title", ["manager"])
    heads = {}
    for role in ("viewer", "manager"):
        _, key = await create_key(runtime, name=role, role=role)
        heads[role] = {"Authorization": f"Bearer {key}"}
    assert await _found(client, heads["viewer"], "zeta") == ["Anna", "Berit"]
    assert await _found(client, heads["manager"], "zeta") == ["Berit", "Anna"]
