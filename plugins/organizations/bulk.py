"""Bulk actions on individuals: link them all to an organisation, or unlink them from it.

Each person goes through the same link functions as ``/individuals/{id}/organizations``
(the primary rule, the person's new version, an event on both records), with
``source="bulk"``, inside the bulk call's unit of work. People who already have what
the action asks for are left alone and not counted as changed.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from crmkit.core import (
    Access,
    Actor,
    BulkAction,
    EntityType,
    FieldError,
    NotFound,
    Runtime,
    ValidationFailed,
    for_each_record,
    sql,
)

from .links import LINK_TABLE, create_link, decode, delete_link, is_current, same_role, today
from .schemas import Role

__all__ = ["BULK_ACTIONS", "LinkParams", "UnlinkParams"]


class LinkParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Link each individual to ``organization_id`` (with an optional ``role``)."""

    organization_id: uuid.UUID
    role: Role | None = None


class UnlinkParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Remove each individual's links to ``organization_id``."""

    organization_id: uuid.UUID


async def _organization(
    runtime: Runtime, organization_id: uuid.UUID, access: Access, *, deleted: bool = False
) -> dict[str, Any]:
    try:
        return await runtime.records("organization", access).get(
            organization_id, include_deleted=deleted
        )
    except NotFound:
        raise ValidationFailed(
            f"organization {organization_id} not found",
            errors=[FieldError("organization_id", "no organization with this id")],
        ) from None


async def _links_to(runtime: Runtime, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every link to the organisation (one query, however many people it has)."""
    rows = await runtime.db.fetch(
        sql(
            f"SELECT l.id, l.individual_id, l.organization_id, l.role, l.end_date "
            f"FROM {LINK_TABLE} l WHERE l.organization_id = {{}}",
            organization_id,
        )
    )
    return [decode(r) for r in rows]


async def link_organization(
    runtime: Runtime,
    entity: EntityType,
    record_ids: list[uuid.UUID],
    params: LinkParams,
    actor: Actor,
    access: Access,
) -> int:
    organization = await _organization(runtime, params.organization_id, access)
    role = " ".join((params.role or "").split()) or None  # as the link will store it
    on = today()
    linked = {
        link["individual_id"]
        for link in await _links_to(runtime, organization["id"])
        if is_current(link, on) and same_role(link["role"], role)
    }

    async def link(individual_id: uuid.UUID) -> bool:
        if individual_id in linked:
            return False
        values = {"organization_id": organization["id"], "role": params.role}
        await create_link(runtime, individual_id, values, actor=actor, source="bulk")
        return True

    return await for_each_record(record_ids, link)


async def unlink_organization(
    runtime: Runtime,
    entity: EntityType,
    record_ids: list[uuid.UUID],
    params: UnlinkParams,
    actor: Actor,
    access: Access,
) -> int:
    organization = await _organization(runtime, params.organization_id, access, deleted=True)
    targets = set(record_ids)
    links: dict[uuid.UUID, list[uuid.UUID]] = {}
    for link in await _links_to(runtime, organization["id"]):
        if link["individual_id"] in targets:
            links.setdefault(link["individual_id"], []).append(link["id"])

    async def unlink(individual_id: uuid.UUID) -> bool:
        for link_id in links.get(individual_id, []):
            await delete_link(runtime, individual_id, link_id, actor=actor, source="bulk")
        return individual_id in links

    return await for_each_record(record_ids, unlink)


BULK_ACTIONS = [
    BulkAction(
        name="link_organization",
        entity="individual",
        params=LinkParams,
        apply=link_organization,
        actions=("update",),
        requires=(("organization", "read"),),
        summary=(
            "link each individual to `organization_id` (optional `role`); people with a "
            "current link to it in that role are left as they are."
        ),
    ),
    BulkAction(
        name="unlink_organization",
        entity="individual",
        params=UnlinkParams,
        apply=unlink_organization,
        actions=("update",),
        requires=(("organization", "read"),),
        summary="remove each individual's links to `organization_id`, ended ones included.",
    ),
]
