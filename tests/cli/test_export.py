"""``crmkit export``: the API's export on the command line, to a file or stdout."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from crmkit.cli.context import with_runtime
from crmkit.cli.export import progress
from crmkit.core import SYSTEM, Access, Runtime
from crmkit.core.saved_searches import SavedSearchCreate, create_saved_search
from crmkit.plugins.organizations.links import create_link

from .output import Invoke

SKIP = {"skip_duplicate_check": True}


@pytest.fixture
def crm(invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database with individuals and organisations, and three people."""
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,organizations")
    migrated = invoke("migrate")
    assert migrated.exit_code == 0, migrated.output

    async def seed(runtime: Runtime) -> None:
        people = runtime.records("individual")
        made = []
        for first, last, kind in [
            ("Kari", "Ødegård", "customer"),
            ("Ola", "Berg", "prospect"),
            ("José", "García", "customer"),
        ]:
            values: dict[str, Any] = {"first_name": first, "last_name": last, "type": kind}
            made.append(await people.create(values, actor=SYSTEM, data=SKIP))
        org = await runtime.records("organization").create({"name": "Acme AS"}, actor=SYSTEM)
        await create_link(
            runtime, made[0]["id"], {"organization_id": org["id"], "role": "CEO"}, actor=SYSTEM
        )
        body = SavedSearchCreate(
            entity="individual", name="Customers", filters=[("type", "customer")]
        )
        await create_saved_search(runtime, body, Access.full())

    with_runtime(seed)
    return database


def _csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_export_to_a_file(invoke: Invoke, crm: str, tmp_path: Path) -> None:
    out = tmp_path / "people.csv"
    result = invoke("export", "individuals", "-o", str(out), "--filter", "sort=last_name")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"exported 3 individuals to {out}\n"  # no bar: not a terminal
    rows = _csv(out.read_bytes())
    assert [r["last_name"] for r in rows] == ["Berg", "García", "Ødegård"]
    assert (rows[2]["organization"], rows[2]["organization_role"]) == ("Acme AS", "CEO")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_export_to_stdout_with_filters_and_a_query(invoke: Invoke, crm: str) -> None:
    result = invoke(
        "export", "individual", "--format", "jsonl", "--filter", "type=customer",
        "--filter", "sort=-first_name",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    names = [json.loads(line)["first_name"] for line in result.stdout.splitlines()]
    assert names == ["Kari", "José"]
    result = invoke("export", "individuals", "-q", "garcia")
    assert [r["first_name"] for r in _csv(result.stdout_bytes)] == ["José"]


def test_export_a_saved_search_as_vcards(invoke: Invoke, crm: str) -> None:
    result = invoke("export", "individuals", "--saved", "Customers", "--format", "vcf")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("BEGIN:VCARD") == 2 and "FN:Ola Berg" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "people"], "no entity 'people'"),
        (["export", "individuals", "--filter", "nope=1"], "unknown field 'nope'"),
        (["export", "organizations", "--format", "vcf"], "format 'vcf'"),
        (["export", "individuals", "--saved", "Nothing"], "no saved search named 'Nothing'"),
    ],
)
def test_mistakes_are_one_line(
    invoke: Invoke, crm: str, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    result = invoke(*args, "-o", str(out))
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    assert list(tmp_path.glob("*out.csv*")) == []  # nothing written, not even a part


def test_a_filter_needs_a_value(invoke: Invoke, crm: str) -> None:
    result = invoke("export", "individuals", "--filter", "type")
    assert result.exit_code == 2 and "FIELD=VALUE" in result.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_shows_rate_and_eta_on_a_terminal() -> None:
    terminal = Terminal()
    with progress(3000, "exporting individuals", terminal) as bar:
        assert bar is not None
        for _ in range(3):
            bar.update(1000)
    shown = terminal.getvalue()
    assert "exporting individuals" in shown and "3000/3000" in shown
    assert "rows/s" in shown and "100%" in shown
    quiet = io.StringIO()
    with progress(3000, "exporting individuals", quiet) as bar:
        assert bar is None
    assert quiet.getvalue() == ""


def test_the_progress_bar_has_an_eta_midway() -> None:
    terminal = Terminal()
    with progress(10_000, "exporting", terminal) as bar:
        assert bar is not None
        # two seconds have passed (click estimates once a second has)
        bar.started -= 2
        bar.bar.start -= 2
        bar.bar.last_eta -= 2
        bar.update(1000)
        midway = terminal.getvalue()
    # 1000 rows in ~2 s: ~500 rows/s, and ~18 s to go
    assert re.search(r"1000/10000 .*00:00:1[6-9] +(49\d|500) rows/s", midway), midway
