"""``crmkit import``: the API's import from the command line, with a progress bar and a
summary, on both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crmkit.cli.context import with_runtime
from crmkit.core import Runtime
from crmkit.core.events import SYSTEM
from crmkit.core.query.params import ListParams
from crmkit.core.transfer.jobs import list_jobs

from .output import Invoke, rows

DATA = Path(__file__).parents[1] / "core" / "transfer" / "data"


@pytest.fixture
def crm(invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database with individuals, organisations and the activity log."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,organizations,activity")
    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.output
    return database


def names() -> list[str]:
    async def go(runtime: Runtime) -> list[str]:
        page = await runtime.records("individual").list(ListParams(limit=100))
        return sorted(f"{p['first_name']} {p['last_name']}" for p in page.data)

    return with_runtime(go)


def person(first_name: str) -> dict[str, Any]:
    async def go(runtime: Runtime) -> dict[str, Any]:
        page = await runtime.records("individual").list(ListParams(limit=100))
        return next(p for p in page.data if p["first_name"] == first_name)

    return with_runtime(go)


def jobs() -> list[Any]:
    async def go(runtime: Runtime) -> list[Any]:
        return (await list_jobs(runtime, None)).data

    return with_runtime(go)


def test_a_csv_file_with_a_progress_bar_and_a_summary(
    invoke: Invoke, crm: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("first_name,last_name,email_1\nÅse,Ødegård,ase@x.no\nBjørn,Næss,b@x.no\n")
    result = invoke("import", "individuals", str(path), "--progress")
    assert result.exit_code == 0, result.output
    [job] = jobs()
    assert result.stdout.splitlines() == [
        "imported people.csv into individuals: 2 rows: 2 created, 0 updated, 0 skipped, 0 with errors",
        f"job {job.id}",
    ]
    assert "importing individuals" in result.stderr and "rows/s" in result.stderr
    assert names() == ["Bjørn Næss", "Åse Ødegård"]
    assert (job.created, job.options["filename"], job.actor) == (2, "people.csv", "system:system")


def test_row_errors_are_listed_compactly_and_exit_1(
    invoke: Invoke, crm: str, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    rows = ["first_name,last_name,Shoe"] + [f"Person{i}," for i in range(25)] + ["Ola,Nordmann,44"]
    path.write_text("\n".join(rows) + "\n")
    result = invoke("import", "individual", str(path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == "imported many.csv into individuals: 26 rows: 1 created, 0 updated, 0 skipped, 25 with errors"
    )
    assert lines[2] == "ignored columns: Shoe"
    assert lines[3:23] == [f"  row {i}, last_name: required" for i in range(1, 21)]
    assert lines[23:] == ["  ... and 5 more errors"]
    assert result.stderr == ""  # no bar when stderr is not a terminal
    assert names() == ["Ola Nordmann"]


def test_presets_mappings_and_a_dry_run(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    google = str(DATA / "google_contacts.csv")
    dry = invoke("import", "individuals", google, "--preset", "google", "--dry-run")
    assert dry.exit_code == 1  # Kari has no last name
    assert dry.stdout.startswith(
        "dry run of google_contacts.csv into individuals (nothing written): 5 rows: 4 created"
    )
    assert "job" not in dry.stdout and names() == [] and jobs() == []
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Nickname": "middle_name"}))  # wins over the preset
    result = invoke(
        "import", "individuals", google, "--preset", "google", "--mapping", f"@{mapping}"
    )
    assert result.exit_code == 1, result.output
    assert "5 rows: 4 created" in result.stdout
    assert "  row 4, last_name: required" in result.stdout
    assert person("Åse")["middle_name"] == "Åsa"
    apple = invoke(
        "import", "individuals", str(DATA / "apple_contacts.vcf"), "--on-duplicate", "update"
    )
    assert apple.exit_code == 1, apple.output  # the company's card
    assert "3 rows: 1 created, 1 updated, 0 skipped, 1 with errors" in apple.stdout
    assert "  row 3, card: the card of an organisation, not of a person" in apple.stdout
    atomic = invoke("import", "individuals", str(DATA / "contacts_v4.vcf"), "--atomic")
    assert atomic.exit_code == 1
    assert "rolled back (atomic; nothing written)" in atomic.stdout
    assert len(names()) == 5


def test_bad_input_is_one_line(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    path = tmp_path / "people.txt"
    path.write_text("first_name,last_name\nÅse,Ødegård\n")
    unknown = invoke("import", "individuals", str(path))
    assert unknown.exit_code == 2 and "pass --format" in unknown.stderr
    bad = invoke("import", "individuals", str(path), "--format", "csv", "--mapping", "{nope")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert bad.stderr.splitlines() == [
        "Error: --mapping is not valid JSON (--mapping: expected a JSON object)"
    ]
    target = invoke(
        "import", "individuals", str(path), "--format", "csv", "--mapping", '{"a": "shoe"}'
    )
    assert target.exit_code == 1 and "mapping.a" in target.stderr
    nobody = invoke("import", "ships", str(path), "--format", "csv")
    assert nobody.exit_code == 1 and "no entity 'ships'" in nobody.stderr
    assert names() == [] and jobs() == []


# -- crmkit imports list|show|revert -----------------------------------------------------------


def import_file(invoke: Invoke, path: Path, text: str, *args: str) -> str:
    """Import ``text`` as the file ``path``; the job's id."""
    path.write_text(text)
    result = invoke("import", "individuals", str(path), *args)
    job = next(line for line in result.stdout.splitlines() if line.startswith("job "))
    return job.removeprefix("job ")


def test_list_show_and_revert_a_job(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    job = import_file(
        invoke,
        tmp_path / "people.csv",
        "first_name,last_name,Shoe\nÅse,Ødegård,38\nBjørn,,44\nCarl,Berg,45\n",
    )
    listed = invoke("imports", "list")
    assert listed.exit_code == 0, listed.output
    header, row = rows(listed.stdout)
    assert header == "id entity status rows created updated skipped errors file started".split()
    assert row[:9] == [job, "individual", "completed", "3", "2", "0", "0", "1", "people.csv"]

    shown = invoke("imports", "show", job)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == f"import {job}"
    assert "counts     3 rows: 2 created, 0 updated, 0 skipped, 1 with errors" in lines
    assert "ignored columns: Shoe" in lines
    assert lines[-2:] == ["errors (1):", "  row 2, last_name: required"]

    reverted = invoke("imports", "revert", job)
    assert reverted.exit_code == 0, reverted.output
    assert reverted.stdout == (
        f"reverted import {job}: 2 deleted, 0 restored, 0 skipped (deleted already)\n"
    )
    assert names() == []
    assert rows(invoke("imports", "list").stdout)[1][2] == "reverted"
    assert any(
        line.startswith("reverted   ")
        for line in invoke("imports", "show", job).stdout.splitlines()
    )

    again = invoke("imports", "revert", job)
    assert again.exit_code == 1
    assert again.stdout == ""
    assert again.stderr.splitlines() == [f"Error: import {job} was reverted already"]


def test_a_revert_over_later_changes_needs_force(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    kept = import_file(invoke, tmp_path / "a.csv", "first_name,last_name\nOla,Nordmann\n")
    # An organisation column moves the person's version on after the create: still
    # revertible without --force when nothing changed since.
    job = import_file(
        invoke,
        tmp_path / "b.csv",
        "first_name,last_name,organization,organization_role\n"
        "Kari,Hansen,Fjordkraft AS,CFO\nPer,Lie,Fjordkraft AS,\n",
    )
    assert invoke("imports", "revert", job).exit_code == 0
    assert names() == ["Ola Nordmann"]

    update = import_file(
        invoke,
        tmp_path / "c.csv",
        f"id,first_name,last_name,job_title\n{person('Ola')['id']},Ola,Nordmann,Skipper\n",
        "--on-duplicate",
        "update",
    )
    ola = person("Ola")
    assert ola["job_title"] == "Skipper"

    async def rename(runtime: Runtime) -> None:
        await runtime.records("individual").update(ola["id"], {"department": "Sales"}, actor=SYSTEM)

    with_runtime(rename)
    refused = invoke("imports", "revert", update)
    assert refused.exit_code == 1
    [line] = refused.stderr.splitlines()
    assert line == (
        f"Error: 1 record changed since the import: {ola['id']} (row 1); "
        f"`crmkit imports revert {update} --force` reverts over those changes"
    )
    assert person("Ola")["job_title"] == "Skipper"  # nothing done

    forced = invoke("imports", "revert", update, "--force")
    assert forced.exit_code == 0, forced.output
    assert "0 deleted, 1 restored" in forced.stdout
    after = person("Ola")
    assert (after["job_title"], after["department"]) == (None, None)  # as before the import

    completed = invoke("imports", "list", "--status", "completed", "--entity", "individuals")
    assert [r[0] for r in rows(completed.stdout)[1:]] == [kept]
    assert invoke("imports", "list", "--status", "failed").stdout == "no imports\n"


def test_bad_arguments_are_one_line(invoke: Invoke, crm: str) -> None:
    ships = invoke("imports", "list", "--entity", "ships")
    assert ships.exit_code == 1 and ships.stderr.startswith("Error: no entity 'ships'")
    status = invoke("imports", "list", "--status", "asleep")
    assert status.exit_code == 2 and "'asleep' is not one of" in status.stderr
    bad_id = invoke("imports", "show", "nope")
    assert bad_id.exit_code == 2 and "'nope' is not a valid UUID" in bad_id.stderr
    missing = "00000000-0000-0000-0000-000000000000"
    for args in (("show", missing), ("revert", missing)):
        result = invoke("imports", *args)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [f"Error: import {missing} not found"]
