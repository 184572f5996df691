"""Organisations and individuals are each optional: either works alone, links need both."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from crmkit.cli.main import create_cli
from crmkit.core import Runtime, sql
from crmkit.core.migrate import Migrator
from crmkit.core.plugins import PluginHost


@pytest.mark.parametrize("plugins", [{}])
@pytest.mark.parametrize("enabled", [["individuals"]])
async def test_individuals_alone(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert "organization" not in runtime.plugins.entities
    assert {app.app_name for _, app in Migrator(runtime).apps()} == {"core", "individuals"}
    r = await client.post(
        "/api/v1/individuals", json={"first_name": "Kari", "last_name": "Nordmann"}
    )
    assert r.status_code == 201, r.text
    kari = r.json()
    assert "organizations" not in kari
    r = await client.get("/api/v1/individuals", params={"organization": kari["id"]})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "organization"
    r = await client.get("/api/v1/individuals", params={"organization_role": "CEO"})
    assert r.status_code == 400
    assert (await client.get(f"/api/v1/individuals/{kari['id']}/organizations")).status_code == 404
    assert (await client.get("/api/v1/organizations")).status_code == 404
    tabs = (await client.get(f"/api/v1/individuals/{kari['id']}/tabs")).json()
    assert "organizations" not in [t["key"] for t in tabs]
    r = await client.get("/api/v1/individuals/duplicates")
    assert r.status_code == 200


@pytest.mark.parametrize("plugins", [{}])
@pytest.mark.parametrize("enabled", [["individuals", "organizations"]])
async def test_individuals_and_organizations(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert runtime.plugins.loaded == ["individuals", "organizations"]
    assert [app.app_name for _, app in Migrator(runtime).apps()] == [
        "core",
        "individuals",
        "organizations",
    ]
    kari = (
        await client.post(
            "/api/v1/individuals", json={"first_name": "Kari", "last_name": "Nordmann"}
        )
    ).json()
    acme = (await client.post("/api/v1/organizations", json={"name": "Acme AS"})).json()
    assert kari["organizations"] == []
    r = await client.post(
        f"/api/v1/individuals/{kari['id']}/organizations", json={"organization_id": acme["id"]}
    )
    assert r.status_code == 201
    r = await client.get("/api/v1/individuals", params={"organization": acme["id"]})
    assert [p["id"] for p in r.json()["data"]] == [kari["id"]]
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/organizations/{record_id}/people" in schema["paths"]
    assert "/api/v1/individuals/{record_id}/organizations/{link_id}" in schema["paths"]
    people = (await client.get(f"/api/v1/organizations/{acme['id']}/people")).json()["data"]
    assert [m["individual_id"] for m in people] == [kari["id"]]
    tabs = (await client.get(f"/api/v1/organizations/{acme['id']}/tabs")).json()
    assert [(t["key"], t["count"]) for t in tabs] == [("details", 1), ("people", 1)]
    tabs = (await client.get(f"/api/v1/individuals/{kari['id']}/tabs")).json()
    assert ("organizations", 1) in [(t["key"], t["count"]) for t in tabs]


@pytest.mark.parametrize("plugins", [{}])
@pytest.mark.parametrize("enabled", [["organizations"]])
async def test_organizations_alone(client: httpx.AsyncClient, runtime: Runtime) -> None:
    assert runtime.plugins.loaded == ["organizations"]
    assert "individual" not in runtime.plugins.entities
    assert {app.app_name for _, app in Migrator(runtime).apps()} == {"core", "organizations"}
    r = await client.post(
        "/api/v1/organizations",
        json={
            "name": "  Acme   AS ",
            "website": "WWW.Acme.NO",
            "emails": [{"address": " Post@ACME.no "}],
            "phones": [{"number": "22 12 34 56"}],
            "addresses": [{"postal_code": "0150", "city": "Oslo", "country": "Norway"}],
        },
    )
    assert r.status_code == 201, r.text
    acme = r.json()
    assert (acme["name"], acme["domain"]) == ("Acme AS", "acme.no")
    assert [e["address"] for e in acme["emails"]] == ["post@acme.no"]
    assert acme["phones"][0]["number"] == "+4722123456"
    assert acme["addresses"][0]["country"] == "NO"
    r = await client.post(
        "/api/v1/organizations", json={"name": "Bad", "emails": [{"address": "x"}]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "emails[0].address"
    r = await client.patch(f"/api/v1/organizations/{acme['id']}", json={"industry": "Software"})
    assert r.status_code == 200 and r.json()["industry"] == "Software"
    listed = (await client.get("/api/v1/organizations", params={"q": "acme"})).json()["data"]
    assert [o["id"] for o in listed] == [acme["id"]]

    assert (await client.get(f"/api/v1/organizations/{acme['id']}/people")).status_code == 404
    tabs = (await client.get(f"/api/v1/organizations/{acme['id']}/tabs")).json()
    assert [t["key"] for t in tabs] == ["details"]
    assert [t.key for t in runtime.plugins.tabs_for("organization")] == ["details"]
    r = await client.get(f"/api/v1/organizations/{acme['id']}/tabs/people")
    assert r.status_code == 404
    overview = (await client.get(f"/api/v1/organizations/{acme['id']}/overview")).json()
    assert [t["key"] for t in overview["tabs"]] == ["details"]
    assert (await client.get("/api/v1/individuals")).status_code == 404
    someone = uuid.uuid4()
    assert (await client.get(f"/api/v1/individuals/{someone}/organizations")).status_code == 404
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert "/api/v1/organizations" in paths
    assert not [p for p in paths if p.startswith("/api/v1/individuals")]
    assert not [p for p in paths if p.endswith("/people")]

    # a stale link (left from when individuals was on) does not make it read people
    now = dt.datetime.now(dt.UTC)
    await runtime.db.execute(
        sql(
            "INSERT INTO individual_organization (id, individual_id, organization_id, "
            '"primary", created_at, updated_at) VALUES ({}, {}, {}, {}, {}, {})',
            uuid.uuid4(),
            someone,
            uuid.UUID(acme["id"]),
            True,
            now,
            now,
        )
    )
    r = await client.delete(f"/api/v1/organizations/{acme['id']}", params={"hard": "true"})
    assert r.status_code == 204, r.text
    assert (await client.get(f"/api/v1/organizations/{acme['id']}")).status_code == 404


def test_the_people_tab_needs_the_individual_entity() -> None:
    alone = PluginHost(["organizations"])
    assert [t.key for t in alone.tabs if t.entity == "organization"] == []
    both = PluginHost(["individuals", "organizations"])
    assert [t.key for t in both.tabs_for("organization")] == ["details", "people"]
    assert "organizations" in [t.key for t in both.tabs_for("individual")]
    assert both.loaded == ["individuals", "organizations"]  # ``after`` orders them


def test_demo_needs_individuals(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMKIT_CONFIG", str(tmp_path / "crmkit.toml"))
    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path}/crmkit.db")
    monkeypatch.setenv("CRMKIT_PLUGINS", "organizations")
    argv = ["demo", "--count", "5", "--seed", "1"]
    result = CliRunner().invoke(create_cli(argv), argv, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: demo needs the individuals plugin, which is not enabled "
        "(`crmkit plugins enable individuals`)"
    ]
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,organizations")
    argv = ["demo", "--help"]
    result = CliRunner().invoke(create_cli(argv), argv, catch_exceptions=False)
    assert result.exit_code == 0 and "--count" in result.output  # the real one, then


async def test_migrations_go_back_and_forth(runtime: Runtime) -> None:
    migrator = Migrator(runtime)
    undone = await migrator.backwards(1, "organizations")
    assert [m.id for m in undone] == ["0002_owner"]
    with pytest.raises(Exception):  # noqa: B017 - the column is gone (engine-specific error)
        await runtime.db.fetch("SELECT owner_id FROM organization")
    undone = await migrator.backwards(1, "organizations")
    assert [m.id for m in undone] == ["0001_initial"]
    with pytest.raises(Exception):  # noqa: B017 - the table is gone (engine-specific error)
        await runtime.db.fetch("SELECT 1 FROM individual_organization")
    ran = await migrator.forwards("organizations")
    assert [(m.app, m.id) for m in ran] == [
        ("organizations", "0001_initial"),
        ("organizations", "0002_owner"),
    ]
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual_organization") == 0
