"""The OpenAPI document as of the request: ``custom`` typed by the live custom-field definitions.

Litestar builds the document once, from the routes' types, and caches it; custom-field
definitions are data that change at any time. So ``/schema/openapi.json`` is served by a
render plugin that takes Litestar's cached document and, for each entity, replaces the
free-form ``custom`` object of its Create, Patch and Read schemas with one whose properties
are the entity's live definitions (each type's ``openapi_schema(definition)``). The cached
document is never changed: only the objects on the way to a patched schema are copied.

Rendering is synchronous in Litestar while the definitions are read from the database, so
the schema router's ``before_request`` hook loads them first (:func:`openapi_router`). The
rendered bytes are kept until a definition changes (their ids and versions are the key).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from litestar import Request, Router
from litestar.enums import OpenAPIMediaType
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi.plugins import OpenAPIRenderPlugin

if TYPE_CHECKING:
    from ..custom_fields.definitions import Definition
    from ..entity import EntityType
    from ..fields import FieldType

__all__ = [
    "CustomFieldsOpenAPI",
    "custom_schema",
    "entity_components",
    "field_schema",
    "live_document",
    "openapi_router",
    "value_schema",
]

log = logging.getLogger("crmkit.api")

Kind = Literal["create", "patch", "read"]
FieldTypeOf = Callable[["Definition"], "FieldType | None"]

#: Where the schema router's hook leaves the definitions for the render plugin.
_STATE_KEY = "crmkit_openapi_definitions"
#: Documents whose render needs the definitions (the rest of ``/schema`` works without a database).
_DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")

#: Validation rule -> JSON Schema keyword, how it combines with the type's own bound, and
#: the JSON types it applies to. Date bounds have no keyword: they go in the description.
_RULES: dict[str, tuple[str, Callable[[Any, Any], Any], tuple[str, ...]]] = {
    "min": ("minimum", max, ("number", "integer")),
    "max": ("maximum", min, ("number", "integer")),
    "min_length": ("minLength", max, ("string",)),
    "max_length": ("maxLength", min, ("string",)),
    "max_selections": ("maxItems", min, ("array",)),
}

_OBJECT_DESCRIPTIONS: dict[Kind, str] = {
    "create": (
        "Custom-field values by key, as defined (`/api/v1/custom-fields`) when this document "
        "was served. Unknown keys are a 422."
    ),
    "patch": (
        "Replaces the record's custom-field values: keys left out are cleared (values of "
        "archived fields are kept). Unknown keys are a 422."
    ),
    "read": "Custom-field values by key. Values of archived fields may appear as well.",
}


# -- one field ---------------------------------------------------------------------------


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """``$defs`` inlined: ``#/$defs/...`` would point at the root of the OpenAPI document.

    (The default ``FieldType.openapi_schema`` is ``msgspec.json.schema``, which puts a
    struct's schema in ``$defs``.) A recursive reference becomes ``{}`` (any value).
    """
    defs = schema.pop("$defs", None)
    if not isinstance(defs, dict):
        return schema

    def resolve(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            rest = resolve({k: v for k, v in node.items() if k != "$ref"}, seen)
            if name in seen or name not in defs:
                return rest
            return {**resolve(defs[name], seen | {name}), **rest}
        return {key: resolve(value, seen) for key, value in node.items()}

    return resolve(schema, frozenset())


def _json_types(schema: Mapping[str, Any]) -> set[str]:
    kinds = schema.get("type")
    return {kinds} if isinstance(kinds, str) else set(kinds or ())


def _apply_rules(schema: dict[str, Any], rules: Mapping[str, Any], path: str | None) -> None:
    """The definition's validation rules as JSON Schema keywords, where the type has none
    stricter. ``path`` is the type's ``storage_path`` (``amount`` of a currency value)."""
    target = schema
    if path is not None:
        target = schema.get("properties", {}).get(path)
        if not isinstance(target, dict):
            return
    for rule, value in rules.items():
        if value is None:
            continue
        if rule == "pattern" and "string" in _json_types(target):
            if "pattern" not in target:
                target["pattern"] = value
            elif target["pattern"] != value:  # both apply
                target["allOf"] = [*target.get("allOf", []), {"pattern": value}]
        elif rule in _RULES:
            keyword, strictest, applies_to = _RULES[rule]
            if _json_types(target) & set(applies_to):
                target[keyword] = strictest(target[keyword], value) if keyword in target else value


def _describe(definition: Definition, ftype: FieldType) -> str:
    own = getattr(definition, "description", None)  # not every version has one
    parts = [own or f"{ftype.label or ftype.name} (custom field)."]
    options = definition.options or []
    if any(o.get("label", o.get("value")) != o.get("value") for o in options):
        parts.append(
            "Options: " + ", ".join(f"`{o.get('value')}` ({o.get('label')})" for o in options) + "."
        )
    rules = definition.validation or {}
    if ftype.storage == "date":  # JSON Schema has no bounds for dates
        if rules.get("min") is not None:
            parts.append(f"On or after {rules['min']}.")
        if rules.get("max") is not None:
            parts.append(f"On or before {rules['max']}.")
    return " ".join(parts)


def value_schema(definition: Definition, ftype: FieldType) -> dict[str, Any]:
    """The JSON schema of one value: the type's, with the definition's rules applied."""
    try:
        schema = copy.deepcopy(ftype.openapi_schema(definition))
        if not isinstance(schema, dict):
            raise TypeError(f"openapi_schema returned {type(schema).__name__}, not a dict")
    except Exception:  # a broken third-party type: document "any value", keep serving
        log.exception("field type %r: no OpenAPI schema for %s", ftype.name, definition.key)
        return {}
    schema = _inline_defs(schema)
    _apply_rules(schema, definition.validation or {}, getattr(ftype, "storage_path", None))
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # ``oneOf`` like Litestar's own optional fields, unless the value may already be null
    exclusive = _json_types(schema) and "null" not in _json_types(schema)
    return {"oneOf" if exclusive else "anyOf": [schema, {"type": "null"}]}


def _required_on_create(definition: Definition) -> bool:
    # the default fills a required field left out of a create
    return definition.required and definition.default is None


def field_schema(definition: Definition, ftype: FieldType, kind: Kind) -> dict[str, Any]:
    """One property of ``custom``: the value schema, nullable where the API takes or gives
    ``null`` (no value), with the definition's label, description, type and default."""
    value = value_schema(definition, ftype)
    nullable = (
        kind == "read"
        or (kind == "create" and not _required_on_create(definition))
        or (kind == "patch" and not definition.required)
    )
    notes: dict[str, Any] = {
        "title": definition.label,
        "description": _describe(definition, ftype),
        "x-crmkit-type": definition.type,
    }
    if definition.default is not None:
        notes["default"] = definition.default
    return {**_nullable(value), **notes} if nullable else {**value, **notes}


def custom_schema(
    definitions: Iterable[Definition], field_type: FieldTypeOf, kind: Kind
) -> dict[str, Any]:
    """The ``custom`` object of one entity's Create, Patch or Read schema.

    Archived definitions, and those whose type is not registered (its plugin is
    disabled), are left out: the API refuses new values for them.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for definition in definitions:
        ftype = field_type(definition)
        if definition.archived or ftype is None:
            continue
        properties[definition.key] = field_schema(definition, ftype, kind)
        if kind == "create" and _required_on_create(definition):
            required.append(definition.key)
    schema: dict[str, Any] = {
        "type": "object",
        "description": _OBJECT_DESCRIPTIONS[kind],
        "properties": properties,
    }
    if required:
        schema["required"] = required
    if kind != "read":  # reads also carry archived fields' values
        schema["additionalProperties"] = False
    return schema


# -- the document ------------------------------------------------------------------------


def _component_name(schema: Mapping[str, Any] | None) -> str | None:
    """The component a body or response schema refers to (directly or as its one non-null
    ``oneOf`` branch)."""
    if not schema:
        return None
    refs = [schema.get("$ref")] + [b.get("$ref") for b in schema.get("oneOf", ())]
    found = [r for r in refs if isinstance(r, str) and r.startswith("#/components/schemas/")]
    return found[0].rsplit("/", 1)[1] if len(found) == 1 else None


def entity_components(doc: Mapping[str, Any], entity: EntityType) -> dict[Kind, str]:
    """The component names of an entity's Create, Patch and Read types, found from its own
    operations (Litestar names components after the types, prefixing the module on a clash)."""
    by_id = {
        op.get("operationId"): op
        for item in doc.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict)
    }

    def body(operation_id: str) -> Any:
        op = by_id.get(operation_id) or {}
        return op.get("requestBody", {}).get("content", {}).get("application/json", {})

    def response(operation_id: str, status: str) -> Any:
        op = by_id.get(operation_id) or {}
        content = op.get("responses", {}).get(status, {}).get("content", {})
        return content.get("application/json", {})

    found: dict[Kind, str | None] = {
        "create": _component_name(body(f"create_{entity.name}").get("schema")),
        "patch": _component_name(body(f"update_{entity.name}").get("schema")),
        "read": _component_name(response(f"get_{entity.name}", "200").get("schema")),
    }
    return {kind: name for kind, name in found.items() if name is not None}


def live_document(
    doc: Mapping[str, Any],
    entities: Iterable[EntityType],
    definitions: Sequence[Definition],
    field_type: FieldTypeOf,
) -> dict[str, Any]:
    """``doc`` with each entity's ``custom`` typed by its definitions; ``doc`` is not changed."""
    schemas = dict(doc.get("components", {}).get("schemas", {}))
    for entity in entities:
        own = [d for d in definitions if d.entity == entity.name]
        for kind, name in entity_components(doc, entity).items():
            component = schemas.get(name)
            if not isinstance(component, dict) or "custom" not in component.get("properties", {}):
                continue
            custom = custom_schema(own, field_type, kind)
            patched = {**component, "properties": {**component["properties"], "custom": custom}}
            if custom.get("required"):  # leaving ``custom`` out is then a 422 too
                patched["required"] = sorted({*component.get("required", ()), "custom"})
            schemas[name] = patched
    return {**doc, "components": {**doc.get("components", {}), "schemas": schemas}}


class CustomFieldsOpenAPI(OpenAPIRenderPlugin):
    """Serves the JSON document (``/openapi.json``) with the live custom fields.

    Needs the schema router of :func:`openapi_router`, whose hook loads the definitions.
    """

    def __init__(self, *, path: str | Sequence[str] = "/openapi.json", **kwargs: Any) -> None:
        super().__init__(path=path, media_type=OpenAPIMediaType.OPENAPI_JSON, **kwargs)
        self._rendered: tuple[object, tuple[Any, ...], bytes] | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        definitions = request.state.get(_STATE_KEY)
        if definitions is None:
            raise ImproperlyConfiguredException(
                "CustomFieldsOpenAPI needs the schema router of crmkit.core.api.openapi.openapi_router"
            )
        key = tuple((d.id, d.version) for d in definitions)
        rendered = self._rendered
        if rendered is not None and rendered[0] is openapi_schema and rendered[1] == key:
            return rendered[2]
        runtime = request.app.state.runtime
        doc = live_document(
            openapi_schema, runtime.entities, definitions, runtime.custom_fields.field_type
        )
        body = self.render_json(request, doc)
        self._rendered = (openapi_schema, key, body)
        return body


async def _load_definitions(request: Request) -> None:
    """Before the schema document renders: the live definitions (cached by the runtime)."""
    if request.url.path.endswith(_DOCUMENT_SUFFIXES):
        runtime = request.app.state.runtime
        request.state[_STATE_KEY] = await runtime.custom_fields.list()


def openapi_router(path: str = "/schema") -> Router:
    """The router of the schema and docs pages (``OpenAPIConfig.openapi_router``), as
    Litestar would make it, plus the hook :class:`CustomFieldsOpenAPI` needs."""
    return Router(
        path,
        route_handlers=[],
        include_in_schema=False,
        dto=None,
        return_dto=None,
        before_request=_load_definitions,
    )
