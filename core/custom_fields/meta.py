"""``/api/v1/meta/entities``: every field of an entity, built-in and custom, for UIs."""

from __future__ import annotations

import enum
import typing
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import FromPath

from ..errors import NotFound
from ..query.types import bare_type, kind_of

__all__ = ["entity_meta", "meta_handlers"]


def _builtin_field(entity: Any, name: str, tp: Any) -> dict[str, Any]:
    base = bare_type(tp)
    options: list[dict[str, str]] = []
    if typing.get_origin(base) is typing.Literal:
        options = [{"value": str(v), "label": str(v)} for v in typing.get_args(base)]
    elif isinstance(base, type) and issubclass(base, enum.Enum):
        options = [{"value": str(m.value), "label": str(m.value)} for m in base]
    kind = kind_of(tp)
    if kind is None:
        origin = typing.get_origin(base)
        kind = "list" if origin in (list, tuple, set) else "object"
    return {
        "key": name,
        "source": "builtin",
        "type": kind,
        "label": name.replace("_", " ").capitalize(),
        "required": name in entity.required,
        "read_only": name not in entity.writable,
        "options": options,
        "rules": {},
        "filterable": name in entity.scalar_fields,
        "sortable": name in entity.scalar_fields,
    }


async def entity_meta(runtime: Any, entity: Any) -> dict[str, Any]:
    """The fields of ``entity``: its read type's fields, then its active custom fields."""
    fields = [
        _builtin_field(entity, f.name, f.type)
        for f in msgspec.structs.fields(entity.read_type)
        if f.name != "custom"
    ]
    for d in await runtime.custom_fields.list(entity.name):
        ftype = runtime.custom_fields.field_type(d)
        fields.append(
            {
                "key": f"custom.{d.key}",
                "source": "custom",
                "type": d.type,
                "label": d.label,
                "required": d.required,
                "read_only": False,
                "options": d.options,
                "rules": d.validation,
                "default": d.default,
                "filterable": d.filterable,
                "sortable": d.sortable,
                "operators": sorted(ftype.operators) if ftype else [],
                "schema": ftype.openapi_schema(d) if ftype else {},
            }
        )
    return {"name": entity.name, "plural": entity.plural, "label": entity.label, "fields": fields}


def meta_handlers() -> list[Any]:
    @get(
        "/api/v1/meta/entities",
        operation_id="list_entity_meta",
        summary="Every entity's fields",
        opt={"permission": None},
    )
    async def list_entities(request: Request) -> dict[str, Any]:
        runtime = request.app.state.runtime
        return {"data": [await entity_meta(runtime, e) for e in runtime.entities]}

    @get(
        "/api/v1/meta/entities/{entity:str}",
        operation_id="get_entity_meta",
        opt={"permission": None},
        summary="One entity's fields (built-in and custom)",
    )
    async def one_entity(request: Request, entity: FromPath[str]) -> dict[str, Any]:
        runtime = request.app.state.runtime
        found = runtime.plugins.entities.get(entity)
        if found is None:
            raise NotFound(f"no entity {entity!r}")
        return await entity_meta(runtime, found)

    return [list_entities, one_entity]
