"""Errors are one line on stderr with exit code 1; ``--diagnose`` shows the traceback."""

from __future__ import annotations

import pytest
from crmkit.cli.errors import describe, redact_url
from crmkit.core import PluginError

from .output import Invoke


def _one_line_error(result, start: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(start), line
    return line


def test_unknown_plugin_in_the_environment(
    invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "nope")
    _one_line_error(invoke("migrate"), "Error: unknown plugin 'nope' is enabled (installed: ")
    _one_line_error(invoke("init"), "Error: unknown plugin 'nope' is enabled")

    listing = invoke("plugins", "list")
    assert listing.exit_code == 0, listing.output
    assert "nope: enabled but not installed (remove it from CRMKIT_PLUGINS)" in listing.stdout


def test_diagnose_shows_the_traceback(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_PLUGINS", "nope")
    with pytest.raises(PluginError):
        invoke("--diagnose", "migrate")
    monkeypatch.setenv("CRMKIT_DIAGNOSE", "1")
    with pytest.raises(PluginError):
        invoke("migrate")
    with pytest.raises(PluginError):  # plugins list reports it, unless diagnosing
        invoke("plugins", "list")


def test_unreachable_postgres(invoke: Invoke) -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test?password=s3cret&search_path=x"
    result = invoke("--database-url", url, "apikeys", "list")
    line = _one_line_error(
        result, "Error: cannot reach the database at postgresql://postgres@127.0.0.1:1/test"
    )
    assert "s3cret" not in result.output
    assert "search_path=x" in line


def test_missing_sqlite_folder(invoke: Invoke, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/missing/crm.db"
    _one_line_error(
        invoke("--database-url", url, "migrate"),
        f"Error: cannot reach the database at {url}: the folder {tmp_path}/missing does not",
    )


def test_database_not_migrated(invoke: Invoke, database: str) -> None:
    line = _one_line_error(invoke("apikeys", "list"), "Error: ")
    assert line.endswith("is the database migrated? Run `crmkit init` or `crmkit migrate`.")


def test_invalid_settings(invoke: Invoke, tmp_path) -> None:
    (tmp_path / "crmkit.toml").write_text("page_size = [\n")
    _one_line_error(invoke("migrate"), f"Error: {tmp_path}/crmkit.toml: ")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u:p%40w@[::1]:5432/db?password=x&a=b", "postgresql://u@[::1]:5432/db?a=b"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////abs/crm.db", "sqlite:////abs/crm.db"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_describe_leaves_bugs_alone() -> None:
    assert describe(KeyError("x")) is None
    assert describe(PluginError("two\n  lines")) == "two lines"
    assert describe(FileNotFoundError(2, "No such file or directory", "x.csv")) == (
        "[Errno 2] No such file or directory: 'x.csv'"
    )
