"""Core registers its own parts through the same hooks as every plugin."""

from __future__ import annotations

from typing import Any

import msgspec

from .hookspecs import hookimpl
from .tabs import TabPage, TabProvider

__all__: list[str] = []


@hookimpl
def piccolo_app() -> Any:
    from .piccolo_app import APP_CONFIG

    return APP_CONFIG


async def _details_count(runtime: Any, entity: Any, record_id: Any) -> int:
    return 1


async def _details_page(runtime: Any, entity: Any, record_id: Any, params: Any) -> TabPage:
    from .access import current_access

    records = runtime.records(entity, current_access())
    record = await records.get(record_id)
    return TabPage(items=[msgspec.to_builtins(records.to_read(record))])


@hookimpl
def register_field_types(register: Any) -> None:
    from .custom_fields.types import BUILTIN_FIELD_TYPES

    for field_type in BUILTIN_FIELD_TYPES:
        register(field_type)


@hookimpl
async def before_save(context: Any) -> None:
    from .custom_fields.validate import validate_custom
    from .users import check_owner_fields

    await check_owner_fields(context)
    await validate_custom(context)


@hookimpl
async def record_changed(runtime: Any, event: Any) -> None:
    """Multi-select values mirrored into ``crmkit_custom_value``, and the record's search
    document re-indexed (``crmkit_search``), in the change's transaction."""
    from .custom_fields.values import mirror_event
    from .search import follow

    await mirror_event(runtime, event)
    await follow(runtime, event)


@hookimpl
def register_tabs(register: Any) -> None:
    register(
        TabProvider(
            key="details",
            title="Details",
            order=0,
            count=_details_count,
            page=_details_page,
        )
    )
