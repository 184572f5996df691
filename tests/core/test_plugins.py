"""The plugin host: discovery, the enabled list, ordering, failures and registries."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint
from types import SimpleNamespace
from typing import Any

import crmkit.core.plugins as plugins_module
import msgspec
import pytest
from crmkit.core import EntityType, PluginError, Schema, hookimpl
from crmkit.core.plugins import PluginHost

from tests import example_plugin
from tests.example_plugin.schemas import VehicleFields
from tests.example_plugin.tables import Vehicle

# -- throwaway plugins -------------------------------------------------------------


def _plugin(name: str, *, requires: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> Any:
    """A plugin object with a ``register_tabs`` impl (so its registration is visible)."""

    @hookimpl
    def register_tabs(register: Any) -> None:
        pass

    return SimpleNamespace(
        __name__=f"plugin_{name}", requires=requires, after=after, register_tabs=register_tabs
    )


def _entity_plugin(entity: EntityType) -> Any:
    @hookimpl
    def register_entity_types(register: Any) -> None:
        register(entity)

    return SimpleNamespace(register_entity_types=register_entity_types)


#: Importable through a fake entry point (``tests.core.test_plugins:GOOD``).
GOOD = _plugin("good")
GOOD_TOO = _plugin("good_too")


def _registration_order(host: PluginHost) -> list[str]:
    """Plugins in the order they were registered with pluggy (core always first)."""
    names = [impl.plugin_name for impl in host.hook.register_tabs.get_hookimpls()]
    assert names[0] == "core"
    return names[1:]


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch):
    """Replace the installed ``crmkit`` entry points with the given ``(name, value)`` pairs."""

    def install(*pairs: tuple[str, str]) -> None:
        eps = [EntryPoint(name=n, value=v, group="crmkit") for n, v in pairs]

        def entry_points(group: str) -> list[EntryPoint]:
            assert group == "crmkit"
            return eps

        monkeypatch.setattr(plugins_module, "entry_points", entry_points)

    install()  # no installed plugins unless the test says so
    return install


# -- discovery and the enabled list ------------------------------------------------------


def test_extra_plugins_are_discovered_and_loaded(fake_entry_points) -> None:
    host = PluginHost(extra={"example": example_plugin})
    assert list(host.plugins) == ["example"]
    info = host.plugins["example"]
    assert info.enabled and info.loaded and info.error is None
    assert info.version == "1.0.0"
    assert info.description.startswith("Vehicles: an example third-party plugin")
    assert host.loaded == ["example"]
    assert host.pm.get_plugin("example") is example_plugin
    assert host.pm.get_plugin("core") is not None


def test_only_enabled_plugins_load(fake_entry_points) -> None:
    host = PluginHost(["alpha"], extra={"alpha": _plugin("alpha"), "beta": _plugin("beta")})
    assert host.loaded == ["alpha"]
    assert host.plugins["beta"].enabled is False
    assert host.plugins["beta"].loaded is False
    assert host.pm.is_blocked("beta")
    assert _registration_order(host) == ["alpha"]


def test_disabled_entry_point_is_never_imported(fake_entry_points) -> None:
    fake_entry_points(("broken", "nonexistent.module"), ("good", "tests.core.test_plugins:GOOD"))
    host = PluginHost(["good"])
    assert host.loaded == ["good"]
    assert host.failures == {}
    assert host.plugins["broken"].obj is None


def test_empty_enabled_list_loads_only_core(fake_entry_points) -> None:
    host = PluginHost([], extra={"example": example_plugin})
    assert host.loaded == []
    assert "vehicle" not in host.entities
    assert [t.key for t in host.tabs] == ["details"]  # core's own


def test_unknown_enabled_plugin_is_one_line_error(fake_entry_points) -> None:
    with pytest.raises(PluginError) as exc_info:
        PluginHost(["example", "nope"], extra={"example": example_plugin})
    message = str(exc_info.value)
    assert "'nope'" in message and "example" in message
    assert "\n" not in message


def test_core_may_be_named_in_the_enabled_list(fake_entry_points) -> None:
    host = PluginHost(["core", "example"], extra={"example": example_plugin})
    assert host.loaded == ["example"]


def test_missing_requirement_names_both_plugins(fake_entry_points) -> None:
    extra = {"alpha": _plugin("alpha", requires=("beta",)), "beta": _plugin("beta")}
    with pytest.raises(PluginError) as exc_info:
        PluginHost(["alpha"], extra=extra)
    message = str(exc_info.value)
    assert "'alpha'" in message and "'beta'" in message
    assert "\n" not in message


def test_requirement_not_installed_names_both_plugins(fake_entry_points) -> None:
    with pytest.raises(PluginError, match=r"'alpha'.*'ghost'"):
        PluginHost(extra={"alpha": _plugin("alpha", requires=("ghost",))})


def test_core_counts_as_a_met_requirement(fake_entry_points) -> None:
    host = PluginHost(extra={"alpha": _plugin("alpha", requires=("core",))})
    assert host.loaded == ["alpha"]


# -- ordering ---------------------------------------------------------------------------


def test_order_is_by_name_without_dependencies(fake_entry_points) -> None:
    extra = {n: _plugin(n) for n in ("delta", "alpha", "charlie", "bravo")}
    host = PluginHost(extra=extra)
    assert host.loaded == ["alpha", "bravo", "charlie", "delta"]
    assert _registration_order(host) == host.loaded
    assert list(host.plugins) == ["alpha", "bravo", "charlie", "delta"]


def test_order_is_topological_by_requires_and_after(fake_entry_points) -> None:
    extra = {
        "alpha": _plugin("alpha", requires=("zulu",)),
        "bravo": _plugin("bravo", after=("yankee",)),
        "charlie": _plugin("charlie"),
        "yankee": _plugin("yankee", requires=("zulu",)),
        "zulu": _plugin("zulu"),
    }
    host = PluginHost(extra=extra)
    order = host.loaded
    assert sorted(order) == sorted(extra)
    assert order.index("zulu") < order.index("alpha")
    assert order.index("zulu") < order.index("yankee") < order.index("bravo")
    assert _registration_order(host) == order
    # Deterministic: the same input gives the same order, whatever the dict order.
    again = PluginHost(extra=dict(reversed(list(extra.items()))))
    assert again.loaded == order


def test_after_a_disabled_plugin_is_ignored(fake_entry_points) -> None:
    extra = {"alpha": _plugin("alpha", after=("zulu",)), "zulu": _plugin("zulu")}
    host = PluginHost(["alpha"], extra=extra)
    assert host.loaded == ["alpha"]


def test_requires_cycle_is_an_error(fake_entry_points) -> None:
    extra = {
        "alpha": _plugin("alpha", requires=("bravo",)),
        "bravo": _plugin("bravo", requires=("alpha",)),
    }
    with pytest.raises(PluginError, match="cycle"):
        PluginHost(extra=extra)


# -- broken plugins ---------------------------------------------------------------------


def test_import_failure_is_reported_and_others_load(
    fake_entry_points, caplog: pytest.LogCaptureFixture
) -> None:
    fake_entry_points(
        ("broken", "nonexistent.module"),
        ("dependent", "tests.core.test_plugins:GOOD_TOO"),
        ("good", "tests.core.test_plugins:GOOD"),
    )
    # "dependent" requires the broken one: it is skipped too, not fatal.
    GOOD_TOO.requires = ("broken",)
    try:
        with caplog.at_level(logging.ERROR, logger="crmkit.plugins"):
            host = PluginHost(extra={"example": example_plugin})
    finally:
        GOOD_TOO.requires = ()
    assert host.loaded == ["example", "good"]
    assert set(host.failures) == {"broken", "dependent"}
    assert "failed to import" in host.failures["broken"]
    assert "nonexistent" in host.failures["broken"]
    assert "'broken'" in host.failures["dependent"]
    assert not host.plugins["broken"].loaded
    assert not host.plugins["dependent"].loaded
    assert "vehicle" in host.entities
    assert "broken" in caplog.text and "dependent" in caplog.text


def test_entry_point_attribute_path_is_resolved(fake_entry_points) -> None:
    fake_entry_points(("good", "tests.core.test_plugins:GOOD"))
    host = PluginHost()
    assert host.plugins["good"].obj is GOOD
    assert host.plugins["good"].target == "tests.core.test_plugins:GOOD"


def test_same_entry_point_listed_twice_is_one_plugin(fake_entry_points) -> None:
    fake_entry_points(
        ("good", "tests.core.test_plugins:GOOD"), ("good", "tests.core.test_plugins:GOOD")
    )
    host = PluginHost()
    assert list(host.plugins) == ["good"]
    assert host.loaded == ["good"]


def test_two_entry_points_with_one_name_is_an_error(fake_entry_points) -> None:
    fake_entry_points(
        ("good", "tests.core.test_plugins:GOOD"), ("good", "tests.core.test_plugins:GOOD_TOO")
    )
    with pytest.raises(PluginError) as exc_info:
        PluginHost()
    message = str(exc_info.value)
    assert "GOOD" in message and "GOOD_TOO" in message and "'good'" in message


def test_misspelled_hookimpl_fails_at_load(fake_entry_points) -> None:
    @hookimpl
    def register_entity_type(register: Any) -> None:  # "types", not "type"
        pass

    typo = SimpleNamespace(register_entity_type=register_entity_type)
    with pytest.raises(PluginError) as exc_info:
        PluginHost(extra={"typo": typo})
    message = str(exc_info.value)
    assert "'typo'" in message and "register_entity_type" in message
    assert "\n" not in message


def test_hookimpl_with_unknown_argument_fails_at_load(fake_entry_points) -> None:
    @hookimpl
    def register_tabs(register: Any, colour: str) -> None:
        pass

    with pytest.raises(PluginError, match=r"'odd'.*colour"):
        PluginHost(extra={"odd": SimpleNamespace(register_tabs=register_tabs)})


# -- entity registration ----------------------------------------------------------------


def _vehicle_like(**changes: Any) -> EntityType:
    values: dict[str, Any] = {
        "name": "car",
        "plural": "cars",
        "table": Vehicle,
        "schema": VehicleFields,
    }
    values.update(changes)
    return EntityType(**values)


def test_register_entity_types_fills_the_registry(fake_entry_points) -> None:
    # hook: register_entity_types
    host = PluginHost(extra={"example": example_plugin, "cars": _entity_plugin(_vehicle_like())})
    assert host.entities.names() == ["car", "vehicle"]  # plugin order: "cars" < "example"
    assert host.entities.owner("vehicle") == "example"
    assert host.entities.owner("car") == "cars"
    assert host.entity("car").plural == "cars"
    assert host.entity_by_plural("vehicles") is host.entity("vehicle")


def test_duplicate_entity_name_names_both_plugins(fake_entry_points) -> None:
    other = _entity_plugin(_vehicle_like(name="vehicle", plural="cars"))
    with pytest.raises(PluginError) as exc_info:
        PluginHost(extra={"example": example_plugin, "other": other})
    message = str(exc_info.value)
    assert "'vehicle'" in message and "'example'" in message and "'other'" in message


def test_duplicate_plural_is_an_error(fake_entry_points) -> None:
    other = _entity_plugin(_vehicle_like(name="car", plural="vehicles"))
    with pytest.raises(PluginError) as exc_info:
        PluginHost(extra={"example": example_plugin, "other": other})
    message = str(exc_info.value)
    assert "'vehicle'" in message and "'car'" in message and "/vehicles" in message


class _FieldsWithoutColumn(Schema):
    make: str
    colour: str | None = None


def test_schema_field_without_a_column_is_an_error(fake_entry_points) -> None:
    bad = _entity_plugin(_vehicle_like(schema=_FieldsWithoutColumn))
    with pytest.raises(PluginError) as exc_info:
        PluginHost(extra={"bad": bad})
    message = str(exc_info.value)
    assert "colour" in message and "'bad'" in message and "'car'" in message


class _PlainStruct(msgspec.Struct):  # not a crmkit Schema: unknown fields would be dropped
    make: str


class _NotAStruct:
    make: str


@pytest.mark.parametrize("schema", [_PlainStruct, _NotAStruct])
def test_schema_must_be_a_crmkit_schema(fake_entry_points, schema: Any) -> None:
    bad = _entity_plugin(_vehicle_like(schema=schema))
    with pytest.raises(PluginError, match=r"'bad'.*Schema"):
        PluginHost(extra={"bad": bad})


def test_registering_a_non_entity_is_an_error(fake_entry_points) -> None:
    bad = _entity_plugin({"name": "car"})  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="'bad'"):
        PluginHost(extra={"bad": bad})


def test_registries_are_frozen_after_load(fake_entry_points) -> None:
    host = PluginHost(extra={"example": example_plugin})
    assert host.entities.frozen and host.field_types.frozen
    with pytest.raises(PluginError, match="frozen"):
        host.entities.add("car", _vehicle_like(), "late")
    with pytest.raises(PluginError, match="frozen"):
        host.field_types.add("rating", object(), "late")  # type: ignore[arg-type]
    assert "car" not in host.entities


# -- calling hooks ----------------------------------------------------------------------


def _recorder(name: str, calls: list[str], *, fail: bool = False, is_async: bool = False) -> Any:
    if is_async:

        @hookimpl
        async def after_commit(event: Any) -> str:
            calls.append(name)
            if fail:
                raise RuntimeError(f"{name} broke")
            return f"{name}:{event}"

    else:

        @hookimpl
        def after_commit(event: Any) -> str:
            calls.append(name)
            if fail:
                raise RuntimeError(f"{name} broke")
            return f"{name}:{event}"

    return SimpleNamespace(after_commit=after_commit)


async def test_call_awaits_async_results_and_accepts_sync_ones(fake_entry_points) -> None:
    calls: list[str] = []
    host = PluginHost(
        extra={
            "a_sync": _recorder("a_sync", calls),
            "b_async": _recorder("b_async", calls, is_async=True),
        }
    )
    results = await host.call("after_commit", runtime=None, event="e1")
    assert sorted(results) == ["a_sync:e1", "b_async:e1"]
    assert sorted(calls) == ["a_sync", "b_async"]


async def test_call_propagates_an_exception(fake_entry_points) -> None:
    calls: list[str] = []
    host = PluginHost(extra={"bad": _recorder("bad", calls, fail=True, is_async=True)})
    with pytest.raises(RuntimeError, match="bad broke"):
        await host.call("after_commit", runtime=None, event="e1")


async def test_call_each_safely_logs_failures_and_runs_the_rest(
    fake_entry_points, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    host = PluginHost(
        extra={
            "alpha": _recorder("alpha", calls, is_async=True),
            "bravo": _recorder("bravo", calls, fail=True),
            "charlie": _recorder("charlie", calls, fail=True, is_async=True),
            "delta": _recorder("delta", calls),
        }
    )
    with caplog.at_level(logging.ERROR, logger="crmkit.plugins"):
        failed = await host.call_each_safely("after_commit", runtime=None, event="e1")
    assert failed == ["bravo", "charlie"]
    assert calls == ["alpha", "bravo", "charlie", "delta"]  # plugin order, all of them
    messages = [r.getMessage() for r in caplog.records]
    assert "plugin bravo failed in after_commit" in messages
    assert "plugin charlie failed in after_commit" in messages
    assert all(r.exc_info for r in caplog.records)


def test_a_registrar_that_raises_is_one_line_naming_its_plugin(fake_entry_points) -> None:
    class Broken:
        @staticmethod
        @hookimpl
        def register_tabs(register: Any) -> None:
            raise KeyError("no such tab setting")

    with pytest.raises(PluginError) as info:
        PluginHost(extra={"broken": Broken})
    message = str(info.value)
    assert "broken" in message and "register_tabs" in message and "KeyError" in message
    assert "\n" not in message


def test_tabs_are_frozen_after_load(fake_entry_points) -> None:
    host = PluginHost(extra={"example": example_plugin})
    assert isinstance(host.tabs, tuple)
    assert [t.key for t in host.tabs_for("vehicle")][:1] == ["details"]
