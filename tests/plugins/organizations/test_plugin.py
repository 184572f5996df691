"""Organisations as an optional plugin: individuals work without it; it needs them."""

from __future__ import annotations

import httpx
import pytest
from crmkit.core import PluginError, Runtime
from crmkit.core.migrate import Migrator
from crmkit.core.plugins import PluginHost

from tests.conftest import make_settings


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


def test_organizations_need_individuals() -> None:
    with pytest.raises(PluginError, match="'organizations' requires 'individuals'"):
        PluginHost(["organizations"])
    with pytest.raises(PluginError, match="'organizations' requires 'individuals'"):
        Runtime.create(make_settings("sqlite:///unused.db", plugins=["organizations"]))


async def test_migrations_go_back_and_forth(runtime: Runtime) -> None:
    migrator = Migrator(runtime)
    undone = await migrator.backwards(1, "organizations")
    assert [m.id for m in undone] == ["0001_initial"]
    with pytest.raises(Exception):  # noqa: B017 - the table is gone (engine-specific error)
        await runtime.db.fetch("SELECT 1 FROM individual_organization")
    ran = await migrator.forwards("organizations")
    assert [m.app for m in ran] == ["organizations"]
    assert await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual_organization") == 0
