"""``crmkit demo``: realistic people (and organisations), planted duplicates, one line on errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
from click.testing import CliRunner, Result
from crmkit.cli.main import create_cli
from crmkit.core import Runtime, load_settings
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.plugins.individuals.demo import plan_demo, typo
from crmkit.plugins.individuals.normalize import DEFAULT_TYPES, Config, normalise

KEEP = {"CRMKIT_TEST_POSTGRES_URL", "CRMKIT_REQUIRE_POSTGRES"}


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The CLI pointed at the test's empty database, with no settings file."""
    for name in [n for n in os.environ if n.startswith("CRMKIT_") and n not in KEEP]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMKIT_CONFIG", str(tmp_path / "crmkit.toml"))
    monkeypatch.setenv("CRMKIT_DATABASE_URL", db_url)
    return db_url


def crmkit(*args: str) -> Result:
    argv = list(args)
    return CliRunner().invoke(create_cli(argv), argv, catch_exceptions=False)


async def _inspect(db_url: str, plugins: list[str]) -> dict[str, Any]:
    settings = load_settings({"CRMKIT_CONFIG": os.devnull}, database_url=db_url, plugins=plugins)
    async with Runtime.create(settings) as runtime:
        _, key = await create_key(runtime, name="demo-test", role="admin")
        app = create_app(runtime=runtime)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            people = (
                await client.get("/api/v1/individuals", params={"limit": 500, "count": "true"})
            ).json()
            pairs = (
                await client.get("/api/v1/individuals/duplicates", params={"min_score": 0.9})
            ).json()
            orgs = None
            if "organizations" in plugins:
                orgs = (
                    await client.get(
                        "/api/v1/organizations", params={"limit": 500, "count": "true"}
                    )
                ).json()
        links = []
        if "organizations" in plugins:
            links = await runtime.db.fetch(
                'SELECT individual_id, "primary", end_date, role FROM individual_organization'
            )
    return {"people": people, "orgs": orgs, "pairs": pairs, "links": links}


def _valid_e164(number: str) -> bool:
    parsed = phonenumbers.parse(number)
    return (
        phonenumbers.is_valid_number(parsed)
        and phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number
    )


def test_demo_with_organizations(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,organizations")
    assert crmkit("migrate").exit_code == 0
    result = crmkit("demo", "--count", "80", "--seed", "11")
    assert result.exit_code == 0, result.output
    assert "Created 80 people, 10 organisations and " in result.output
    assert "(seed 11)" in result.output

    seen = asyncio.run(_inspect(database, ["individuals", "organizations"]))
    people, orgs = seen["people"], seen["orgs"]
    assert people["total"] == 80 and orgs["total"] == 10
    assert all(_valid_e164(p["number"]) for x in people["data"] + orgs["data"] for p in x["phones"])
    assert all(x["emails"] and x["phones"] for x in people["data"])
    assert {p["type"] for p in people["data"]} <= set(DEFAULT_TYPES)
    assert all(o["domain"] and o["website"].startswith("https://www.") for o in orgs["data"])
    # one primary link for everyone with a current link; some links ended; one CEO each org
    today = dt.date.today()
    current = [x for x in seen["links"] if x["end_date"] is None or x["end_date"] > today]
    assert sum(1 for x in seen["links"] if x not in current) > 0
    holders = {str(x["individual_id"]) for x in current}
    primaries = [str(x["individual_id"]) for x in current if x["primary"]]
    assert sorted(primaries) == sorted(holders)
    assert sum(1 for x in seen["links"] if x["role"] == "CEO") >= 10
    with_orgs = [p for p in people["data"] if p["organizations"]]
    assert len(with_orgs) > 40
    assert all(sum(o["primary"] for o in p["organizations"]) == 1 for p in with_orgs)
    # the planted duplicates are found
    reasons = [r for pair in seen["pairs"] for r in pair["reasons"]]
    assert any(r.startswith("same email") for r in reasons), seen["pairs"]
    assert any(r.startswith("same phone") for r in reasons), seen["pairs"]


def test_demo_with_individuals_alone(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals")
    assert crmkit("migrate").exit_code == 0
    result = crmkit("demo", "--count", "30", "--seed", "2")
    assert result.exit_code == 0, result.output
    assert "Created 30 people (seed 2)." in result.output
    seen = asyncio.run(_inspect(database, ["individuals"]))
    assert seen["people"]["total"] == 30
    assert "organizations" not in seen["people"]["data"][0]
    assert seen["pairs"]


def test_demo_if_empty_adds_data_only_once(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals")
    assert crmkit("migrate").exit_code == 0
    first = crmkit("demo", "--count", "12", "--seed", "3", "--if-empty")
    assert first.exit_code == 0, first.output
    assert "Created 12 people (seed 3)." in first.output
    again = crmkit("demo", "--count", "12", "--seed", "4", "--if-empty")
    assert again.exit_code == 0, again.output
    assert "no demo data added" in again.output
    seen = asyncio.run(_inspect(database, ["individuals"]))
    assert seen["people"]["total"] == 12


def test_demo_needs_a_migrated_database(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,organizations")
    result = crmkit("demo", "--count", "5")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: the database has no individual table: run `crmkit migrate` first "
        "(demo needs a migrated database)"
    )
    assert crmkit("migrate", "--plugin", "individuals").exit_code == 0
    result = crmkit("demo", "--count", "5")
    assert result.exit_code == 1 and "no organization table" in result.output
    assert crmkit("demo", "--count", "0").exit_code == 2  # usage error


def test_the_plan_is_realistic_and_passes_normalisation() -> None:
    plan = plan_demo(400, seed=3)
    assert len(plan.people) == 400 and len(plan.organizations) == 50
    names = [(p.values["first_name"], p.values["last_name"]) for p in plan.people]
    for famous in [
        ("Kari", "Nordmann"),
        ("Ola", "Hansen"),
        ("Åse", "Ødegård"),
        ("José", "García"),
        ("Siobhán", "O'Brien"),
        ("Van An", "Nguyen"),
    ]:
        assert famous in names
    config = Config(default_region="NO", types=DEFAULT_TYPES)
    countries = set()
    for person in plan.people:
        values = {k: v for k, v in person.values.items()}
        assert normalise(values, config, set()) == [], person.values
        countries.update(a["country"] for a in values["addresses"])
        current = [x for x in person.links if x.end_date is None]
        assert sum(x.primary for x in current) == (1 if current else 0)
        for x in person.links:
            assert x.end_date is None or x.start_date < x.end_date < dt.date.today()
    assert {"NO", "SE", "DE", "GB", "US"} <= countries
    emails = [e["address"] for p in plan.people for e in p.values["emails"]]
    planted = {why for _, _, why in plan.duplicates}
    assert planted == {"same email", "same phone"} and len(plan.duplicates) == 2 * (400 // 50)
    assert len(emails) - len(set(emails)) == 400 // 50  # only the planted ones repeat
    for values in plan.organizations:
        assert normalise({**values, "type": "customer"}, config, set()) == []


def test_the_same_seed_gives_the_same_data() -> None:
    day = dt.date(2025, 3, 1)
    first, again, other = (
        plan_demo(50, seed=9, today=day),
        plan_demo(50, seed=9, today=day),
        plan_demo(50, seed=10, today=day),
    )
    assert first == again
    assert first != other
    assert plan_demo(50, seed=9, today=day, with_organizations=False).organizations == []


def test_typo() -> None:
    rng = random.Random(1)
    for word in ("Kari", "Ola", "Siobhán", "Åse", "Jo"):
        for _ in range(20):
            out = typo(rng, word)
            assert out != word and out.lower() != word.lower() and len(out) >= 2
