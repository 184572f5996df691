"""Validation of a record's ``custom`` values against the entity's definitions (every write)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FieldError, ValidationFailed

if TYPE_CHECKING:
    from ..events import SaveContext

__all__ = ["validate_custom"]


async def validate_custom(context: SaveContext) -> None:
    """Check and convert ``context.values["custom"]``; every problem is reported at once.

    Unknown keys are refused; values of archived definitions are kept as they are (a
    write may not change them, and a patch that omits them does not drop them); a
    required field is filled from its default on create, and refused when missing on
    create or when an update would remove it (records made before the field became
    required keep working).
    """
    if context.action == "restore" or "custom" not in context.entity.writable:
        return
    runtime = context.runtime
    definitions = (await runtime.custom_fields.ensure()).get(context.entity.name, {})
    custom = context.values.get("custom")
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        raise ValidationFailed(
            "custom must be an object", errors=[FieldError("custom", "expected an object")]
        )
    old = (context.old or {}).get("custom") or {}
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key, value in custom.items():
        path = f"custom.{key}"
        definition = definitions.get(key)
        if definition is None:
            errors.append(FieldError(path, "unknown custom field"))
            continue
        ftype = runtime.custom_fields.field_type(definition)
        if definition.archived or ftype is None:  # not validated; may not change
            if old.get(key) == value or ftype is None:
                if value is not None or key in old:
                    out[key] = value if value is not None else old[key]
            else:
                errors.append(FieldError(path, "this field is archived; its value cannot change"))
            continue
        if value is None:
            continue
        try:
            out[key] = ftype.to_storage(ftype.convert(value, definition))
        except ValueError as exc:
            errors.append(FieldError(path, str(exc)))
    for key, definition in definitions.items():
        if key in out or any(e.field == f"custom.{key}" for e in errors):
            continue
        if definition.archived or runtime.custom_fields.field_type(definition) is None:
            if key in old and key not in custom:  # kept untouched while archived
                out[key] = old[key]
            continue
        if context.action == "create" and definition.default is not None:
            out[key] = definition.default
        elif definition.required and (context.action == "create" or old.get(key) is not None):
            errors.append(FieldError(f"custom.{key}", "required"))
    if errors:
        raise ValidationFailed("invalid custom fields", errors=errors)
    context.values["custom"] = out
