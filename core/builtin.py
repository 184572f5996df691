"""Core registers its own parts through the same hooks as every plugin."""

from __future__ import annotations

from typing import Any

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
    record = await runtime.records(entity).get(record_id)
    return TabPage(items=[record])


@hookimpl
def register_field_types(register: Any) -> None:
    from .custom_fields.types import BUILTIN_FIELD_TYPES

    for field_type in BUILTIN_FIELD_TYPES:
        register(field_type)


@hookimpl
async def before_save(context: Any) -> None:
    from .custom_fields.validate import validate_custom

    await validate_custom(context)


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
