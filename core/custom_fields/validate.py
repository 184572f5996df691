"""Validation of a record's ``custom`` values against the entity's definitions (every write).

Values of a type that ``references`` something (``user``) are also checked to exist:
each new or changed value of a write, all of them in one query per referenced kind,
by the check registered under that name with :func:`reference_check`. A value the write
leaves as it was is not checked again, so a user deactivated later breaks no record.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..db.sql import join, sql
from ..errors import FieldError, ValidationFailed
from .coerce import coerce

if TYPE_CHECKING:
    from ..events import SaveContext
    from ..fields import FieldType
    from ..runtime import Runtime

__all__ = ["ReferenceCheck", "reference_check", "refused_references", "validate_custom"]

log = logging.getLogger("crmkit.custom_fields")

#: Gets the distinct stored values a write sets; returns those that name something usable.
ReferenceCheck = Callable[["Runtime", set[str]], Awaitable[set[str]]]
#: ``FieldType.references`` -> (check, the message of a refused value).
REFERENCE_CHECKS: dict[str, tuple[ReferenceCheck, str]] = {}


def reference_check(name: str, message: str) -> Callable[[ReferenceCheck], ReferenceCheck]:
    """Register the check of the values of types with ``references = name`` (decorator)."""

    def register(check: ReferenceCheck) -> ReferenceCheck:
        REFERENCE_CHECKS[name] = (check, message)
        return check

    return register


@reference_check("user", "no active user with this id")
async def active_users(runtime: Runtime, ids: set[str]) -> set[str]:
    """The ids of users that exist, are active and are not deleted (one query)."""
    wanted = join([sql("{}", uuid.UUID(i)) for i in sorted(ids)], ", ")
    rows = await runtime.db.fetch(
        sql(
            "SELECT id FROM crmkit_user WHERE id IN ({}) AND active = {} AND deleted_at IS NULL",
            wanted,
            True,
        )
    )
    return {str(uuid.UUID(str(r["id"]))) for r in rows}


def _check_of(reference: str) -> tuple[ReferenceCheck, str] | None:
    found = REFERENCE_CHECKS.get(reference)
    if found is None:
        log.warning("no check is registered for references to %r: values not checked", reference)
    return found


async def _refused(runtime: Runtime, pending: dict[str, list[tuple[str, str]]]) -> list[FieldError]:
    """``pending``: reference kind -> (path, stored value); one query per kind."""
    errors: list[FieldError] = []
    for reference, items in pending.items():
        found = _check_of(reference)
        if found is None:
            continue
        check, message = found
        usable = await check(runtime, {value for _, value in items})
        errors += [FieldError(path, message) for path, value in items if value not in usable]
    return errors


async def refused_references(
    runtime: Runtime, ftype: FieldType, definition: Any, values: Iterable[Any]
) -> tuple[set[str], str]:
    """Stored values that ``values`` (of another type) would convert to and that name
    nothing usable, and the message; one query. Used by a type change to a reference type.
    """
    reference = getattr(ftype, "references", None)
    found = _check_of(reference) if reference else None
    if found is None:
        return set(), ""
    converted: set[str] = set()
    for value in values:
        if value is None:
            continue
        try:
            stored = coerce(value, ftype, definition)
        except ValueError:
            continue  # reported by the conversion itself
        if isinstance(stored, str):
            converted.add(stored)
    if not converted:
        return set(), found[1]
    return converted - await found[0](runtime, converted), found[1]


async def validate_custom(context: SaveContext) -> None:
    """Check and convert ``context.values["custom"]``; every problem is reported at once.

    Unknown keys are refused; values of archived definitions are kept as they are (a
    write may not change them, and a patch that omits them does not drop them); a
    required field is filled from its default on create, and refused when missing on
    create, when an update would remove it, or when a write sets it to null. Records
    made before the field became required keep working: an update that leaves the
    missing value alone (changing other fields) is accepted. New or changed values of
    reference types (and defaults they get) must name something that exists.
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
    #: reference kind -> (path, stored value) of the values this write sets anew
    pending: dict[str, list[tuple[str, str]]] = {}

    def refer(ftype: FieldType | None, key: str, stored: Any) -> None:
        reference = getattr(ftype, "references", None)
        if reference and isinstance(stored, str) and stored != old.get(key):
            pending.setdefault(reference, []).append((f"custom.{key}", stored))

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
            if definition.required:
                errors.append(FieldError(path, "required"))
            continue
        try:
            out[key] = ftype.to_storage(ftype.convert(value, definition))
        except ValueError as exc:
            errors.append(FieldError(path, str(exc)))
            continue
        refer(ftype, key, out[key])
    for key, definition in definitions.items():
        if key in out or any(e.field == f"custom.{key}" for e in errors):
            continue
        ftype = runtime.custom_fields.field_type(definition)
        if definition.archived or ftype is None:
            if key in old and key not in custom:  # kept untouched while archived
                out[key] = old[key]
            continue
        if context.action == "create" and definition.default is not None:
            out[key] = definition.default
            refer(ftype, key, out[key])
        elif definition.required and (context.action == "create" or old.get(key) is not None):
            errors.append(FieldError(f"custom.{key}", "required"))
    if pending:
        errors += await _refused(runtime, pending)
    if errors:
        raise ValidationFailed("invalid custom fields", errors=errors)
    context.values["custom"] = out
