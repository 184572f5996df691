"""The migration runner: core's and the plugins' Piccolo apps, on both engines.

Core's own migrations are not listed here (core gains new ones): tests ask the
Migrator for them (tests/core_migrations.py), and
``test_core_migrations_are_the_m_files_of_its_folder`` checks that discovery.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from crmkit.core import SYSTEM, CrmError, Runtime
from crmkit.core.migrate import Migrator

from tests import example_plugin
from tests.conftest import make_settings
from tests.core_migrations import RELEASED, core_migrations

EXAMPLE = ("example", "0001_initial")


@pytest.fixture
async def fresh(db_url: str) -> AsyncIterator[Runtime]:
    """A started runtime with (only) the example plugin on an empty, unmigrated database."""
    settings = make_settings(db_url, plugins=["example"])
    rt = Runtime.create(settings, extra_plugins={"example": example_plugin})
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
def core(fresh: Runtime) -> list[tuple[str, str]]:
    """``(app, id)`` of core's migrations, oldest first."""
    return [("core", m.id) for m in core_migrations(fresh)]


def _state(infos: list[Any]) -> list[tuple[str, str, bool]]:
    return [(i.app, i.id, i.applied) for i in infos]


def _expect(
    core: list[tuple[str, str]], core_applied: bool, example_applied: bool
) -> list[tuple[str, str, bool]]:
    """The status of every migration: core's, then the example plugin's."""
    return [(a, i, core_applied) for a, i in core] + [(*EXAMPLE, example_applied)]


async def _table_exists(rt: Runtime, table: str) -> bool:
    try:
        await rt.db.fetch(f"SELECT COUNT(*) AS n FROM {table}")
    except Exception:
        return False
    return True


def test_apps_are_in_plugin_order(fresh: Runtime) -> None:
    # hook: piccolo_app
    apps = Migrator(fresh).apps()
    assert [(plugin, app.app_name) for plugin, app in apps] == [
        ("core", "core"),
        ("example", "example"),
    ]
    assert [t.__name__ for t in apps[1][1].table_classes] == ["Vehicle", "VehicleLog"]


async def test_core_migrations_are_the_m_files_of_its_folder(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    app = migrator.apps()[0][1]
    modules = migrator.modules(app)
    ids = [m.ID for m in modules]
    assert tuple(ids[: len(RELEASED)]) == RELEASED
    assert ids == sorted(set(ids))  # unique, in order
    # Every ``m*.py`` file of the folder is one migration, named after its ID.
    folder = Path(app.resolved_migrations_folder_path)
    assert sorted(p.name for p in folder.glob("m*.py")) == [f"m{i}.py" for i in ids]
    assert [(i.id, i.description) for i in await migrator.status("core")] == [
        (m.ID, m.DESCRIPTION) for m in modules
    ]
    assert [i.id for i in await migrator.forwards("core")] == ids
    for module in modules:  # (forwards() needs the engine the runner has set up)
        assert module.DESCRIPTION, module.ID
        assert inspect.iscoroutinefunction(module.forwards), module.ID
        manager = await module.forwards()
        assert (manager.migration_id, manager.app_name) == (module.ID, "core")


async def test_status_before_and_after_forwards(
    fresh: Runtime, core: list[tuple[str, str]]
) -> None:
    migrator = Migrator(fresh)
    assert _state(await migrator.status()) == _expect(core, False, False)
    assert not await _table_exists(fresh, "example_vehicle")

    steps: list[str] = []
    ran = await migrator.forwards(on_step=lambda info: steps.append(info.app))
    assert [(i.app, i.id) for i in ran] == [*core, EXAMPLE]
    assert steps == ["core"] * len(core) + ["example"]  # core before the plugin
    assert _state(await migrator.status()) == _expect(core, True, True)
    assert await migrator.applied() == {*core, EXAMPLE}
    for table in (
        "crmkit_record_tag",
        "crmkit_api_key",
        "crmkit_custom_field",
        "example_vehicle",
        "example_vehicle_log",
    ):
        assert await _table_exists(fresh, table), table
    assert [i.description for i in await migrator.status("example")] == ["vehicles and their log"]


async def test_forwards_is_idempotent(fresh: Runtime, core: list[tuple[str, str]]) -> None:
    migrator = Migrator(fresh)
    assert len(await migrator.forwards()) == len(core) + 1
    assert await migrator.forwards() == []
    assert await fresh.db.fetchval("SELECT COUNT(*) AS n FROM migration") == len(core) + 1


async def test_forwards_of_one_app(fresh: Runtime, core: list[tuple[str, str]]) -> None:
    migrator = Migrator(fresh)
    ran = await migrator.forwards("core")
    assert [(i.app, i.id) for i in ran] == core
    assert _state(await migrator.status()) == _expect(core, True, False)
    assert await _table_exists(fresh, "crmkit_api_key")
    assert not await _table_exists(fresh, "example_vehicle")


async def test_backwards_undoes_the_newest_and_forwards_restores(
    fresh: Runtime, core: list[tuple[str, str]]
) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(1)
    assert [(i.app, i.id) for i in undone] == [EXAMPLE]
    assert _state(await migrator.status()) == _expect(core, True, False)
    assert not await _table_exists(fresh, "example_vehicle")
    assert not await _table_exists(fresh, "example_vehicle_log")
    assert await _table_exists(fresh, "crmkit_api_key")

    ran = await migrator.forwards()
    assert [(i.app, i.id) for i in ran] == [EXAMPLE]
    assert await _table_exists(fresh, "example_vehicle")
    # The restored table works: indexes were recreated along with it.
    vehicle = await fresh.records("vehicle").create({"make": "Saab"}, actor=SYSTEM)
    assert (await fresh.records("vehicle").get(vehicle["id"]))["make"] == "Saab"


async def test_backwards_of_every_app_newest_first(
    fresh: Runtime, core: list[tuple[str, str]]
) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(len(core) + 3)  # more steps than are applied
    assert [(i.app, i.id) for i in undone] == [EXAMPLE, *reversed(core)]
    assert _state(await migrator.status()) == _expect(core, False, False)
    assert not await _table_exists(fresh, "crmkit_api_key")
    assert len(await migrator.forwards()) == len(core) + 1


async def test_backwards_with_an_app_filter(fresh: Runtime, core: list[tuple[str, str]]) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(len(core) + 1, "core")  # more than core has
    assert [(i.app, i.id) for i in undone] == list(reversed(core))
    assert _state(await migrator.status()) == _expect(core, False, True)
    assert not await _table_exists(fresh, "crmkit_record_tag")
    assert await _table_exists(fresh, "example_vehicle")
    assert [(i.app, i.id) for i in await migrator.forwards()] == core


async def test_backwards_of_one_step_of_one_app(
    fresh: Runtime, core: list[tuple[str, str]]
) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(1, "core")
    assert [(i.app, i.id) for i in undone] == [core[-1]]  # core's newest, not the plugin's
    assert _state(await migrator.status()) == [
        *((a, i, True) for a, i in core[:-1]),
        (*core[-1], False),
        (*EXAMPLE, True),
    ]
    assert [(i.app, i.id) for i in await migrator.forwards()] == [core[-1]]


async def test_backwards_zero_steps_does_nothing(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    assert await migrator.backwards(0) == []
    assert all(i.applied for i in await migrator.status())


@pytest.mark.parametrize("call", ["forwards", "backwards", "status"])
async def test_unknown_app_is_an_error(fresh: Runtime, call: str) -> None:
    migrator = Migrator(fresh)
    args: tuple[Any, ...] = (1, "nope") if call == "backwards" else ("nope",)
    with pytest.raises(CrmError, match="'nope'"):
        await getattr(migrator, call)(*args)


async def test_disabled_plugin_has_no_migrations(db_url: str) -> None:
    rt = Runtime.create(
        make_settings(db_url, plugins=[]), extra_plugins={"example": example_plugin}
    )
    async with rt:
        migrator = Migrator(rt)
        assert [app.app_name for _, app in migrator.apps()] == ["core"]
        core = [("core", m.id) for m in core_migrations(rt)]
        assert [(i.app, i.id) for i in await migrator.forwards()] == core
        assert await migrator.applied() == set(core)
