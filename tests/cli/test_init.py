"""``crmkit init``: migrate, then one first admin key, printed alone on the last line."""

from __future__ import annotations

import asyncio
import os

import pytest
from crmkit.core import Runtime, load_settings
from crmkit.core.apikeys import authenticate

from tests.core_migrations import core_migrations_of

from .output import KEY, Invoke, rows


async def _actor(db_url: str, key: str):
    settings = load_settings({"CRMKIT_CONFIG": os.devnull}, database_url=db_url, plugins=[])
    async with Runtime.create(settings) as runtime:
        return await authenticate(runtime, key)


def test_init_prints_a_working_key_once(invoke: Invoke, database: str) -> None:
    first = invoke("init")
    assert first.exit_code == 0, first.output
    *info, key = first.stdout.splitlines()
    assert KEY.fullmatch(key)
    assert info == [m.line for m in core_migrations_of(database)]  # every core migration
    assert "shown only this once" in first.stderr
    assert asyncio.run(_actor(database, key)).role == "admin"

    second = invoke("init")
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines() == [
        "nothing to migrate",
        "1 API key exists already; no new key created (see `crmkit apikeys`)",
    ]
    assert not KEY.search(second.output)
    assert len(rows(invoke("apikeys", "list").stdout)) == 2  # header and the one key


def test_init_makes_the_sqlite_folder(invoke: Invoke, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CRMKIT_DATABASE_URL", f"sqlite:///{tmp_path}/new/folder/crm.db")
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "folder" / "crm.db").exists()


def test_init_with_every_installed_plugin(
    invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRMKIT_PLUGINS")  # the default: every installed plugin
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert KEY.fullmatch(result.stdout.splitlines()[-1])
    status = rows(invoke("migrate", "--status").stdout)[1:]
    assert status and all(row[2] == "yes" for row in status)
