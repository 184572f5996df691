"""``crmkit fields``: definitions made on the command line work like those of the API.

The CLI runs against a real database (SQLite and PostgreSQL); what it defines is then
used through the API in-process, on the same database, as an integrator would.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from crmkit.cli.context import with_runtime
from crmkit.core import Runtime
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key
from crmkit.core.plugins import PluginHost

from .output import Invoke, rows, table

T = TypeVar("T")
PEOPLE = "/api/v1/individuals"
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
HEADER = ["entity", "key", "label", "type", "required", "filterable", "sortable", "archived"]
RATING = "tests.core.custom_fields.rating_plugin"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "custom-fields.md"


@pytest.fixture
def crm(invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database with the individuals plugin enabled."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals")
    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.output
    return database


def through_api(fn: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """``fn(client)`` with an admin client of the API on the CLI's database and plugins."""

    async def go(runtime: Runtime) -> T:
        _, key = await create_key(runtime, name="tests", role="admin")
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            return await fn(client)

    return with_runtime(go)


def definitions(invoke: Invoke, *args: str) -> list[dict[str, Any]]:
    listed = invoke("fields", "list", "--json", *args)
    assert listed.exit_code == 0, listed.output
    return [json.loads(line) for line in listed.stdout.splitlines()]


def one_line_error(result: Any, code: int = 1) -> str:
    """The error line: alone on stderr (exit 1), or after click's usage lines (exit 2)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    if code == 1:
        assert len(lines) == 1, result.stderr
    return lines[-1]


def test_add_use_remove_restore(invoke: Invoke, crm: str) -> None:
    added = invoke(
        "fields", "add", "individual", "budget", "--type", "number", "--label", "Budget",
        "--min", "0", "--filterable", "--sortable",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("added the custom field individual.budget (number, id ")

    listing = invoke("fields", "list")
    assert listing.exit_code == 0, listing.output
    assert rows(listing.stdout) == [
        HEADER,
        ["individual", "budget", "Budget", "number", "no", "yes", "yes", "-"],
    ]
    (made,) = definitions(invoke, "individuals")  # the plural names the entity too
    assert made["validation"] == {"min": 0}
    assert (made["filterable"], made["sortable"], made["archived_at"]) == (True, True, None)

    async def use(client: httpx.AsyncClient) -> str:
        ids = {}
        for name, budget in [("Ada", 1200), ("Bob", 50.5), ("Cy", 300)]:
            r = await client.post(
                PEOPLE, json={"first_name": name, "last_name": "X", "custom": {"budget": budget}}
            )
            assert r.status_code == 201, r.text
            assert r.json()["custom"] == {"budget": budget}
            ids[name] = r.json()["id"]
        r = await client.get(PEOPLE, params={"custom.budget__gte": "300", "sort": "-custom.budget"})
        assert [p["first_name"] for p in r.json()["data"]] == ["Ada", "Cy"]
        r = await client.post(
            PEOPLE, json={"first_name": "Di", "last_name": "X", "custom": {"budget": -1}}
        )
        assert r.status_code == 422  # the CLI's --min 0 is the API's rule
        assert r.json()["errors"] == [{"field": "custom.budget", "message": "must be at least 0"}]
        return ids["Ada"]

    ada = through_api(use)

    removed = invoke("fields", "remove", "individual", "budget")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == (
        "archived the custom field individual.budget; records keep its values "
        "(`crmkit fields restore individual budget` brings it back)\n"
    )
    assert invoke("fields", "list").stdout == (
        "there are no custom fields (add one with `crmkit fields add`)\n"
    )
    archived = table(invoke("fields", "list", "individual", "--archived").stdout)["individual"]
    assert TIME.fullmatch(archived[-1])
    again = invoke("fields", "remove", "individual", "budget")
    assert again.exit_code == 0
    assert again.stdout.startswith("the custom field individual.budget was archived already, on ")

    async def while_archived(client: httpx.AsyncClient) -> None:
        url = f"{PEOPLE}/{ada}"
        assert (await client.get(url)).json()["custom"] == {"budget": 1200}
        r = await client.patch(url, json={"custom": {"budget": 5}})
        assert r.status_code == 422, r.text
        r = await client.patch(url, json={"job_title": "Analyst"})
        assert r.status_code == 200, r.text
        assert r.json()["custom"] == {"budget": 1200}  # kept through other writes
        r = await client.get(PEOPLE, params={"custom.budget__gte": "1000"})
        assert [p["id"] for p in r.json()["data"]] == [ada]  # still filters on kept values

    through_api(while_archived)

    restored = invoke("fields", "restore", "individual", "budget")
    assert restored.exit_code == 0, restored.output
    assert restored.stdout == (
        "restored the custom field individual.budget, with the values records kept\n"
    )
    assert rows(invoke("fields", "list").stdout)[1][-1] == "-"
    assert invoke("fields", "restore", "individual", "budget").stdout == (
        "the custom field individual.budget is not archived\n"
    )

    async def after_restore(client: httpx.AsyncClient) -> None:
        url = f"{PEOPLE}/{ada}"
        assert (await client.get(url)).json()["custom"] == {"budget": 1200}
        r = await client.patch(url, json={"custom": {"budget": 1500}})
        assert r.status_code == 200, r.text
        assert r.json()["custom"] == {"budget": 1500}

    through_api(after_restore)


def test_every_option_reaches_the_definition(invoke: Invoke, crm: str) -> None:
    result = invoke(
        "fields", "add", "individual", "extras", "--type", "multi_select", "--label", "Extras",
        "--option", "roof", "--option", "rails", "--max-selections", "1", "--required",
        "--default", '["roof"]', "--read-role", "admin", "--read-role", "agent",
        "--write-role", "admin",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(
        "fields", "add", "individual", "code", "--type", "text", "--min-length", "2",
        "--max-length", "3", "--pattern", "^[A-Z]+$", "--default", "AB",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(
        "fields", "add", "individual", "since", "--type", "date", "--min", "2000-01-01",
        "--max", "2099-12-31", "--sortable",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    extras, code, since = definitions(invoke)
    assert extras["options"] == [
        {"value": "roof", "label": "roof"},
        {"value": "rails", "label": "rails"},
    ]
    assert (extras["required"], extras["default"], extras["validation"]) == (
        True,
        ["roof"],
        {"max_selections": 1},
    )
    assert (extras["read_roles"], extras["write_roles"]) == (["admin", "agent"], ["admin"])
    assert code["default"] == "AB"  # not JSON: taken as text
    assert code["validation"] == {"min_length": 2, "max_length": 3, "pattern": "^[A-Z]+$"}
    assert since["validation"] == {"min": "2000-01-01", "max": "2099-12-31"}

    async def use(client: httpx.AsyncClient) -> None:
        r = await client.post(PEOPLE, json={"first_name": "Ada", "last_name": "X"})
        assert r.status_code == 201, r.text
        assert r.json()["custom"] == {"extras": ["roof"], "code": "AB"}  # the defaults
        r = await client.post(
            PEOPLE,
            json={
                "first_name": "Bo",
                "last_name": "X",
                "custom": {"extras": ["roof", "rails"], "code": "abc", "since": "1999-01-01"},
            },
        )
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {
            "custom.extras",
            "custom.code",
            "custom.since",
        }

    through_api(use)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["individual", "Bad-Key", "--type", "text"], "key: must match ^[a-z][a-z0-9_]{0,62}$"),
        (["individual", "colour", "--type", "hologram"], "type: must be one of: text, long_text,"),
        (["spaceship", "colour", "--type", "text"], "entity: must be one of: individual"),
        (["individual", "colour", "--type", "text", "--option", "red"],
         "options: a text field takes no options"),
        (["individual", "tier", "--type", "select"], "options: a select field needs options"),
        (["individual", "n", "--type", "number", "--min", "lots"],
         "validation.min: expected a number"),
        (["individual", "n", "--type", "number", "--pattern", "^x"],
         "validation.pattern: does not apply to a number field"),
        (["individual", "n", "--type", "integer", "--default", "1.5"],
         "default: expected a whole number"),
        (["individual", "n", "--type", "boolean", "--sortable"],
         "sortable: a boolean field cannot be sorted"),
        (["individual", "n", "--type", "text", "--read-role", "Boss!"],
         "read_roles: expected a list of role names"),
    ],
)  # fmt: skip
def test_bad_definitions_are_one_line_and_write_nothing(
    invoke: Invoke, crm: str, args: list[str], message: str
) -> None:
    line = one_line_error(invoke("fields", "add", *args))
    assert line.startswith("Error: invalid custom field definition ("), line
    assert message in line, line
    assert definitions(invoke, "--archived") == []


def test_every_problem_is_named_on_the_line(invoke: Invoke, crm: str) -> None:
    result = invoke("fields", "add", "individual", "Bad", "--type", "nope", "--max-length", "-1")
    line = one_line_error(result)
    fields = re.findall(r"(?:\(|; )([a-z_.]+): ", line)
    assert fields == ["key", "type", "validation.max_length"]
    result = invoke(
        "fields", "add", "individual", "n", "--type", "text", "--min-length", "-1",
        "--max-length", "0", "--pattern", "(",
    )  # fmt: skip
    line = one_line_error(result)
    assert re.findall(r"(?:\(|; )([a-z_.]+): ", line) == [
        "validation.min_length",
        "validation.pattern",
    ]


def test_a_key_is_never_reused(invoke: Invoke, crm: str) -> None:
    assert invoke("fields", "add", "individual", "tier", "--type", "text").exit_code == 0
    assert invoke("fields", "remove", "individual", "tier").exit_code == 0
    line = one_line_error(invoke("fields", "add", "individual", "tier", "--type", "number"))
    assert line == (
        "Error: individual already has an archived field with key 'tier'; keys are never "
        "reused (key: already used (keys are never reused))"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["individual"], "Error: missing KEY"),
        (["individual", "n"], "Error: missing --type (see `crmkit fields types`)"),
        (["individual", "n", "--type", "text", "--max-length", "many"],
         "Error: Invalid value for '--max-length': 'many' is not a valid integer."),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(invoke: Invoke, crm: str, args: list[str], message: str) -> None:
    assert one_line_error(invoke("fields", "add", *args), code=2) == message
    assert definitions(invoke) == []


def test_unknown_entity_or_key(invoke: Invoke, crm: str) -> None:
    for command in ("remove", "restore"):
        line = one_line_error(invoke("fields", command, "individual", "nope"))
        assert line == (
            "Error: individual has no custom field 'nope' (see `crmkit fields list individual`)"
        )
        line = one_line_error(invoke("fields", command, "spaceship", "nope"))
        assert line == "Error: no entity 'spaceship' (entities: individual)"
    assert one_line_error(invoke("fields", "list", "spaceship")) == (
        "Error: no entity 'spaceship' (entities: individual)"
    )
    assert invoke("fields", "list", "individual").stdout == (
        "individual has no custom fields (add one with `crmkit fields add`)\n"
    )


FILE = [
    {"key": "stage", "type": "select", "options": ["lead", {"value": "won", "label": "Won!"}],
     "default": "lead", "filterable": True},
    {"key": "paid", "type": "currency", "label": "Paid so far"},
    {"entity": "individual", "key": "nps", "type": "integer",
     "validation": {"min": 0, "max": 10}},
]  # fmt: skip


def test_from_json(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    path = tmp_path / "fields.json"
    path.write_text(json.dumps(FILE))
    result = invoke("fields", "add", "individuals", "--from-json", str(path))
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [
        "added the custom field individual.stage",
        "added the custom field individual.paid",
        "added the custom field individual.nps",
    ]
    stage, paid, nps = definitions(invoke)
    assert stage["options"][1] == {"value": "won", "label": "Won!"}
    assert (stage["default"], stage["filterable"]) == ("lead", True)
    assert (paid["label"], nps["validation"]) == ("Paid so far", {"min": 0, "max": 10})

    one = {"entity": "individual", "key": "score", "type": "number"}
    result = invoke("fields", "add", "--from-json", "-", input=json.dumps(one))
    assert result.exit_code == 0, result.output
    assert [d["key"] for d in definitions(invoke)] == ["stage", "paid", "nps", "score"]

    async def use(client: httpx.AsyncClient) -> None:
        body = {"first_name": "Ada", "last_name": "X", "custom": {"nps": 9, "score": 1.5}}
        r = await client.post(PEOPLE, json=body)
        assert r.status_code == 201, r.text
        assert r.json()["custom"] == {"stage": "lead", "nps": 9, "score": 1.5}
        r = await client.get(PEOPLE, params={"custom.stage": "lead"})
        assert [p["first_name"] for p in r.json()["data"]] == ["Ada"]

    through_api(use)


def test_from_json_is_all_or_nothing(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    bad = [
        {"entity": "individual", "key": "good", "type": "text"},
        {"entity": "individual", "key": "Bad", "type": "text"},
        {"entity": "individual", "key": "good", "type": "number"},
        {"entity": "individual", "key": "other", "type": "text", "colour": "red"},
    ]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    line = one_line_error(invoke("fields", "add", "--from-json", str(path)))
    assert line.startswith("Error: invalid custom field definitions; none of the 4 was added (")
    assert re.findall(r"(?:\(|; )(\[\d\][a-z_.]+): ", line) == [
        "[1].key",
        "[2].key",
        "[3].colour",
    ]
    assert definitions(invoke, "--archived") == []
    assert invoke("fields", "add", "--from-json", str(path), "--type", "text").exit_code == 2
    for text, message in [("nope", "not JSON"), ("[1, 2]", "expected a definition object")]:
        result = invoke("fields", "add", "--from-json", "-", input=text)
        assert message in one_line_error(result, code=2)
    assert definitions(invoke, "--archived") == []


def test_types_lists_builtin_and_plugin_types(
    invoke: Invoke, install: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No database is needed: the types come from the enabled plugins.
    monkeypatch.setenv("CRMKIT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/unreachable")
    result = invoke("fields", "types")
    assert result.exit_code == 0, result.output
    listed = table(result.stdout)
    assert listed["name"] == ["name", "label", "storage", "operators", "plugin"]
    assert listed["number"] == [
        "number", "Number", "number", "eq gt gte in isnull lt lte ne nin", "core"
    ]  # fmt: skip
    assert listed["select"] == ["select", "Dropdown", "text", "eq in isnull ne nin", "core"]
    assert {"text", "long_text", "integer", "date", "datetime", "boolean", "multi_select",
            "email", "phone", "url", "currency"} < set(listed)  # fmt: skip
    assert "rating" not in listed

    install(rating=RATING)
    monkeypatch.setenv("CRMKIT_PLUGINS", "rating")
    listed = table(invoke("fields", "types").stdout)
    assert listed["rating"] == [
        "rating", "Rating (1-5 stars)", "number", "eq gt gte isnull lt lte ne", "rating"
    ]  # fmt: skip
    as_json = [json.loads(line) for line in invoke("fields", "types", "--json").stdout.splitlines()]
    assert as_json[-1] == {
        "name": "rating",
        "label": "Rating (1-5 stars)",
        "storage": "number",
        "operators": ["eq", "gt", "gte", "isnull", "lt", "lte", "ne"],
        "plugin": "rating",
    }


def test_a_plugin_type_through_the_cli(
    invoke: Invoke, crm: str, install: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = one_line_error(invoke("fields", "add", "individual", "stars", "--type", "rating"))
    assert "type: must be one of:" in line
    install(rating=RATING)
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,rating")
    added = invoke("fields", "add", "individual", "stars", "--type", "rating", "--sortable")
    assert added.exit_code == 0, added.output

    async def use(client: httpx.AsyncClient) -> None:
        for name, stars in [("Ann", 2), ("Bo", 5)]:
            body = {"first_name": name, "last_name": "X", "custom": {"stars": stars}}
            assert (await client.post(PEOPLE, json=body)).status_code == 201
        r = await client.get(PEOPLE, params={"sort": "-custom.stars"})
        assert [p["custom"]["stars"] for p in r.json()["data"]] == [5, 2]

    through_api(use)


def _guide_types() -> dict[str, tuple[str, frozenset[str]]]:
    """The guide's table of built-in types: name -> (storage, operators)."""
    found = {}
    for line in GUIDE.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[a-z_]+`", cells[0]):
            operators = frozenset(re.findall(r"`(\w+)`", cells[4]))
            found[cells[0].strip("`")] = (cells[3].strip("`"), operators)
    return found


def test_the_guide_lists_every_builtin_type() -> None:
    """docs/custom-fields.md's type table is what core registers (kept correct by this)."""
    registry = PluginHost([]).field_types
    assert _guide_types() == {t.name: (t.storage, t.operators) for t in registry}


@pytest.fixture
def percent_plugin(install: Callable[..., None], tmp_path: Path) -> Iterator[None]:
    """The guide's example plugin, written from docs/custom-fields.md and installed."""
    text = GUIDE.read_text("utf-8")
    code = re.search(r"```python\n(# crmkit_percent/__init__.py\n.*?)```", text, re.S)
    assert code, "the guide's crmkit_percent example is missing"
    package = tmp_path / "site" / "crmkit_percent"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(code.group(1))
    install(percent="crmkit_percent")
    yield
    sys.modules.pop("crmkit_percent", None)


def test_the_guide_example_type_works(
    invoke: Invoke, crm: str, percent_plugin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,percent")
    assert table(invoke("fields", "types").stdout)["percent"] == [
        "percent", "Percentage", "number", "eq gt gte isnull lt lte ne", "percent"
    ]  # fmt: skip
    added = invoke(
        "fields", "add", "individual", "discount", "--type", "percent", "--max", "50",
        "--filterable", "--sortable",
    )  # fmt: skip
    assert added.exit_code == 0, added.output

    async def use(client: httpx.AsyncClient) -> None:
        for name, discount in [("Ada", "12.5%"), ("Bo", 40), ("Cy", 5)]:
            body = {"first_name": name, "last_name": "L", "custom": {"discount": discount}}
            r = await client.post(PEOPLE, json=body)
            assert r.status_code == 201, r.text
        r = await client.get(
            PEOPLE, params={"custom.discount__gte": "10", "sort": "-custom.discount"}
        )
        assert [p["custom"] for p in r.json()["data"]] == [{"discount": 40}, {"discount": 12.5}]
        for bad, message in [(60, "must be at most 50%"), ("lots", "expected a percentage")]:
            body = {"first_name": "Di", "last_name": "L", "custom": {"discount": bad}}
            r = await client.post(PEOPLE, json=body)
            assert r.status_code == 422
            (error,) = r.json()["errors"]
            assert error["field"] == "custom.discount" and error["message"].startswith(message)

    through_api(use)


# -- change-type, missing ----------------------------------------------------------------


def test_change_type_dry_run_refusal_and_forced_apply(invoke: Invoke, crm: str) -> None:
    assert invoke("fields", "add", "individual", "nps", "--type", "text").exit_code == 0

    async def make(client: httpx.AsyncClient) -> dict[str, str]:
        ids = {}
        for name, nps in [("Ada", "9"), ("Bo", " 10 "), ("Cy", "lots")]:
            body = {"first_name": name, "last_name": "X", "custom": {"nps": nps}}
            r = await client.post(PEOPLE, json=body)
            assert r.status_code == 201, r.text
            ids[name] = r.json()["id"]
        return ids

    ids = through_api(make)
    dry = invoke("fields", "change-type", "individuals", "nps", "--type", "integer")
    assert dry.exit_code == 0, dry.output
    lines = dry.stdout.splitlines()
    assert lines[:5] == [
        "dry run: individual.nps from text to integer; nothing was changed",
        "records with a value: 3 (soft-deleted ones included)",
        "convertible:          2 (2 change their form)",
        "unconvertible:        1",
        "values that cannot be converted:",
    ]
    assert rows("\n".join(lines[5:7])) == [
        ["record", "value", "reason"],
        [ids["Cy"], "lots", "expected a number"],
    ]
    assert lines[7:] == [
        "fix those values, or run it again with --apply --force to move them aside"
    ]
    assert [d["type"] for d in definitions(invoke)] == ["text"]

    refused = invoke("fields", "change-type", "individual", "nps", "--type", "integer", "--apply")
    assert one_line_error(refused) == (
        "Error: 1 value(s) of individual.nps cannot be converted to integer; nothing was "
        "changed: fix them, or add --force to move them aside"
    )
    assert "lots" in refused.stdout  # the report, on standard output
    (kept,) = definitions(invoke)
    assert (kept["type"], kept["version"]) == ("text", 1)

    forced = invoke(
        "fields", "change-type", "individual", "nps", "--type", "integer", "--apply", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines()[-2:] == [
        "changed individual.nps from text to integer",
        f"moved 1 value(s) aside: GET /api/v1/custom-fields/{kept['id']}/unconverted lists them",
    ]
    assert [d["type"] for d in definitions(invoke)] == ["integer"]

    async def after(client: httpx.AsyncClient) -> None:
        found = {}
        for name, rid in ids.items():
            found[name] = (await client.get(f"{PEOPLE}/{rid}")).json()["custom"]
        assert found == {"Ada": {"nps": 9}, "Bo": {"nps": 10}, "Cy": {}}
        r = await client.get(f"/api/v1/custom-fields/{kept['id']}/unconverted")
        assert [(e["record_id"], e["value"]) for e in r.json()["data"]] == [(ids["Cy"], "lots")]

    through_api(after)

    clean = invoke("fields", "change-type", "individual", "nps", "--type", "text")
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.splitlines()[-1] == "run it again with --apply to apply it"
    applied = invoke("fields", "change-type", "individual", "nps", "--type", "text", "--apply")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.splitlines()[-1] == "changed individual.nps from integer to text"


def test_change_type_with_options_and_default(invoke: Invoke, crm: str) -> None:
    added = invoke("fields", "add", "individual", "tier", "--type", "text", "--default", "gold")
    assert added.exit_code == 0, added.output
    line = one_line_error(
        invoke("fields", "change-type", "individual", "tier", "--type", "number", "--apply")
    )
    assert line.startswith(
        "Error: invalid custom field definition (default: the current default 'gold' cannot "
        "be a number (expected a number): send a default (or null)"
    ), line
    result = invoke(
        "fields", "change-type", "individual", "tier", "--type", "select", "--option", "gold",
        "--option", "silver", "--default", "silver", "--apply",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (tier,) = definitions(invoke)
    assert (tier["type"], tier["default"]) == ("select", "silver")
    assert [o["value"] for o in tier["options"]] == ["gold", "silver"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["individual", "nps", "--type", "integer", "--force"], 2,
         "Error: --force only applies with --apply"),
        (["individual", "nps"], 2, "Error: Missing option '--type'."),
        (["individual", "nope", "--type", "integer"], 1,
         "Error: individual has no custom field 'nope' (see `crmkit fields list individual`)"),
        (["individual", "nps", "--type", "text"], 1,
         "Error: the type does not change (type: is already text)"),
        (["individual", "nps", "--type", "hologram"], 1,
         "Error: invalid custom field definition (type: must be one of: text, long_text,"),
    ],
)  # fmt: skip
def test_change_type_errors(
    invoke: Invoke, crm: str, args: list[str], code: int, message: str
) -> None:
    assert invoke("fields", "add", "individual", "nps", "--type", "text").exit_code == 0
    line = one_line_error(invoke("fields", "change-type", *args), code=code)
    assert line.startswith(message), line
    assert [(d["type"], d["version"]) for d in definitions(invoke)] == [("text", 1)]


def test_missing_lists_records_without_a_value(invoke: Invoke, crm: str) -> None:
    assert invoke("fields", "add", "individual", "grade", "--type", "text").exit_code == 0
    (grade,) = definitions(invoke)

    async def make(client: httpx.AsyncClient) -> list[str]:
        ids = []
        for name, custom in [("Ada", {}), ("Bo", {"grade": "A"}), ("Cy", {}), ("Di", {})]:
            body = {"first_name": name, "last_name": "X", "custom": custom}
            ids.append((await client.post(PEOPLE, json=body)).json()["id"])
        assert (await client.delete(f"{PEOPLE}/{ids[3]}")).status_code == 204  # not live
        r = await client.patch(f"/api/v1/custom-fields/{grade['id']}", json={"required": True})
        assert r.headers["x-missing-count"] == "2"
        return ids

    ids = through_api(make)
    without = sorted([ids[0], ids[2]])
    result = invoke("fields", "missing", "individuals", "grade")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2 live individual record(s) have no value for individual.grade:",
        *without,
    ]
    result = invoke("fields", "missing", "individual", "grade", "--limit", "1")
    assert result.stdout.splitlines() == [
        "2 live individual record(s) have no value for individual.grade:",
        without[0],
        f"... and 1 more (GET /api/v1/custom-fields/{grade['id']}/missing lists them all)",
    ]

    async def fill(client: httpx.AsyncClient) -> None:
        for rid in without:
            r = await client.patch(f"{PEOPLE}/{rid}", json={"custom": {"grade": "B"}})
            assert r.status_code == 200, r.text

    through_api(fill)
    assert invoke("fields", "missing", "individual", "grade").stdout == (
        "every live individual record has a value for individual.grade\n"
    )
    line = one_line_error(invoke("fields", "missing", "individual", "nope"))
    assert line == (
        "Error: individual has no custom field 'nope' (see `crmkit fields list individual`)"
    )
