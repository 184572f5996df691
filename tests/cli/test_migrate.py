"""``crmkit migrate``: forwards, ``--status``, ``--backwards N`` and ``--plugin``.

Core's migrations come from the Migrator (tests/core_migrations.py), not a list here.
"""

from __future__ import annotations

import pytest

from tests.core_migrations import CoreMigration, core_migrations_of

from .output import Invoke, rows

EXAMPLE = "example 0001_initial vehicles and their log"
HEADER = ["app", "id", "applied", "description"]


@pytest.fixture
def core(database: str) -> list[CoreMigration]:
    """Core's migrations, oldest first (and the test's database made the CLI's)."""
    return core_migrations_of(database)


def _lines(core: list[CoreMigration]) -> list[str]:
    return [m.line for m in core]


def test_status_before_and_after(invoke: Invoke, core: list[CoreMigration]) -> None:
    before = invoke("migrate", "--status")
    assert before.exit_code == 0, before.output
    assert rows(before.stdout) == [HEADER, *(["core", m.id, "no", m.description] for m in core)]

    ran = invoke("migrate")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == "".join(f"{line}\n" for line in _lines(core))

    after = invoke("migrate", "--status")
    assert rows(after.stdout) == [HEADER, *(["core", m.id, "yes", m.description] for m in core)]
    assert invoke("migrate").stdout == "nothing to migrate\n"


@pytest.fixture
def with_example(install, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plugin (tests/example_plugin) installed and enabled."""
    install(example="tests.example_plugin")
    monkeypatch.setenv("CRMKIT_PLUGINS", "example")


def _applied(invoke: Invoke) -> list[tuple[str, str, str]]:
    """``(app, id, applied)`` of every migration, from ``--status``."""
    return [(row[0], row[1], row[2]) for row in rows(invoke("migrate", "--status").stdout)[1:]]


def _expect(core: list[CoreMigration], *core_applied: str, example: str) -> list[tuple[str, ...]]:
    """``(app, id, applied)`` of core's migrations (one flag each) and the example's."""
    return [("core", m.id, a) for m, a in zip(core, core_applied, strict=True)] + [
        ("example", "0001_initial", example)
    ]


def test_backwards_then_forwards(
    invoke: Invoke, core: list[CoreMigration], with_example: None
) -> None:
    ran = invoke("migrate")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines() == [*_lines(core), EXAMPLE]
    assert "migrating" in ran.stderr  # the progress bar (off a terminal: its label)

    undo = invoke("migrate", "--backwards", "1")
    assert undo.exit_code == 0, undo.output
    assert undo.stdout == f"undone {EXAMPLE}\n"
    assert _applied(invoke) == _expect(core, *["yes"] * len(core), example="no")

    redo = invoke("migrate")
    assert redo.stdout == EXAMPLE + "\n"
    assert _applied(invoke) == _expect(core, *["yes"] * len(core), example="yes")


def test_plugin_option(invoke: Invoke, core: list[CoreMigration], with_example: None) -> None:
    assert invoke("migrate", "--plugin", "example").stdout == EXAMPLE + "\n"
    assert _applied(invoke) == _expect(core, *["no"] * len(core), example="yes")

    status = invoke("migrate", "--status", "--plugin", "example")
    assert [row[0] for row in rows(status.stdout)] == ["app", "example"]

    invoke("migrate")
    undo = invoke("migrate", "--plugin", "core", "--backwards", "1")
    assert undo.stdout == f"undone {core[-1].line}\n"  # core's newest, not the plugin's
    assert _applied(invoke) == _expect(core, *["yes"] * (len(core) - 1), "no", example="yes")


def test_backwards_more_than_applied(
    invoke: Invoke, core: list[CoreMigration], with_example: None
) -> None:
    invoke("migrate")
    undo = invoke("migrate", "--backwards", str(len(core) + 3))
    assert undo.exit_code == 0, undo.output
    assert undo.stdout.splitlines() == [
        f"undone {line}" for line in [EXAMPLE, *reversed(_lines(core))]
    ]
    assert "undoing" in undo.stderr
    assert invoke("migrate", "--backwards", "1").stdout == "nothing to undo\n"


def test_unknown_plugin_option(invoke: Invoke, database: str) -> None:
    result = invoke("migrate", "--plugin", "nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: no enabled plugin 'nope' with migrations (enabled with migrations: core)"
    ]


@pytest.mark.parametrize(
    "args", [["--status", "--backwards", "1"], ["--backwards", "0"], ["--backwards", "x"]]
)
def test_bad_options(invoke: Invoke, args: list[str]) -> None:
    assert invoke("migrate", *args).exit_code == 2
