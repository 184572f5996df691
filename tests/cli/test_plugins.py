"""``crmkit plugins``: list, info, check, enable and disable (the list in crmkit.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from crmkit.cli.inventory import installed

from .output import Invoke, rows, table

EXAMPLE = "tests.example_plugin"
GREETER = "tests.cli.cli_plugins:Greeter"
NEEDY = "tests.cli.cli_plugins:Needy"
BROKEN = "tests.cli.no_such_module"


@pytest.fixture(autouse=True)
def toml_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The enabled list comes from crmkit.toml (or, without one, is every plugin)."""
    monkeypatch.delenv("CRMKIT_PLUGINS")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "crmkit.toml"


def test_list_shows_core_and_every_installed_plugin(invoke: Invoke, install) -> None:
    install(example=EXAMPLE, greeter=GREETER, broken=BROKEN)
    result = invoke("plugins", "list")
    assert result.exit_code == 0, result.output
    listing, _, problems = result.stdout.partition("\nproblems:\n")
    plugins = table(listing)
    assert plugins["name"] == ["name", "enabled", "status", "version", "description"]
    assert plugins["core"][:3] == ["core", "yes", "loaded"]
    assert plugins["example"][1:4] == ["yes", "loaded", "1.0.0"]
    assert plugins["example"][4].startswith("Vehicles: an example third-party plugin")
    assert plugins["greeter"][1:] == ["yes", "loaded", "0.3.0", "Greeter: adds `crmkit hello`."]
    assert plugins["broken"][1:] == ["yes", "failed"]
    assert set(plugins) == {"name", "core", *installed()}
    assert problems.strip().startswith(
        "broken: failed to import: ModuleNotFoundError: No module named 'tests.cli.no_such_module'"
    )


def test_check(invoke: Invoke, install, config: Path) -> None:
    install(example=EXAMPLE, greeter=GREETER, broken=BROKEN)
    config.write_text('plugins = ["example", "greeter"]\n')
    ok = invoke("plugins", "check")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "ok: 3 loaded (core, example, greeter)\n"

    config.write_text('plugins = ["example", "broken"]\n')
    failed = invoke("plugins", "check")
    assert failed.exit_code == 1
    assert failed.stderr.splitlines() == [
        "broken: failed to import: ModuleNotFoundError: No module named 'tests.cli.no_such_module'"
    ]


def test_enable_disable_round_trip(invoke: Invoke, install, config: Path) -> None:
    install(example=EXAMPLE, greeter=GREETER)
    everything = list(installed())
    config.write_text(
        'page_size = 20\ndefault_region = "GB"\n\n[plugin.example]\ngreeting = "hei \\"du\\""\n'
    )
    assert invoke("hello").stdout == "hello, world\n"

    disabled = invoke("plugins", "disable", "greeter")
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout == f"disabled greeter in {config}\n"
    data = tomllib.loads(config.read_text())
    assert data == {
        "page_size": 20,
        "default_region": "GB",
        "plugins": [n for n in everything if n != "greeter"],
        "plugin": {"example": {"greeting": 'hei "du"'}},
    }
    assert table(invoke("plugins", "list").stdout)["greeter"][1:3] == ["no", "-"]
    assert invoke("plugins", "disable", "greeter").stdout == "greeter is disabled already\n"
    assert invoke("hello").exit_code == 2  # its command is gone with it

    enabled = invoke("plugins", "enable", "greeter")
    assert enabled.exit_code == 0, enabled.output
    assert enabled.stdout == f"enabled greeter in {config}\n"
    assert enabled.stderr == ""
    data = tomllib.loads(config.read_text())
    assert sorted(data["plugins"]) == sorted(everything)
    assert data["page_size"] == 20 and data["plugin"] == {"example": {"greeting": 'hei "du"'}}
    assert invoke("plugins", "enable", "greeter").stdout == "greeter is enabled already\n"
    assert invoke("hello", "--name", "Ada").stdout == "hello, Ada\n"


def test_enable_without_a_list_changes_nothing(invoke: Invoke, install, config: Path) -> None:
    install(example=EXAMPLE)
    result = invoke("plugins", "enable", "example")
    assert result.exit_code == 0
    assert "enabled already" in result.stdout
    assert not config.exists()


def test_enable_warns_about_what_does_not_load(invoke: Invoke, install, config: Path) -> None:
    install(example=EXAMPLE, greeter=GREETER, needy=NEEDY, broken=BROKEN)
    config.write_text('# my plugins\nplugins = ["example"]\n')
    broken = invoke("plugins", "enable", "broken")
    assert broken.exit_code == 0
    assert broken.stderr.splitlines() == [
        f"note: the comments in {config} are not kept",
        "warning: broken: failed to import: ModuleNotFoundError: "
        "No module named 'tests.cli.no_such_module'",
    ]
    needy = invoke("plugins", "enable", "needy")
    assert needy.exit_code == 0
    assert tomllib.loads(config.read_text())["plugins"] == ["example", "broken", "needy"]
    assert needy.stderr == (
        "warning: the enabled plugins do not load: "
        "plugin 'needy' requires 'greeter', which is not enabled\n"
    )


def test_enable_notes_that_the_environment_wins(
    invoke: Invoke, install, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(example=EXAMPLE)
    config.write_text("plugins = []\n")
    monkeypatch.setenv("CRMKIT_PLUGINS", "")
    result = invoke("plugins", "enable", "example")
    assert result.exit_code == 0
    assert f"note: CRMKIT_PLUGINS is set and overrides the list in {config}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enable", "nope"], "Error: no installed plugin 'nope' (installed: "),
        (["disable", "nope"], "Error: plugin 'nope' is neither installed nor enabled"),
        (["disable", "core"], "Error: core cannot be disabled"),
        (["info", "nope"], "Error: no installed plugin 'nope' (installed: "),
    ],
)
def test_unknown_names(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("plugins", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1


def test_a_stale_name_in_the_toml(invoke: Invoke, install, config: Path) -> None:
    """A plugin uninstalled but still enabled: commands fail in one line, `plugins` fixes it."""
    install(example=EXAMPLE)
    config.write_text('plugins = ["example", "gone"]\n')

    migrate = invoke("migrate")
    assert migrate.exit_code == 1
    assert migrate.stderr.startswith("Error: unknown plugin 'gone' is enabled (installed: ")
    assert len(migrate.stderr.splitlines()) == 1

    listing = invoke("plugins", "list")
    assert listing.exit_code == 0, listing.output
    plugins = table(listing.stdout.partition("\nproblems:\n")[0])
    assert plugins["gone"][1:] == ["yes", "not installed"]
    assert plugins["example"][1:3] == ["yes", "not loaded"]
    assert "gone: enabled but not installed (crmkit plugins disable gone)" in listing.stdout
    assert invoke("plugins", "check").exit_code == 1
    assert "is enabled but not installed" in invoke("plugins", "info", "gone").stderr

    fixed = invoke("plugins", "disable", "gone")
    assert fixed.exit_code == 0, fixed.output
    assert tomllib.loads(config.read_text())["plugins"] == ["example"]
    assert invoke("plugins", "check").exit_code == 0


def test_a_bad_plugins_setting(invoke: Invoke, config: Path) -> None:
    config.write_text('plugins = "example"\n')
    result = invoke("plugins", "disable", "example")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {config}: `plugins` must be a list of plugin names\n"


def _info(invoke: Invoke, name: str) -> dict[str, str]:
    result = invoke("plugins", "info", name)
    assert result.exit_code == 0, result.output
    pairs = (line.split(":", 1) for line in result.stdout.splitlines())
    return {key: value.strip() for key, value in pairs}


def test_info(invoke: Invoke, install, config: Path) -> None:
    install(example=EXAMPLE, greeter=GREETER, broken=BROKEN)
    config.write_text('plugins = ["example", "broken"]\n')
    example = _info(invoke, "example")
    assert example == {
        "name": "example",
        "target": EXAMPLE,
        "enabled": "yes",
        "status": "loaded",
        "version": "1.0.0",
        "description": example["description"],
        "requires": "-",
        "after": "-",
        "entities": "vehicle",
        "piccolo app": "example",
    }
    greeter = _info(invoke, "greeter")
    assert (greeter["enabled"], greeter["status"], greeter["version"]) == ("no", "-", "0.3.0")
    broken = _info(invoke, "broken")
    assert broken["status"] == "failed"
    assert broken["error"].startswith("failed to import: ModuleNotFoundError")
    core = _info(invoke, "core")
    assert (core["enabled"], core["status"]) == ("yes", "loaded")


def test_list_without_third_party_plugins(invoke: Invoke, config: Path) -> None:
    config.write_text("plugins = []\n")
    result = invoke("plugins", "list")
    assert result.exit_code == 0
    listed = rows(result.stdout)
    assert listed[1][:3] == ["core", "yes", "loaded"]
    assert all(row[1:3] == ["no", "-"] for row in listed[2:])
    assert "problems" not in result.stdout
