"""The group: plugin-contributed commands, global options, the console script."""

from __future__ import annotations

from pathlib import Path

import pytest
from crmkit.cli import migrate as migrate_module
from crmkit.cli.main import create_cli, main

from .output import Invoke, table

GREETER = "tests.cli.cli_plugins:Greeter"
USURPER = "tests.cli.cli_plugins:Usurper"
CRASHING = "tests.cli.cli_plugins:Crashing"


def test_plugins_add_commands(
    invoke: Invoke, install, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # hook: register_commands
    install(greeter=GREETER, usurper=USURPER, crashing=CRASHING)
    monkeypatch.setenv("CRMKIT_PLUGINS", "greeter,usurper,crashing")
    result = invoke("hello", "--name", "Ada")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello, Ada\n"
    # Reported while the group is built, before the runner captures anything.
    assert capsys.readouterr().err.splitlines() == [
        "warning: plugin 'crashing' could not add its commands: RuntimeError: no commands today",
        "warning: plugin 'usurper' cannot replace the 'migrate' command",
    ]
    group = create_cli()
    assert group.commands["migrate"] is migrate_module.migrate
    assert "half-added" not in group.commands
    assert "hello" in invoke("--help").stdout


def test_plugin_commands_unavailable(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "nope")
    helped = invoke("--help")
    assert helped.exit_code == 0
    assert "Plugin commands are unavailable: unknown plugin 'nope'" in " ".join(
        helped.stdout.split()
    )
    unknown = invoke("hello")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith(
        "warning: plugin commands are unavailable: unknown plugin 'nope' is enabled"
    )
    assert "No such command 'hello'" in unknown.stderr


def test_config_option(invoke: Invoke, install, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CRMKIT_PLUGINS")
    install(greeter=GREETER)
    other = tmp_path / "other.toml"
    other.write_text("plugins = []\n")
    assert invoke("hello").exit_code == 0  # no crmkit.toml: every plugin is enabled
    assert invoke("--config", str(other), "hello").exit_code == 2
    assert invoke(f"--config={other}", "hello").exit_code == 2
    listing = invoke("--config", str(other), "plugins", "list")
    assert table(listing.stdout)["greeter"][1] == "no"


def test_database_url_option(invoke: Invoke, database: str, monkeypatch) -> None:
    monkeypatch.setenv("CRMKIT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/unreachable")
    result = invoke("--database-url", database, "migrate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("core 0001_initial")


def test_version(invoke: Invoke) -> None:
    assert invoke("--version").stdout.startswith("crmkit, version ")


def test_console_script(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    with pytest.raises(SystemExit) as ok:
        main(["plugins", "check"])
    assert ok.value.code == 0
    assert capsys.readouterr().out.startswith("ok: ")

    monkeypatch.setenv("CRMKIT_PLUGINS", "nope")
    with pytest.raises(SystemExit) as failed:
        main(["migrate"])
    assert failed.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: unknown plugin 'nope' is enabled")
    assert len(err.splitlines()) == 1
