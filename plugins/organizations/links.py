"""Links of individuals to organisations: reads, writes, the primary rule and events.

A link is *current* while its ``end_date`` is empty or still ahead; ending a link keeps
it as history. Among a person's current links exactly one is primary: the first
becomes primary, ``primary: true`` moves it, and when the primary one ends or goes the
remaining current link with the earliest start takes over.

Every write runs in one unit of work (``runtime.write()``) with the person's row
locked, and announces the change on both records (``link``, ``link_update``,
``unlink``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from crmkit.core import (
    Actor,
    Conflict,
    Event,
    FieldChange,
    FieldError,
    NotFound,
    RecordRef,
    Runtime,
    ValidationFailed,
    join,
    sql,
)

__all__ = [
    "LINK_TABLE",
    "announce",
    "bump_version",
    "create_link",
    "current_sql",
    "delete_link",
    "event_value",
    "get_link",
    "in_list",
    "is_current",
    "person_links",
    "repair_primary",
    "today",
    "update_link",
]

LINK_TABLE = "individual_organization"
COLUMNS = (
    'l.id, l.individual_id, l.organization_id, l.role, l."primary", l.start_date, '
    "l.end_date, l.notes, l.created_at, l.updated_at"
)
#: Link fields an event shows as the old and new value (timestamps are noise there).
EVENT_FIELDS = (
    "id",
    "individual_id",
    "organization_id",
    "organization",
    "role",
    "primary",
    "start_date",
    "end_date",
    "notes",
)


def today() -> dt.date:
    return dt.date.today()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_list(values: list[Any]) -> Any:
    return join([sql("{}", v) for v in values], ", ")


def current_sql(alias: str = "l", on: dt.date | None = None) -> Any:
    """The SQL condition "this link is current" (``alias`` is the link table's)."""
    return sql(f"({alias}.end_date IS NULL OR {alias}.end_date > {{}})", on or today())


def is_current(link: dict[str, Any], on: dt.date | None = None) -> bool:
    end = link.get("end_date")
    return end is None or end > (on or today())


def _uuid(value: Any) -> uuid.UUID:
    return value if type(value) is uuid.UUID else uuid.UUID(str(value))


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """A link row with plain Python values (UUIDs, bool) on both engines."""
    link = dict(row)
    for key in ("id", "individual_id", "organization_id"):
        if link.get(key) is not None:
            link[key] = _uuid(link[key])
    link["primary"] = bool(link.get("primary"))
    for key in ("created_at", "updated_at"):
        value = link.get(key)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            link[key] = value.replace(tzinfo=dt.UTC)
    return link


def start_key(link: dict[str, Any]) -> tuple[Any, ...]:
    """Earliest start first; links without a start date after those with one."""
    start = link.get("start_date")
    created = link.get("created_at") or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (start is None, start or dt.date.min, created, str(link["id"]))


def effective_primary(links: list[dict[str, Any]]) -> None:
    """Mark the primary among current, visible ``links`` when the stored one is not there.

    (The stored primary may have ended by date since the last write, or belong to a
    deleted organisation; the next write to the person repairs the stored flags.)
    """
    if links and not any(link["primary"] for link in links):
        min(links, key=start_key)["primary"] = True


def same_role(a: str | None, b: str | None) -> bool:
    return (a or "").casefold() == (b or "").casefold()


def to_api(link: dict[str, Any], on: dt.date | None = None) -> dict[str, Any]:
    """A link as the API shows it: the organisation's id and name, and whether it is current."""
    return {
        "id": link["id"],
        "individual_id": link["individual_id"],
        "organization_id": link["organization_id"],
        "organization": {"id": link["organization_id"], "name": link.get("organization_name")},
        "role": link.get("role"),
        "primary": link["primary"],
        "start_date": link.get("start_date"),
        "end_date": link.get("end_date"),
        "notes": link.get("notes"),
        "current": is_current(link, on),
        "created_at": link.get("created_at"),
        "updated_at": link.get("updated_at"),
    }


def event_value(link: dict[str, Any] | None) -> dict[str, Any] | None:
    if link is None:
        return None
    value = {k: link.get(k) for k in EVENT_FIELDS if k != "organization"}
    value["organization"] = link.get("organization_name")
    return msgspec.to_builtins(value)


# -- reads ---------------------------------------------------------------------------------


async def _rows(runtime: Runtime, individual_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every link of a person (history included), without joins."""
    rows = await runtime.db.fetch(
        sql(f"SELECT {COLUMNS} FROM {LINK_TABLE} l WHERE l.individual_id = {{}}", individual_id)
    )
    return [decode(r) for r in rows]


async def _one(runtime: Runtime, link_id: uuid.UUID) -> dict[str, Any] | None:
    row = await runtime.db.fetchrow(
        sql(
            f"SELECT {COLUMNS}, o.name AS organization_name FROM {LINK_TABLE} l "
            "LEFT JOIN organization o ON o.id = l.organization_id WHERE l.id = {}",
            link_id,
        )
    )
    return decode(row) if row else None


def _sorted(links: list[dict[str, Any]], on: dt.date) -> list[dict[str, Any]]:
    """Current links first (primary, then by start), then history (latest end first)."""
    current = sorted(
        (x for x in links if is_current(x, on)), key=lambda x: (not x["primary"], start_key(x))
    )
    ended = sorted(
        (x for x in links if not is_current(x, on)),
        key=lambda x: (x["end_date"], x.get("start_date") or dt.date.min, str(x["id"])),
        reverse=True,
    )
    return current + ended


async def person_links(
    runtime: Runtime, individual_id: uuid.UUID, *, include_ended: bool = False
) -> list[dict[str, Any]]:
    """A person's links to organisations that are not deleted (current ones, or all)."""
    await runtime.records("individual").fetch_row(individual_id)
    on = today()
    where = sql("l.individual_id = {} AND o.deleted_at IS NULL", individual_id)
    if not include_ended:
        where = sql("{} AND {}", where, current_sql("l", on))
    rows = await runtime.db.fetch(
        sql(
            f"SELECT {COLUMNS}, o.name AS organization_name FROM {LINK_TABLE} l "
            "JOIN organization o ON o.id = l.organization_id WHERE {}",
            where,
        )
    )
    links = [decode(r) for r in rows]
    for link in links:
        link["primary"] = link["primary"] and is_current(link, on)
    effective_primary([x for x in links if is_current(x, on)])
    return [to_api(x, on) for x in _sorted(links, on)]


async def get_link(
    runtime: Runtime, individual_id: uuid.UUID, link_id: uuid.UUID
) -> dict[str, Any]:
    await runtime.records("individual").fetch_row(individual_id)
    link = await _one(runtime, link_id)
    if link is None or link["individual_id"] != individual_id:
        raise NotFound(f"individual {individual_id} has no link {link_id}")
    link["primary"] = link["primary"] and is_current(link)
    return to_api(link)


# -- the primary rule ----------------------------------------------------------------------


async def repair_primary(
    runtime: Runtime,
    individual_id: uuid.UUID,
    *,
    prefer: uuid.UUID | None = None,
    avoid: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Make exactly one current link of the person primary (none when none is current).

    ``prefer`` becomes primary when current; ``avoid`` gives it up when another current
    link can take it. Ended links are never primary. Returns the primary before and after.
    """
    rows = await _rows(runtime, individual_id)
    on = today()
    current = [r for r in rows if is_current(r, on)]
    flagged = sorted((r for r in current if r["primary"]), key=start_key)
    before = flagged[0]["id"] if flagged else None
    ids = {r["id"] for r in current}
    if prefer in ids:
        want = prefer
    elif before is not None and not (before == avoid and len(current) > 1):
        want = before
    else:
        candidates = [r for r in current if r["id"] != avoid] or current
        want = min(candidates, key=start_key)["id"] if candidates else None
    now = now or _now()
    clear = [r["id"] for r in rows if r["primary"] and r["id"] != want]
    if clear:
        await runtime.db.execute(
            sql(
                f'UPDATE {LINK_TABLE} SET "primary" = {{}}, updated_at = {{}} WHERE id IN ({{}})',
                False,
                now,
                in_list(clear),
            )
        )
    if want is not None and not next(r for r in rows if r["id"] == want)["primary"]:
        await runtime.db.execute(
            sql(
                f'UPDATE {LINK_TABLE} SET "primary" = {{}}, updated_at = {{}} WHERE id = {{}}',
                True,
                now,
                want,
            )
        )
    return before, want


# -- events --------------------------------------------------------------------------------


def _person_name(runtime: Runtime, person: dict[str, Any]) -> str:
    display = runtime.plugins.entity("individual").display
    name = display(person) if display else ""
    return name or str(person["id"])


async def announce(
    runtime: Runtime,
    action: str,
    *,
    person: dict[str, Any],
    organization: dict[str, Any] | None,
    organization_id: uuid.UUID,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    actor: Actor,
    source: str,
    person_summary: str,
    organization_summary: str,
    data: dict[str, Any],
) -> None:
    """The change as an event on the person and its mirror on the organisation."""
    before, after = event_value(old), event_value(new)
    await runtime.emit(
        Event(
            entity="individual",
            record_id=person["id"],
            action=action,
            actor=actor,
            source=source,
            changes=[FieldChange("organizations", before, after)],
            related=[RecordRef("organization", organization_id)],
            summary=person_summary,
            data=data,
        )
    )
    if organization is None:  # removed for good: nothing to announce on
        return
    await runtime.emit(
        Event(
            entity="organization",
            record_id=organization_id,
            action=action,
            actor=actor,
            source=source,
            changes=[FieldChange("people", before, after)],
            related=[RecordRef("individual", person["id"])],
            summary=organization_summary,
            data=data,
        )
    )


def _as(role: str | None) -> str:
    return f" as {role}" if role else ""


def _data(link: dict[str, Any], moved: tuple[uuid.UUID | None, uuid.UUID | None]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "link_id": str(link["id"]),
        "individual_id": str(link["individual_id"]),
        "organization_id": str(link["organization_id"]),
    }
    if moved[0] != moved[1]:
        data["primary_moved"] = {
            "from": str(moved[0]) if moved[0] else None,
            "to": str(moved[1]) if moved[1] else None,
        }
    return data


# -- writes --------------------------------------------------------------------------------


def _text(field: str, value: Any, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        errors.append(FieldError(field, "must not contain NUL characters"))
        return None
    return " ".join(value.split()) or None


def _notes(value: Any, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        errors.append(FieldError("notes", "must not contain NUL characters"))
        return None
    return value.strip() or None


def _check_dates(start: dt.date | None, end: dt.date | None, errors: list[FieldError]) -> None:
    if start is not None and end is not None and end < start:
        errors.append(FieldError("end_date", f"is before start_date ({start.isoformat()})"))


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    n = len(errors)
    return ValidationFailed(f"{n} problem{'s' if n != 1 else ''} in the link", errors=errors)


def _duplicate(
    rows: list[dict[str, Any]],
    organization_id: uuid.UUID,
    role: str | None,
    exclude: uuid.UUID | None,
) -> dict[str, Any] | None:
    on = today()
    return next(
        (
            r
            for r in rows
            if r["id"] != exclude
            and r["organization_id"] == organization_id
            and is_current(r, on)
            and same_role(r["role"], role)
        ),
        None,
    )


async def bump_version(
    runtime: Runtime, individual_id: uuid.UUID, actor: Actor, now: dt.datetime
) -> None:
    """The person's representation changed (its ``organizations``): a new version and ETag."""
    await runtime.db.execute(
        sql(
            "UPDATE individual SET version = version + 1, updated_at = {}, updated_by = {} "
            "WHERE id = {}",
            now,
            actor.label,
            individual_id,
        )
    )


async def create_link(
    runtime: Runtime,
    individual_id: uuid.UUID,
    values: dict[str, Any],
    *,
    actor: Actor,
    source: str = "api",
) -> dict[str, Any]:
    """Link a person to an organisation; returns the link as the API shows it."""
    async with runtime.write():
        person = await runtime.records("individual").fetch_row(individual_id, lock=True)
        organization = await runtime.records("organization").fetch_row(values["organization_id"])
        errors: list[FieldError] = []
        role = _text("role", values.get("role"), errors)
        notes = _notes(values.get("notes"), errors)
        start, end = values.get("start_date"), values.get("end_date")
        _check_dates(start, end, errors)
        current = end is None or end > today()
        if values.get("primary") and not current:
            errors.append(FieldError("primary", "an ended link cannot be primary"))
        if errors:
            raise _invalid(errors)
        rows = await _rows(runtime, individual_id)
        if current:
            taken = _duplicate(rows, organization["id"], role, None)
            if taken is not None:
                raise Conflict(
                    f"{_person_name(runtime, person)} is already linked to {organization['name']}"
                    f"{_as(role)}",
                    extra={"link_id": str(taken["id"])},
                )
        link_id, now = uuid.uuid4(), _now()
        await runtime.db.execute(
            sql(
                f'INSERT INTO {LINK_TABLE} (id, individual_id, organization_id, role, "primary", '
                "start_date, end_date, notes, created_at, updated_at) "
                "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                link_id,
                individual_id,
                organization["id"],
                role,
                False,
                start,
                end,
                notes,
                now,
                now,
            )
        )
        moved = await repair_primary(
            runtime, individual_id, prefer=link_id if values.get("primary") else None, now=now
        )
        await bump_version(runtime, individual_id, actor, now)
        link = await _one(runtime, link_id)
        assert link is not None
        name = _person_name(runtime, person)
        ended = "" if current else f" (ended {end.isoformat()})"  # type: ignore[union-attr]
        await announce(
            runtime,
            "link",
            person=person,
            organization=organization,
            organization_id=organization["id"],
            old=None,
            new=link,
            actor=actor,
            source=source,
            person_summary=f"linked to {organization['name']}{_as(role)}{ended}",
            organization_summary=f"{name} linked{_as(role)}{ended}",
            data=_data(link, moved),
        )
    return to_api(link)


async def _find(
    runtime: Runtime, individual_id: uuid.UUID, link_id: uuid.UUID
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = await _rows(runtime, individual_id)
    link = next((r for r in rows if r["id"] == link_id), None)
    if link is None:
        raise NotFound(f"individual {individual_id} has no link {link_id}")
    return link, rows


async def update_link(
    runtime: Runtime,
    individual_id: uuid.UUID,
    link_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    actor: Actor,
    source: str = "api",
) -> dict[str, Any]:
    """Change a link's role, dates, notes or primary flag (``end_date`` ends it)."""
    async with runtime.write():
        person = await runtime.records("individual").fetch_row(individual_id, lock=True)
        old, rows = await _find(runtime, individual_id, link_id)
        errors: list[FieldError] = []
        new = dict(old)
        if "role" in changes:
            new["role"] = _text("role", changes["role"], errors)
        if "notes" in changes:
            new["notes"] = _notes(changes["notes"], errors)
        for key in ("start_date", "end_date"):
            if key in changes:
                new[key] = changes[key]
        _check_dates(new["start_date"], new["end_date"], errors)
        on = today()
        was_current, now_current = is_current(old, on), is_current(new, on)
        wants = changes.get("primary")
        if wants is True and not now_current:
            errors.append(FieldError("primary", "an ended link cannot be primary"))
        if errors:
            raise _invalid(errors)
        if now_current and (not was_current or not same_role(old["role"], new["role"])):
            taken = _duplicate(rows, old["organization_id"], new["role"], link_id)
            if taken is not None:
                raise Conflict(
                    "a current link to this organisation with this role exists",
                    extra={"link_id": str(taken["id"])},
                )
        fields = [k for k in ("role", "start_date", "end_date", "notes") if new[k] != old[k]]
        if not fields and (wants is None or wants == old["primary"]):
            return await get_link(runtime, individual_id, link_id)
        now = _now()
        if fields:
            await runtime.db.execute(
                sql(
                    f"UPDATE {LINK_TABLE} SET role = {{}}, start_date = {{}}, end_date = {{}}, "
                    'notes = {}, "primary" = {}, updated_at = {} WHERE id = {}',
                    new["role"],
                    new["start_date"],
                    new["end_date"],
                    new["notes"],
                    old["primary"] and now_current,
                    now,
                    link_id,
                )
            )
        moved = await repair_primary(
            runtime,
            individual_id,
            prefer=link_id if wants is True else None,
            avoid=link_id if wants is False else None,
            now=now,
        )
        link = await _one(runtime, link_id)
        assert link is not None
        old["organization_name"] = link.get("organization_name")
        if event_value(old) == event_value(link):  # e.g. primary: false on the only link
            return to_api(link)
        await bump_version(runtime, individual_id, actor, now)
        organization = await _organization(runtime, old["organization_id"])
        org_name = link.get("organization_name") or "a removed organisation"
        name = _person_name(runtime, person)
        if was_current and not now_current:
            what, mirror = f"link to {org_name} ended", f"{name}'s link ended"
        elif now_current and not was_current:
            what, mirror = f"link to {org_name} reopened", f"{name}'s link reopened"
        elif not fields:
            state = "made primary" if link["primary"] else "no longer primary"
            what, mirror = f"link to {org_name} {state}", f"{name}'s link {state}"
        else:
            listed = ", ".join(fields + (["primary"] if link["primary"] != old["primary"] else []))
            what, mirror = (
                f"link to {org_name} updated ({listed})",
                f"{name}'s link updated ({listed})",
            )
        await announce(
            runtime,
            "link_update",
            person=person,
            organization=organization,
            organization_id=old["organization_id"],
            old=old,
            new=link,
            actor=actor,
            source=source,
            person_summary=what,
            organization_summary=mirror,
            data=_data(link, moved),
        )
    return to_api(link)


async def _organization(runtime: Runtime, organization_id: uuid.UUID) -> dict[str, Any] | None:
    try:
        return await runtime.records("organization").fetch_row(
            organization_id, include_deleted=True
        )
    except NotFound:
        return None


async def delete_link(
    runtime: Runtime,
    individual_id: uuid.UUID,
    link_id: uuid.UUID,
    *,
    actor: Actor,
    source: str = "api",
) -> None:
    """Remove a link altogether (ending it, with ``end_date``, keeps it as history)."""
    async with runtime.write():
        person = await runtime.records("individual").fetch_row(individual_id, lock=True)
        old, _ = await _find(runtime, individual_id, link_id)
        await runtime.db.execute(sql(f"DELETE FROM {LINK_TABLE} WHERE id = {{}}", link_id))
        now = _now()
        moved = await repair_primary(runtime, individual_id, now=now)
        await bump_version(runtime, individual_id, actor, now)
        organization = await _organization(runtime, old["organization_id"])
        old["organization_name"] = organization["name"] if organization else None
        org_name = old["organization_name"] or "a removed organisation"
        await announce(
            runtime,
            "unlink",
            person=person,
            organization=organization,
            organization_id=old["organization_id"],
            old=old,
            new=None,
            actor=actor,
            source=source,
            person_summary=f"unlinked from {org_name}",
            organization_summary=f"{_person_name(runtime, person)} unlinked",
            data=_data(old, moved),
        )
