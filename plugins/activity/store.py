"""Writing and reading activity entries (portable SQL, a fixed number of queries)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
from crmkit.core import (
    Actor,
    BadRequest,
    Event,
    FieldError,
    Runtime,
    join,
    sql,
)

from .kinds import CHANGE, KINDS, kind_names

__all__ = [
    "as_uuid",
    "change_summary",
    "count_entries",
    "decode_entry",
    "get_entry",
    "insert_entry",
    "jsonable",
    "log_event",
    "note_text",
    "now",
    "page_entries",
    "parse_kinds",
    "parse_time",
]

COLUMNS = (
    "a.id, a.kind, a.actor_id, a.actor_name, a.actor_kind, a.source, a.occurred_at, "
    "a.created_at, a.summary, a.body, a.data, a.records, a.edited_at, a.deleted_at"
)
MAX_SUMMARY = 500


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value`` (dates as ISO text, UUIDs as text ...)."""
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError):
        return str(value)


def as_uuid(value: Any) -> uuid.UUID:
    return value if type(value) is uuid.UUID else uuid.UUID(str(value))


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def decode_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API's entry: plain values on both engines."""
    return {
        "id": as_uuid(row["id"]),
        "kind": row["kind"],
        "occurred_at": _time(row["occurred_at"]),
        "created_at": _time(row["created_at"]),
        "edited_at": _time(row["edited_at"]),
        "actor": {
            "id": row["actor_id"],
            "name": row["actor_name"],
            "kind": row["actor_kind"],
            "label": f"{row['actor_kind']}:{row['actor_id']}",
        },
        "source": row["source"],
        "summary": row["summary"],
        "body": row["body"],
        "data": _json(row["data"]) or {},
        "records": _json(row["records"]) or [],
        "deleted_at": _time(row["deleted_at"]),
    }


# -- writing -------------------------------------------------------------------------------


async def insert_entry(
    runtime: Runtime,
    *,
    kind: str,
    actor: Actor,
    source: str,
    records: Iterable[tuple[str, Any]],
    occurred_at: dt.datetime | None = None,
    summary: str | None = None,
    body: str | None = None,
    data: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Write one entry and its record links (two statements; call inside a write)."""
    refs: list[tuple[str, uuid.UUID]] = []
    for entity, record_id in records:
        ref = (entity, as_uuid(record_id))
        if ref not in refs:
            refs.append(ref)
    entry_id, created = uuid.uuid4(), now()
    when = (_time(occurred_at) or created).astimezone(dt.UTC)
    await runtime.db.execute(
        sql(
            "INSERT INTO activity (id, kind, actor_id, actor_name, actor_kind, source, "
            "occurred_at, created_at, summary, body, data, records) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            entry_id,
            kind,
            actor.id[:200],
            actor.name[:200],
            actor.kind[:50],
            source[:50],
            when,
            created,
            (summary or "")[:MAX_SUMMARY] or None,
            body,
            msgspec.json.encode(jsonable(data or {})).decode(),
            msgspec.json.encode([{"entity": e, "id": str(i)} for e, i in refs]).decode(),
        )
    )
    if refs:
        values = join(
            [sql("({}, {}, {}, {}, {})", uuid.uuid4(), entry_id, e, i, when) for e, i in refs],
            ", ",
        )
        await runtime.db.execute(
            sql(
                "INSERT INTO activity_record (id, activity_id, entity, record_id, occurred_at) "
                "VALUES {}",
                values,
            )
        )
    return entry_id


def _show(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "∅"
    if isinstance(value, list):
        text = ", ".join(_show(v) for v in value)
    elif isinstance(value, dict):
        text = msgspec.json.encode(value).decode()
    else:
        text = str(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


_PLAIN = {
    "create": "created",
    "delete": "deleted",
    "restore": "restored",
    "hard_delete": "deleted for good",
}


def change_summary(event: Event) -> str:
    """A readable line: the event's own summary, or "type: prospect → customer"."""
    if event.summary:
        return event.summary
    return summarize(event.action, [(c.field, c.old, c.new) for c in event.changes])


def summarize(action: str, changes: list[tuple[str, Any, Any]]) -> str:
    """The summary line of a change entry from its action and ``(field, old, new)``s."""
    if action in _PLAIN:
        return _PLAIN[action]
    if not changes:
        return action.replace("_", " ")
    parts = [f"{name}: {_show(old)} → {_show(new)}" for name, old, new in changes[:5]]
    if len(changes) > 5:
        parts.append(f"and {len(changes) - 5} more")
    text = "; ".join(parts)
    return text if action == "update" else f"{action}: {text}"


async def log_event(runtime: Runtime, event: Event) -> uuid.UUID:
    """The change entry of one event (its record and the related ones)."""
    data: dict[str, Any] = {
        "action": event.action,
        "entity": event.entity,
        "record_id": str(event.record_id),
        "event_id": str(event.id),
        "changes": [
            {"field": c.field, "old": jsonable(c.old), "new": jsonable(c.new)}
            for c in event.changes
        ],
    }
    if event.data:
        data["details"] = jsonable(event.data)
    return await insert_entry(
        runtime,
        kind=CHANGE,
        actor=event.actor,
        source=event.source,
        records=[(event.entity, event.record_id), *((r.entity, r.id) for r in event.related)],
        occurred_at=event.occurred_at,
        summary=change_summary(event),
        data=data,
    )


# -- reading -------------------------------------------------------------------------------


def parse_kinds(value: str | None, name: str = "kind") -> list[str] | None:
    if value is None or not value.strip():
        return None
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    known = kind_names()
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise BadRequest(
            f"{name}: unknown kind {unknown[0]!r}",
            errors=[FieldError(name, f"unknown kind {unknown[0]!r}; known: {', '.join(known)}")],
        )
    return kinds


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(
            f"{name}: not an ISO 8601 date-time",
            errors=[FieldError(name, "not an ISO 8601 date-time")],
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _encode_cursor(when: dt.datetime, entry_id: uuid.UUID) -> str:
    raw = msgspec.json.encode([when.astimezone(dt.UTC).isoformat(), str(entry_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError
        when = dt.datetime.fromisoformat(values[0])
        if when.tzinfo is None:
            raise ValueError
        return when.astimezone(dt.UTC), uuid.UUID(values[1])
    except (ValueError, TypeError, AttributeError, msgspec.DecodeError):
        raise BadRequest(
            "cursor: not a cursor of this list",
            errors=[FieldError("cursor", "not a cursor of this list")],
        ) from None


def _in(column: str, values: list[Any]) -> Any:
    return sql(f"{column} IN ({{}})", join([sql("{}", v) for v in values], ", "))


def _where(
    *,
    record: tuple[str, Any] | None,
    kinds: list[str] | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    actor_id: str | None = None,
) -> tuple[str, Any]:
    """The FROM clause and the WHERE fragment of a log or timeline query."""
    parts = [sql("a.deleted_at IS NULL")]
    if record is not None:
        source = "activity_record r JOIN activity a ON a.id = r.activity_id"
        parts.append(sql("r.entity = {} AND r.record_id = {}", record[0], as_uuid(record[1])))
        when = "r.occurred_at"
    else:
        source = "activity a"
        when = "a.occurred_at"
    if kinds:
        parts.append(_in("a.kind", kinds))
    if since is not None:
        parts.append(sql(f"{when} >= {{}}", since))
    if until is not None:
        parts.append(sql(f"{when} < {{}}", until))
    if actor_id:
        parts.append(sql("a.actor_id = {}", actor_id))
    return source, join(parts, " AND ")


async def count_entries(
    runtime: Runtime, *, record: tuple[str, Any], kinds: list[str] | None = None
) -> int:
    source, where = _where(record=record, kinds=kinds, since=None, until=None)
    value = await runtime.db.fetchval(sql(f"SELECT COUNT(*) AS n FROM {source} WHERE {{}}", where))
    return int(value or 0)


async def page_entries(
    runtime: Runtime,
    *,
    record: tuple[str, Any] | None = None,
    kinds: list[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Entries newest first (``occurred_at``, then id), keyset-paged; one query."""
    source, where = _where(record=record, kinds=kinds, since=since, until=until, actor_id=actor_id)
    when, ident = ("r.occurred_at", "r.activity_id") if record else ("a.occurred_at", "a.id")
    if cursor:
        at, entry_id = _decode_cursor(cursor)
        where = sql(
            f"{{}} AND ({when} < {{}} OR ({when} = {{}} AND {ident} < {{}}))",
            where,
            at,
            at,
            entry_id,
        )
    rows = await runtime.db.fetch(
        sql(
            f"SELECT {COLUMNS} FROM {source} WHERE {{}} "
            f"ORDER BY {when} DESC, {ident} DESC LIMIT {int(limit) + 1}",
            where,
        )
    )
    more = len(rows) > limit
    entries = [decode_entry(r) for r in rows[:limit]]
    next_cursor = None
    if more and entries:
        next_cursor = _encode_cursor(entries[-1]["occurred_at"], entries[-1]["id"])
    return entries, next_cursor


async def get_entry(runtime: Runtime, entry_id: uuid.UUID) -> dict[str, Any] | None:
    row = await runtime.db.fetchrow(
        sql(f"SELECT {COLUMNS} FROM activity a WHERE a.id = {{}}", entry_id)
    )
    return decode_entry(row) if row else None


def note_text(entries: list[dict[str, Any]]) -> str:
    parts = []
    for entry in entries:
        kind = KINDS.get(entry["kind"])
        if kind is not None and kind.text is not None:
            text = kind.text(entry)
            if text:
                parts.append(text)
    return " ".join(parts)
