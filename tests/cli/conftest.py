"""Fixtures of the CLI tests: a clean environment, an ``invoke`` helper, installed plugins.

Database tests use ``db_url`` from tests/conftest.py (SQLite, and a PostgreSQL schema
of their own); ``database`` points the CLI at it through ``CRMKIT_DATABASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from crmkit.cli.main import create_cli

from .output import Invoke

_KEEP = {"CRMKIT_TEST_POSTGRES_URL", "CRMKIT_REQUIRE_POSTGRES"}


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Its own folder, settings file and SQLite database; only core enabled.

    Every variable the CLI may set (``--database-url``, ``--config``) is set here
    first, so monkeypatch restores it after the test.
    """
    for name in [n for n in os.environ if n.startswith("CRMKIT_") and n not in _KEEP]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CRMKIT_CONFIG", str(tmp_path / "crmkit.toml"))
    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path}/default.db")
    monkeypatch.setenv("CRMKIT_PLUGINS", "")  # core only, whatever else is installed


@pytest.fixture
def database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's empty database (SQLite or PostgreSQL) as the CLI's database."""
    monkeypatch.setenv("CRMKIT_DATABASE_URL", db_url)
    return db_url


@pytest.fixture
def invoke() -> Invoke:
    """Run ``crmkit ARGS`` the way ``main()`` does: plugins' commands added first."""

    def invoke(*args: str, input: str | None = None) -> Result:
        argv = list(args)
        return CliRunner().invoke(create_cli(argv), argv, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Install plugins for one test: ``install(name="module[:attr]", ...)``.

    Writes the entry points of a throwaway distribution and puts it on ``sys.path``;
    monkeypatch takes it off again after the test.
    """
    site = tmp_path / "site"
    dist = site / "crmkit_cli_test_plugins-0.0.dist-info"

    def install(**targets: str) -> None:
        dist.mkdir(parents=True, exist_ok=True)
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: crmkit-cli-test-plugins\nVersion: 0.0\n"
        )
        lines = ["[crmkit]", *(f"{name} = {target}" for name, target in targets.items())]
        (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(site))

    return install
