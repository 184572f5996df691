"""Individuals' merges: the sources' links move to the surviving person, and back on undo.

A source's current link that would repeat a current link of the target (same
organisation and role) is removed instead of moved. What ``merge`` returns (a snapshot
of every link involved, as JSON) is what ``unmerge`` needs to restore them exactly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from crmkit.core import SYSTEM, Runtime, sql

from .links import (
    COLUMNS,
    LINK_TABLE,
    announce,
    decode,
    in_list,
    is_current,
    repair_primary,
    same_role,
    start_key,
)

__all__ = ["merge_links", "unmerge_links"]


class _Row(msgspec.Struct):
    """A link row as stored in a merge snapshot."""

    id: uuid.UUID
    individual_id: uuid.UUID
    organization_id: uuid.UUID
    role: str | None
    primary: bool
    start_date: dt.date | None
    end_date: dt.date | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


async def _links(runtime: Runtime, individual_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    rows = await runtime.db.fetch(
        sql(
            f"SELECT {COLUMNS}, o.name AS organization_name FROM {LINK_TABLE} l "
            "LEFT JOIN organization o ON o.id = l.organization_id WHERE l.individual_id IN ({})",
            in_list(individual_ids),
        )
    )
    return [decode(r) for r in rows]


async def _people(runtime: Runtime, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await runtime.db.fetch(
        sql("SELECT id, first_name, last_name FROM individual WHERE id IN ({})", in_list(ids))
    )
    return {uuid.UUID(str(r["id"])): {**r, "id": uuid.UUID(str(r["id"]))} for r in rows}


def _name(person: dict[str, Any]) -> str:
    return " ".join(filter(None, [person.get("first_name"), person.get("last_name")])) or str(
        person["id"]
    )


async def _organizations(runtime: Runtime, ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    if not ids:
        return {}
    rows = await runtime.db.fetch(
        sql("SELECT id, name FROM organization WHERE id IN ({})", in_list(sorted(ids, key=str)))
    )
    return {uuid.UUID(str(r["id"])): {**r, "id": uuid.UUID(str(r["id"]))} for r in rows}


async def _move_events(
    runtime: Runtime,
    links: list[tuple[dict[str, Any], dict[str, Any]]],
    people: dict[uuid.UUID, dict[str, Any]],
    why: str,
) -> None:
    """A moved link: unlinked from its old owner, linked to its new one (both announced)."""
    organizations = await _organizations(runtime, {old["organization_id"] for old, _ in links})
    for old, new in links:
        organization = organizations.get(old["organization_id"])
        org_name = (organization or {}).get("name") or "a removed organisation"
        before, after = people[old["individual_id"]], people[new["individual_id"]]
        data = {
            "link_id": str(old["id"]),
            "organization_id": str(old["organization_id"]),
            "reason": why,
        }
        await announce(
            runtime,
            "unlink",
            person=before,
            organization=None,
            organization_id=old["organization_id"],
            old=old,
            new=None,
            actor=SYSTEM,
            source="merge",
            person_summary=f"link to {org_name} moved to {_name(after)} ({why})",
            organization_summary="",
            data=data,
        )
        await announce(
            runtime,
            "link",
            person=after,
            organization=organization,
            organization_id=old["organization_id"],
            old=old,
            new=new,
            actor=SYSTEM,
            source="merge",
            person_summary=f"link to {org_name} moved here from {_name(before)} ({why})",
            organization_summary=f"link moved from {_name(before)} to {_name(after)} ({why})",
            data=data,
        )


async def _gone_events(
    runtime: Runtime,
    links: list[dict[str, Any]],
    people: dict[uuid.UUID, dict[str, Any]],
    action: str,
    why: str,
) -> None:
    organizations = await _organizations(runtime, {x["organization_id"] for x in links})
    for link in links:
        organization = organizations.get(link["organization_id"])
        org_name = (organization or {}).get("name") or "a removed organisation"
        person = people[link["individual_id"]]
        verb = "removed" if action == "unlink" else "restored"
        await announce(
            runtime,
            action,
            person=person,
            organization=organization,
            organization_id=link["organization_id"],
            old=link if action == "unlink" else None,
            new=None if action == "unlink" else link,
            actor=SYSTEM,
            source="merge",
            person_summary=f"link to {org_name} {verb} ({why})",
            organization_summary=f"{_name(person)}'s link {verb} ({why})",
            data={
                "link_id": str(link["id"]),
                "organization_id": str(link["organization_id"]),
                "reason": why,
            },
        )


async def merge_links(
    runtime: Runtime, target_id: uuid.UUID, source_ids: list[uuid.UUID]
) -> dict[str, Any]:
    """Move the sources' links to the target; returns what ``unmerge_links`` needs."""
    links = await _links(runtime, [target_id, *source_ids])
    snapshot = msgspec.to_builtins([msgspec.convert(x, _Row) for x in links])
    target = [x for x in links if x["individual_id"] == target_id]
    taken = [x for x in target if is_current(x)]
    moved: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    order = {s: i for i, s in enumerate(source_ids)}
    for link in sorted(
        (x for x in links if x["individual_id"] != target_id),
        key=lambda x: (order.get(x["individual_id"], 0), start_key(x)),
    ):
        if is_current(link) and any(
            t["organization_id"] == link["organization_id"] and same_role(t["role"], link["role"])
            for t in taken
        ):
            removed.append(link)
            continue
        moved.append(link)
        if is_current(link):
            taken.append(link)
    if not moved and not removed:
        return {"snapshot": snapshot, "moved": [], "removed": []}
    now = dt.datetime.now(dt.UTC)
    if removed:
        await runtime.db.execute(
            sql(f"DELETE FROM {LINK_TABLE} WHERE id IN ({{}})", in_list([x["id"] for x in removed]))
        )
    prefer = None
    if not any(x["primary"] and is_current(x) for x in target):
        prefer = next((x["id"] for x in moved if x["primary"] and is_current(x)), None)
    if moved:
        await runtime.db.execute(
            sql(
                f"UPDATE {LINK_TABLE} "
                'SET individual_id = {}, "primary" = {}, updated_at = {} '
                "WHERE id IN ({})",
                target_id,
                False,
                now,
                in_list([x["id"] for x in moved]),
            )
        )
    await repair_primary(runtime, target_id, prefer=prefer, now=now)
    for source in source_ids:
        await repair_primary(runtime, source, now=now)
    after = {x["id"]: x for x in await _links(runtime, [target_id])}
    people = await _people(runtime, [target_id, *source_ids])
    await _move_events(runtime, [(x, after[x["id"]]) for x in moved], people, "merge")
    await _gone_events(
        runtime, removed, people, "unlink", "duplicate of a link of the merged record"
    )
    return {
        "snapshot": snapshot,
        "moved": [str(x["id"]) for x in moved],
        "removed": [str(x["id"]) for x in removed],
    }


async def unmerge_links(
    runtime: Runtime, target_id: uuid.UUID, source_ids: list[uuid.UUID], data: Any
) -> None:
    """Put every link a merge moved or removed back exactly as it was."""
    if not isinstance(data, dict) or not (data.get("moved") or data.get("removed")):
        return
    rows = msgspec.convert(data.get("snapshot") or [], list[_Row])
    involved = {uuid.UUID(i) for i in [*data.get("moved", []), *data.get("removed", [])]}
    restore = [r for r in rows if r.id in involved or r.individual_id == target_id]
    people_ids = list(dict.fromkeys([target_id, *source_ids]))
    before = {x["id"]: x for x in await _links(runtime, people_ids)}
    # Flags first (one primary per person is a unique index), then the rows as they were.
    await runtime.db.execute(
        sql(
            f'UPDATE {LINK_TABLE} SET "primary" = {{}} WHERE individual_id IN ({{}}) AND "primary"',
            False,
            in_list(people_ids),
        )
    )
    await runtime.db.execute(
        sql(f"DELETE FROM {LINK_TABLE} WHERE id IN ({{}})", in_list([r.id for r in restore]))
    )
    for r in restore:
        await runtime.db.execute(
            sql(
                f'INSERT INTO {LINK_TABLE} (id, individual_id, organization_id, role, "primary", '
                "start_date, end_date, notes, created_at, updated_at) "
                "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                r.id,
                r.individual_id,
                r.organization_id,
                r.role,
                False,
                r.start_date,
                r.end_date,
                r.notes,
                r.created_at,
                r.updated_at,
            )
        )
    primary = [r.id for r in restore if r.primary]
    if primary:
        await runtime.db.execute(
            sql(
                f'UPDATE {LINK_TABLE} SET "primary" = {{}} WHERE id IN ({{}})',
                True,
                in_list(primary),
            )
        )
    for person in people_ids:  # links made after the merge: still exactly one primary
        await repair_primary(runtime, person)
    after = {x["id"]: x for x in await _links(runtime, people_ids)}
    people = await _people(runtime, people_ids)
    moved = [uuid.UUID(i) for i in data.get("moved", [])]
    await _move_events(
        runtime,
        [(before[i], after[i]) for i in moved if i in before and i in after],
        people,
        "merge undone",
    )
    removed = [after[uuid.UUID(i)] for i in data.get("removed", []) if uuid.UUID(i) in after]
    await _gone_events(runtime, removed, people, "link", "merge undone")
