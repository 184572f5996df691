"""CSV columns of individuals: ``organization`` (the primary organisation, by name) and
``organization_role``.

Export reads the ``organizations`` field the extension already filled for the batch
(no query of its own). Import finds the organisation by name (case-insensitively,
not deleted) or creates it, and makes it the person's primary current link with the
role, reusing a current link to it when there is one.
"""

from __future__ import annotations

import uuid
from typing import Any

from crmkit.core import (
    Access,
    FieldError,
    Runtime,
    TransferColumns,
    ValidationFailed,
    sql,
)

from .links import LINK_TABLE, create_link, current_sql, same_role, update_link

__all__ = ["COLUMNS", "NAME", "ROLE"]

NAME = "organization"
ROLE = "organization_role"
MAX_NAME = 200
MAX_ROLE = 100


def _export(runtime: Runtime, records: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for record in records:
        links = record.get("organizations") or []
        primary = next((link for link in links if link.get("primary")), None)
        if primary is None:
            rows.append(["", ""])
        else:
            rows.append([primary.get("name") or "", primary.get("role") or ""])
    return rows


def _parse(cells: dict[str, str]) -> dict[str, Any] | None:
    """``{"name": ..., "role": ...}`` (``role`` only when its column is there), or None."""
    name = " ".join(cells.get(NAME, "").split())
    role = " ".join(cells.get(ROLE, "").split())
    errors = []
    if not name and role:
        errors.append(FieldError(NAME, f"required when {ROLE} is set"))
    if len(name) > MAX_NAME:
        errors.append(FieldError(NAME, f"must be at most {MAX_NAME} characters long"))
    if len(role) > MAX_ROLE:
        errors.append(FieldError(ROLE, f"must be at most {MAX_ROLE} characters long"))
    if errors:
        raise ValidationFailed("invalid organisation columns", errors=errors)
    if not name:
        return None
    value: dict[str, Any] = {"name": name}
    if ROLE in cells:
        value["role"] = role or None
    return value


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def _organization_id(runtime: Runtime, access: Access, name: str, source: str) -> uuid.UUID:
    row = await runtime.db.fetchrow(
        sql(
            "SELECT id FROM organization WHERE lower(name) = lower({}) AND deleted_at IS NULL "
            "ORDER BY created_at, id LIMIT 1",
            name,
        )
    )
    if row is not None:
        return _uuid(row["id"])
    access.require("organization", "create")
    created = await runtime.records("organization", access).create(
        {"name": name}, actor=access.actor, source=source
    )
    return _uuid(created["id"])


async def _apply(
    runtime: Runtime, access: Access, record: dict[str, Any], value: dict[str, Any], source: str
) -> None:
    access.require("organization", "read")
    person_id = _uuid(record["id"])
    organization_id = await _organization_id(runtime, access, value["name"], source)
    rows = await runtime.db.fetch(
        sql(
            f'SELECT l.id, l.organization_id, l.role, l."primary" FROM {LINK_TABLE} l '
            "WHERE l.individual_id = {} AND {}",
            person_id,
            current_sql("l"),
        )
    )
    links = [r for r in rows if _uuid(r["organization_id"]) == organization_id]
    role = value.get("role")
    link = next((r for r in links if same_role(r["role"], role)), links[0] if links else None)
    if link is None:
        await create_link(
            runtime,
            person_id,
            {"organization_id": organization_id, "role": role, "primary": True},
            actor=access.actor,
            source=source,
        )
        return
    changes: dict[str, Any] = {}
    if "role" in value and not same_role(link["role"], role):
        changes["role"] = role
    if not link["primary"]:
        changes["primary"] = True
    if changes:
        await update_link(
            runtime, person_id, _uuid(link["id"]), changes, actor=access.actor, source=source
        )


COLUMNS = TransferColumns(
    entity="individual",
    names=(NAME, ROLE),
    export=_export,
    parse=_parse,
    apply=_apply,
    reveals=("organizations",),
)
