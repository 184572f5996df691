"""``register_transfer_columns`` and ``register_export_formats``, through throwaway plugins
on the example plugin's vehicles (public API only)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from crmkit.core import (
    SYSTEM,
    ExportFormat,
    FieldError,
    PluginError,
    Runtime,
    TransferColumns,
    ValidationFailed,
    hookimpl,
    sql,
)
from crmkit.core.plugins import PluginHost
from crmkit.core.transfer.columns import column_model

from tests import example_plugin

APPLIED: list[tuple[str, Any, str]] = []


async def _log_counts(runtime: Runtime, records: list[dict[str, Any]]) -> list[list[str]]:
    """One query per batch: how many log entries each vehicle has."""
    ids = [r["id"] for r in records]
    marks = ", ".join("{}" for _ in ids)
    rows = await runtime.db.fetch(
        sql(
            "SELECT vehicle_id, COUNT(*) AS n FROM example_vehicle_log "
            f"WHERE vehicle_id IN ({marks}) GROUP BY vehicle_id",
            *ids,
        )
    )
    counts = {str(r["vehicle_id"]): r["n"] for r in rows}
    return [[str(counts.get(str(r["id"]), 0)), (r.get("vin") or "")[:3]] for r in records]


def _parse(cells: dict[str, str]) -> Any:
    wmi = cells.get("wmi", "")
    if wmi and len(wmi) != 3:
        raise ValidationFailed("bad wmi", errors=[FieldError("wmi", "three characters")])
    return wmi or None


async def _apply(runtime: Runtime, access: Any, record: dict[str, Any], value: Any, source: str):
    APPLIED.append((str(record["id"]), value, f"{access.actor.id}/{source}"))


class Transfers:
    @hookimpl
    def register_transfer_columns(self, register: Any) -> None:
        register(
            TransferColumns(
                entity="vehicle",
                names=("log_entries", "wmi"),
                export=_log_counts,
                parse=_parse,
                apply=_apply,
                reveals=("vin",),
            )
        )
        register(  # an entity that is not enabled: left out
            TransferColumns(entity="spaceship", names=("warp",), export=lambda rt, rs: [])
        )

    @hookimpl
    def register_export_formats(self, register: Any) -> None:
        register(
            ExportFormat(
                entity="vehicle",
                name="txt",
                media_type="text/plain",
                render=lambda records: "".join(f"{r['make']}\n" for r in records),
                head="VEHICLES\n",
                tail="END\n",
            )
        )


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {"example": example_plugin, "transfers": Transfers()}


async def test_plugin_columns_are_exported_read_and_applied(runtime: Runtime) -> None:
    # hook: register_transfer_columns
    vehicles = runtime.records("vehicle")
    car = await vehicles.create({"make": "Tesla", "vin": "5YJ3E1EA7KF000001"}, actor=SYSTEM)
    await vehicles.update(car["id"], {"model": "Model 3"}, actor=SYSTEM)
    entity = runtime.plugins.entity("vehicle")
    model = await column_model(runtime, entity)
    assert model.header[-2:] == ["log_entries", "wmi"]
    [row] = await model.to_rows([await vehicles.get(car["id"])])
    assert row[-2:] == ["2", "5YJ"]

    parsed = model.from_row(model.header, row)
    assert parsed.errors == [] and parsed.extra == {"log_entries": "5YJ"}
    APPLIED.clear()
    await model.apply(car, parsed.extra)
    assert APPLIED == [(str(car["id"]), "5YJ", "system/import")]
    bad = model.from_row(["make", "wmi"], ["Volvo", "TOOLONG"])
    assert [(e.field, e.message) for e in bad.errors] == [("wmi", "three characters")]
    assert "warp" not in model.header and "spaceship" not in runtime.plugins.entities


async def test_a_plugin_format_is_streamed_between_its_head_and_tail(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # hook: register_export_formats
    for make in ("Volvo", "Saab"):
        await runtime.records("vehicle").create({"make": make}, actor=SYSTEM)
    r = await client.get("/api/v1/vehicles/export?format=txt&sort=make")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "VEHICLES\nSaab\nVolvo\nEND\n"
    assert r.headers["content-disposition"].endswith('.txt"')
    r = await client.get("/api/v1/individuals/export?format=txt")
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "format"
    r = await client.get("/api/v1/vehicles/export")
    header = next(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert header[-2:] == ["log_entries", "wmi"]


class Clash:
    def __init__(self, names: tuple[str, ...] = ("make",), fmt: str = "other") -> None:
        self.names, self.fmt = names, fmt

    @hookimpl
    def register_transfer_columns(self, register: Any) -> None:
        register(TransferColumns(entity="vehicle", names=self.names, export=lambda rt, rs: []))

    @hookimpl
    def register_export_formats(self, register: Any) -> None:
        register(
            ExportFormat(entity="vehicle", name=self.fmt, media_type="x/y", render=lambda r: "")
        )


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Clash(("make",)), r"'clash'.*CSV column 'make'"),
        (Clash(("features",)), r"'clash'.*CSV column 'features'"),
        (Clash(("id",)), r"CSV column 'id'"),
        (Clash(("Bad Name",)), r"CSV column 'Bad Name'"),
        (Clash(("log_entries",)), r"duplicate CSV column 'vehicle/log_entries'.*'clash'"),
        (Clash(("ok",), "csv"), r"export format 'csv'"),
        (Clash(("ok",), "txt"), r"duplicate export format 'vehicle/txt'"),
    ],
)
def test_clashes_are_start_up_errors(plugin: Any, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        PluginHost(
            ["example", "transfers", "clash"],
            extra={"example": example_plugin, "transfers": Transfers(), "clash": plugin},
        )
