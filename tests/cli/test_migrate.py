"""``crmkit migrate``: forwards, ``--status``, ``--backwards N`` and ``--plugin``."""

from __future__ import annotations

import pytest

from .output import Invoke, rows

CORE = "core 0001_initial tag index and API keys"
CORE2 = "core 0002_custom_fields custom-field definitions"
EXAMPLE = "example 0001_initial vehicles and their log"
HEADER = ["app", "id", "applied", "description"]


def test_status_before_and_after(invoke: Invoke, database: str) -> None:
    before = invoke("migrate", "--status")
    assert before.exit_code == 0, before.output
    assert rows(before.stdout) == [
        HEADER,
        ["core", "0001_initial", "no", "tag index and API keys"],
        ["core", "0002_custom_fields", "no", "custom-field definitions"],
    ]

    ran = invoke("migrate")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == CORE + "\n" + CORE2 + "\n"

    after = invoke("migrate", "--status")
    assert rows(after.stdout)[1] == ["core", "0001_initial", "yes", "tag index and API keys"]
    assert invoke("migrate").stdout == "nothing to migrate\n"


@pytest.fixture
def with_example(install, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example plugin (tests/example_plugin) installed and enabled."""
    install(example="tests.example_plugin")
    monkeypatch.setenv("CRMKIT_PLUGINS", "example")


def _applied(invoke: Invoke) -> dict[str, str]:
    return {row[0]: row[2] for row in rows(invoke("migrate", "--status").stdout)[1:]}


def test_backwards_then_forwards(invoke: Invoke, database: str, with_example: None) -> None:
    ran = invoke("migrate")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines() == [CORE, CORE2, EXAMPLE]
    assert "migrating" in ran.stderr  # the progress bar (off a terminal: its label)

    undo = invoke("migrate", "--backwards", "1")
    assert undo.exit_code == 0, undo.output
    assert undo.stdout == f"undone {EXAMPLE}\n"
    assert _applied(invoke) == {"core": "yes", "example": "no"}

    redo = invoke("migrate")
    assert redo.stdout == EXAMPLE + "\n"
    assert _applied(invoke) == {"core": "yes", "example": "yes"}


def test_plugin_option(invoke: Invoke, database: str, with_example: None) -> None:
    assert invoke("migrate", "--plugin", "example").stdout == EXAMPLE + "\n"
    assert _applied(invoke) == {"core": "no", "example": "yes"}

    status = invoke("migrate", "--status", "--plugin", "example")
    assert [row[0] for row in rows(status.stdout)] == ["app", "example"]

    invoke("migrate")
    undo = invoke("migrate", "--plugin", "core", "--backwards", "1")
    assert undo.stdout == f"undone {CORE2}\n"
    assert _applied(invoke) == {"core": "no", "example": "yes"}


def test_backwards_more_than_applied(invoke: Invoke, database: str, with_example: None) -> None:
    invoke("migrate")
    undo = invoke("migrate", "--backwards", "5")
    assert undo.exit_code == 0, undo.output
    assert undo.stdout.splitlines() == [f"undone {EXAMPLE}", f"undone {CORE2}", f"undone {CORE}"]
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
