"""The migration runner: core's and the plugins' Piccolo apps, on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from crmkit.core import SYSTEM, CrmError, Runtime
from crmkit.core.migrate import Migrator

from tests import example_plugin
from tests.conftest import make_settings


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


def _state(infos: list[Any]) -> list[tuple[str, str, bool]]:
    return [(i.app, i.id, i.applied) for i in infos]


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


async def test_status_before_and_after_forwards(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", False),
        ("core", "0002_custom_fields", False),
        ("example", "0001_initial", False),
    ]
    assert not await _table_exists(fresh, "example_vehicle")

    steps: list[str] = []
    ran = await migrator.forwards(on_step=lambda info: steps.append(info.app))
    assert [(i.app, i.id) for i in ran] == [
        ("core", "0001_initial"),
        ("core", "0002_custom_fields"),
        ("example", "0001_initial"),
    ]
    assert steps == ["core", "core", "example"]  # core before the plugin
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", True),
        ("core", "0002_custom_fields", True),
        ("example", "0001_initial", True),
    ]
    assert await migrator.applied() == {
        ("core", "0001_initial"),
        ("core", "0002_custom_fields"),
        ("example", "0001_initial"),
    }
    for table in (
        "crmkit_record_tag",
        "crmkit_api_key",
        "crmkit_custom_field",
        "example_vehicle",
        "example_vehicle_log",
    ):
        assert await _table_exists(fresh, table), table
    assert [i.description for i in await migrator.status("example")] == ["vehicles and their log"]


async def test_forwards_is_idempotent(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    assert len(await migrator.forwards()) == 3
    assert await migrator.forwards() == []
    assert await fresh.db.fetchval("SELECT COUNT(*) AS n FROM migration") == 3


async def test_forwards_of_one_app(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    ran = await migrator.forwards("core")
    assert [i.app for i in ran] == ["core", "core"]
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", True),
        ("core", "0002_custom_fields", True),
        ("example", "0001_initial", False),
    ]
    assert await _table_exists(fresh, "crmkit_api_key")
    assert not await _table_exists(fresh, "example_vehicle")


async def test_backwards_undoes_the_newest_and_forwards_restores(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(1)
    assert [(i.app, i.id) for i in undone] == [("example", "0001_initial")]
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", True),
        ("core", "0002_custom_fields", True),
        ("example", "0001_initial", False),
    ]
    assert not await _table_exists(fresh, "example_vehicle")
    assert not await _table_exists(fresh, "example_vehicle_log")
    assert await _table_exists(fresh, "crmkit_api_key")

    ran = await migrator.forwards()
    assert [i.app for i in ran] == ["example"]
    assert await _table_exists(fresh, "example_vehicle")
    # The restored table works: indexes were recreated along with it.
    vehicle = await fresh.records("vehicle").create({"make": "Saab"}, actor=SYSTEM)
    assert (await fresh.records("vehicle").get(vehicle["id"]))["make"] == "Saab"


async def test_backwards_of_every_app_newest_first(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(5)
    assert [i.app for i in undone] == ["example", "core", "core"]
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", False),
        ("core", "0002_custom_fields", False),
        ("example", "0001_initial", False),
    ]
    assert not await _table_exists(fresh, "crmkit_api_key")
    assert len(await migrator.forwards()) == 3


async def test_backwards_with_an_app_filter(fresh: Runtime) -> None:
    migrator = Migrator(fresh)
    await migrator.forwards()
    undone = await migrator.backwards(3, "core")
    assert [(i.app, i.id) for i in undone] == [
        ("core", "0002_custom_fields"),
        ("core", "0001_initial"),
    ]
    assert _state(await migrator.status()) == [
        ("core", "0001_initial", False),
        ("core", "0002_custom_fields", False),
        ("example", "0001_initial", True),
    ]
    assert not await _table_exists(fresh, "crmkit_record_tag")
    assert await _table_exists(fresh, "example_vehicle")
    assert [i.app for i in await migrator.forwards()] == ["core", "core"]


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
        assert [i.app for i in await migrator.forwards()] == ["core", "core"]
