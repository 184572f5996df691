"""Each hook, exercised through a real plugin (the example plugin or a throwaway one)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from crmkit.core import (
    SYSTEM,
    Event,
    FieldType,
    PluginError,
    Runtime,
    ValidationFailed,
    hookimpl,
)
from crmkit.core.plugins import PluginHost
from litestar import get

from tests import example_plugin
from tests.example_plugin.tables import Vehicle, VehicleLog


class Rating(FieldType):
    name = "rating"
    label = "Rating (1-5)"
    storage = "number"
    value_type = int


@get("/api/v1/ping", opt={"permission": None})
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


@click.command("hello")
@click.option("--name", default="world")
def hello(name: str) -> None:
    click.echo(f"hello {name}")


class HookyPlugin:
    """A throwaway plugin with one implementation of each hook the example lacks."""

    def __init__(self) -> None:
        self.committed: list[Event] = []

    @hookimpl
    def register_field_types(self, register: Any) -> None:
        register(Rating())

    @hookimpl
    def route_handlers(self, runtime: Runtime) -> Sequence[Any]:
        return [ping]

    @hookimpl
    async def search_text(
        self, runtime: Runtime, entity: str, record_ids: Sequence[Any]
    ) -> dict[Any, str] | None:
        if entity != "vehicle":
            return None
        rows = await Vehicle.select(Vehicle.id, Vehicle.make).where(
            Vehicle.id.is_in(list(record_ids))
        )
        return {row["id"]: f"{row['make']} marque" for row in rows}

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        cli.add_command(hello)

    @hookimpl
    async def after_commit(self, event: Event) -> None:
        if event.data.get("hooky_fail"):
            raise RuntimeError("hooky after_commit failed")
        self.committed.append(event)


HOOKY = HookyPlugin()


@pytest.fixture
def plugins() -> dict[str, Any]:
    HOOKY.committed.clear()
    return {"example": example_plugin, "hooky": HOOKY}


@pytest.fixture
def enabled() -> list[str] | None:
    return ["example", "hooky"]


def _host() -> PluginHost:
    return PluginHost(["example", "hooky"], extra={"example": example_plugin, "hooky": HOOKY})


# -- start-up registries ----------------------------------------------------------------


def test_register_field_types() -> None:
    # hook: register_field_types
    host = _host()
    assert isinstance(host.field_types["rating"], Rating)
    assert host.field_types.owner("rating") == "hooky"
    assert host.field_types["rating"].convert("4") == 4
    with pytest.raises(ValueError):
        host.field_types["rating"].convert("four")


def test_register_field_types_rejects_a_non_field_type() -> None:
    @hookimpl
    def register_field_types(register: Any) -> None:
        register(Rating)  # the class, not an instance

    class Bad:
        pass

    bad = Bad()
    bad.register_field_types = register_field_types  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="'bad'"):
        PluginHost(["bad"], extra={"bad": bad})


def test_duplicate_field_type_names_both_plugins() -> None:
    class Twin:
        @hookimpl
        def register_field_types(self, register: Any) -> None:
            register(Rating())

    with pytest.raises(PluginError, match=r"'rating'.*'hooky'.*'twin'"):
        PluginHost(["hooky", "twin"], extra={"hooky": HOOKY, "twin": Twin()})


async def test_register_tabs(runtime: Runtime) -> None:
    # hook: register_tabs
    host = runtime.plugins
    assert [(t.key, t.entity) for t in host.tabs] == [("details", "*"), ("log", "vehicle")]
    assert [t.key for t in host.tabs_for("vehicle")] == ["details", "log"]
    assert [t.key for t in host.tabs_for("other")] == ["details"]
    vehicle = await runtime.records("vehicle").create({"make": "Volvo"}, actor=SYSTEM)
    entity = runtime.plugins.entity("vehicle")
    log_tab = host.tabs_for("vehicle")[1]
    assert await log_tab.count(runtime, entity, vehicle["id"]) == 1


def test_register_commands() -> None:
    # hook: register_commands
    group = click.Group("crmkit")
    _host().hook.register_commands(cli=group)
    assert "hello" in group.commands
    result = CliRunner().invoke(group, ["hello", "--name", "crm"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello crm\n"


# -- API ------------------------------------------------------------------------------------


async def test_route_handlers(anon: httpx.AsyncClient, api_key: str) -> None:
    # hook: route_handlers
    response = await anon.get("/api/v1/ping")
    assert response.status_code == 401
    response = await anon.get("/api/v1/ping", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    assert response.json() == {"pong": "yes"}
    response = await anon.get("/api/v1/ping", headers={"X-API-Key": api_key})
    assert response.status_code == 200


# -- records ---------------------------------------------------------------------------------


async def test_search_text(runtime: Runtime) -> None:
    # hook: search_text
    records = runtime.records("vehicle")
    a = await records.create({"make": "Volvo"}, actor=SYSTEM)
    b = await records.create({"make": "Saab"}, actor=SYSTEM)
    results = await runtime.plugins.call(
        "search_text", runtime=runtime, entity="vehicle", record_ids=[a["id"], b["id"]]
    )
    texts = [r for r in results if r]
    assert len(texts) == 1
    assert {uuid.UUID(str(k)): v for k, v in texts[0].items()} == {
        a["id"]: "Volvo marque",
        b["id"]: "Saab marque",
    }
    other = await runtime.plugins.call(
        "search_text", runtime=runtime, entity="individual", record_ids=[a["id"]]
    )
    assert [r for r in other if r] == []


async def test_before_save_normalises_and_vetoes(runtime: Runtime) -> None:
    # hook: before_save
    records = runtime.records("vehicle")
    vehicle = await records.create({"make": "Volvo", "vin": "  yv1abc  "}, actor=SYSTEM)
    assert vehicle["vin"] == "YV1ABC"
    with pytest.raises(ValidationFailed) as exc_info:
        await records.create({"make": "Volvo", "price": -1}, actor=SYSTEM)
    assert [(e.field, e.message) for e in exc_info.value.errors] == [("price", "must be >= 0")]
    with pytest.raises(ValidationFailed):
        await records.update(vehicle["id"], {"status": "sold"}, actor=SYSTEM)
    assert await Vehicle.count() == 1  # nothing written by the vetoed create
    assert (await records.get(vehicle["id"]))["status"] == "in_stock"
    assert [e.action for e in example_plugin.COMMITTED] == ["create"]


async def test_record_changed_runs_inside_the_transaction(runtime: Runtime) -> None:
    # hook: record_changed
    records = runtime.records("vehicle")
    vehicle = await records.create({"make": "Volvo"}, actor=SYSTEM)
    await records.update(vehicle["id"], {"year": 2001, "model": "240"}, actor=SYSTEM)
    logs = await VehicleLog.select(VehicleLog.action, VehicleLog.fields).order_by(VehicleLog.id)
    assert [row["action"] for row in logs] == ["create", "update"]
    assert logs[1]["fields"] == "model,year"
    # An exception in the hook rolls the change back and reaches the caller.
    with pytest.raises(RuntimeError, match="injected failure"):
        await records.create({"make": "Saab"}, actor=SYSTEM, data={"fail_in_transaction": True})
    assert await Vehicle.count() == 1
    assert await VehicleLog.count() == 2
    assert [e.action for e in example_plugin.COMMITTED] == ["create", "update"]


async def test_after_commit_runs_after_commit_and_isolates_failures(runtime: Runtime) -> None:
    # hook: after_commit
    records = runtime.records("vehicle")
    seen_inside: list[int] = []
    async with runtime.write():
        first = await records.create({"make": "Volvo"}, actor=SYSTEM)
        await records.create({"make": "Saab"}, actor=SYSTEM)
        seen_inside.append(len(example_plugin.COMMITTED))
    assert seen_inside == [0]  # nothing announced before the unit of work commits
    assert [e.action for e in example_plugin.COMMITTED] == ["create", "create"]
    assert [e.record_id for e in HOOKY.committed][:1] == [first["id"]]

    # A failing implementation is logged; the write stands and the others still run.
    vehicle = await records.create({"make": "Fiat"}, actor=SYSTEM, data={"hooky_fail": True})
    assert (await records.get(vehicle["id"]))["make"] == "Fiat"
    assert example_plugin.COMMITTED[-1].record_id == vehicle["id"]
    assert len(HOOKY.committed) == 2

    # A rolled-back unit of work announces nothing.
    with pytest.raises(RuntimeError):
        async with runtime.write():
            await records.create({"make": "Lada"}, actor=SYSTEM)
            raise RuntimeError("abort")
    assert len(example_plugin.COMMITTED) == 3
