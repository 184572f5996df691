"""Vehicles: an example third-party plugin (a car dealer's CRM), public API only.

It declares an entity of its own, a detail tab, a before-save rule, an in-transaction
event hook (its own log table) and an after-commit hook, and imports nothing but
``crmkit.core``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crmkit.core import (
    EntityType,
    Event,
    FieldError,
    Filter,
    SaveContext,
    TabPage,
    TabProvider,
    ValidationFailed,
    hookimpl,
    sql,
)
from piccolo.conf.apps import AppConfig

from .schemas import VehicleFields
from .tables import Vehicle, VehicleLog

__version__ = "1.0.0"
requires: tuple[str, ...] = ()

#: After-commit events seen, for tests to inspect.
COMMITTED: list[Event] = []


def _vin_prefix(runtime: Any, op: str, value: str) -> Any:
    return sql("t.vin LIKE {}", value.upper().replace("%", "") + "%")


VEHICLE = EntityType(
    name="vehicle",
    plural="vehicles",
    title="Vehicle",
    table=Vehicle,
    schema=VehicleFields,
    searchable=("make", "model", "vin"),
    filters={"vin_prefix": Filter(build=_vin_prefix, description="VIN starts with")},
    default_sort=("-created_at",),
    display=lambda r: f"{r['year'] or ''} {r['make']} {r['model'] or ''}".strip(),
)


@hookimpl
def register_entity_types(register):
    register(VEHICLE)


@hookimpl
def piccolo_app():
    return AppConfig(
        app_name="example",
        migrations_folder_path=str(Path(__file__).parent / "migrations"),
        table_classes=[Vehicle, VehicleLog],
    )


@hookimpl
def before_save(context: SaveContext) -> None:
    if context.entity.name != "vehicle":
        return
    values = context.values
    if values.get("vin"):
        values["vin"] = values["vin"].strip().upper()
    if values.get("price") is not None and values["price"] < 0:
        raise ValidationFailed("negative price", errors=[FieldError("price", "must be >= 0")])
    if values.get("status") == "sold" and values.get("price") is None:
        raise ValidationFailed(
            "a sold vehicle needs a price", errors=[FieldError("price", "required when sold")]
        )


@hookimpl
async def record_changed(runtime, event: Event) -> None:
    if event.entity != "vehicle":
        return
    if event.data.get("fail_in_transaction"):
        raise RuntimeError("injected failure inside the transaction")
    await VehicleLog.insert(
        VehicleLog(
            vehicle_id=event.record_id,
            action=event.action,
            fields=",".join(c.field for c in event.changes),
        )
    )


@hookimpl
def after_commit(event: Event) -> None:
    COMMITTED.append(event)


async def _log_count(runtime, entity, record_id) -> int:
    return await VehicleLog.count().where(VehicleLog.vehicle_id == record_id)


async def _log_page(runtime, entity, record_id, params) -> TabPage:
    rows = (
        await VehicleLog.select(VehicleLog.id, VehicleLog.action, VehicleLog.fields)
        .where(VehicleLog.vehicle_id == record_id)
        .order_by(VehicleLog.id, ascending=False)
        .limit(params.limit)
    )
    return TabPage(items=rows)


@hookimpl
def register_tabs(register) -> None:
    register(
        TabProvider(
            entity="vehicle",
            key="log",
            title="Change log",
            order=50,
            count=_log_count,
            page=_log_page,
        )
    )
