"""The activity endpoints: manual entries, the log, and every record's timeline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from crmkit.core import (
    BadRequest,
    EntityType,
    FieldError,
    NotFound,
    Runtime,
    access_of,
    actor_of,
    problem_responses,
    runtime_of,
)
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from .manual import create_manual, delete_manual, update_manual
from .redact import redact_entries
from .store import get_entry, page_entries, parse_kinds, parse_time

__all__ = ["handlers"]

BASE = "/api/v1/activities"
SECURITY = [{"ApiKey": []}, {"Bearer": []}]
TIMELINE_PARAMS = frozenset({"kind", "since", "until", "limit", "cursor"})
LIST_PARAMS = TIMELINE_PARAMS | {"entity", "record_id", "actor_id"}


class ActorOut(msgspec.Struct):
    id: str | None
    name: str | None
    kind: str | None
    label: str


class RecordOut(msgspec.Struct):
    entity: str
    id: UUID


class Entry(msgspec.Struct):
    """An activity entry: a change the log wrote, or a note, call, meeting, email ..."""

    id: UUID
    kind: str
    occurred_at: dt.datetime
    created_at: dt.datetime
    edited_at: dt.datetime | None
    actor: ActorOut
    source: str
    summary: str | None
    body: str | None
    data: dict[str, Any]
    records: list[RecordOut]


class EntryPage(msgspec.Struct):
    data: list[Entry]
    next_cursor: str | None


_WHY = {
    400: "Bad request (a query parameter or cursor)",
    403: "Change entries are append-only; only its author may change an entry",
    404: "No such record or activity entry",
    422: "Validation failed (every field problem is listed)",
}


def _responses(*codes: int) -> dict[int, Any]:
    return problem_responses(*codes, descriptions=_WHY)


def _entry(value: dict[str, Any]) -> Entry:
    return msgspec.convert(value, Entry)


def _only(request: Request, allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise BadRequest(
                f"{name}: unknown query parameter",
                errors=[
                    FieldError(name, f"unknown parameter; known: {', '.join(sorted(allowed))}")
                ],
            )


async def _page(
    request: Request,
    allowed: frozenset[str],
    *,
    record: tuple[str, Any] | None,
    kind: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    cursor: str | None,
    actor_id: str | None = None,
) -> EntryPage:
    _only(request, allowed)
    entries, next_cursor = await page_entries(
        runtime_of(request),
        record=record,
        kinds=parse_kinds(kind),
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        actor_id=actor_id,
        limit=limit,
        cursor=cursor or None,
    )
    entries = redact_entries(entries, access_of(request))
    return EntryPage(data=[_entry(e) for e in entries], next_cursor=next_cursor)


KindParam = Annotated[
    str | None, QueryParameter(description="comma list of kinds (change, note, call, ...)")
]
SinceParam = Annotated[
    str | None, QueryParameter(description="ISO 8601: entries at or after this time")
]
UntilParam = Annotated[str | None, QueryParameter(description="ISO 8601: entries before this time")]
LimitParam = Annotated[int, QueryParameter(ge=1, le=500)]
CursorParam = Annotated[str | None, QueryParameter()]


def _timeline(entity: EntityType) -> Any:
    name, plural = entity.name, entity.plural

    @get(
        f"/api/v1/{plural}/{{record_id:uuid}}/activity",
        operation_id=f"get_{name}_activity",
        opt={"permission": (name, "read")},
        summary=f"The timeline of a {name}: its activity entries, newest first",
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def timeline(
        request: Request,
        record_id: FromPath[UUID],
        kind: KindParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        limit: LimitParam = 50,
        cursor: CursorParam = None,
    ) -> EntryPage:
        runtime = runtime_of(request)
        await runtime.records(name, access_of(request)).fetch_row(record_id, include_deleted=True)
        return await _page(
            request,
            TIMELINE_PARAMS,
            record=(name, record_id),
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

    return timeline


def handlers(runtime: Runtime) -> list[Any]:
    @post(
        BASE,
        operation_id="create_activity",
        opt={"permission": ("activity", "create")},
        summary="Record a note, call, meeting or email about one or more records",
        status_code=HTTP_201_CREATED,
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401, 422),
    )
    async def create(request: Request, data: JSONBody[dict[str, Any]]) -> Response[Entry]:
        entry = await create_manual(runtime_of(request), data, actor_of(request))
        return Response(
            _entry(entry),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{BASE}/{entry['id']}"},
        )

    @get(
        BASE,
        operation_id="list_activities",
        opt={"permission": ("activity", "read")},
        summary="Activity entries, newest first: by kind, record, actor and date range",
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401),
    )
    async def list_entries(
        request: Request,
        kind: KindParam = None,
        entity: Annotated[str | None, QueryParameter()] = None,
        record_id: Annotated[UUID | None, QueryParameter()] = None,
        actor_id: Annotated[str | None, QueryParameter()] = None,
        since: SinceParam = None,
        until: UntilParam = None,
        limit: LimitParam = 50,
        cursor: CursorParam = None,
    ) -> EntryPage:
        if (entity is None) != (record_id is None):
            missing = "entity" if entity is None else "record_id"
            raise BadRequest(
                f"{missing}: required with {'record_id' if entity is None else 'entity'}",
                errors=[FieldError(missing, "entity and record_id go together")],
            )
        record = (entity, record_id) if entity is not None else None
        access = access_of(request)
        if access.own_only:  # "own records": one of theirs, or only what they did
            if record is not None and entity in runtime_of(request).plugins.entities:
                await (
                    runtime_of(request)
                    .records(entity, access)
                    .fetch_row(record_id, include_deleted=True)
                )
            elif record is None:
                actor_id = access.actor.id
        return await _page(
            request,
            LIST_PARAMS,
            record=record,
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
            actor_id=actor_id,
        )

    @get(
        f"{BASE}/{{entry_id:uuid}}",
        operation_id="get_activity",
        opt={"permission": ("activity", "read")},
        summary="One activity entry",
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401, 404),
    )
    async def read(request: Request, entry_id: FromPath[UUID]) -> Entry:
        entry = await get_entry(runtime_of(request), entry_id)
        visible = redact_entries([entry], access_of(request)) if entry is not None else []
        if not visible or visible[0]["deleted_at"] is not None:
            raise NotFound(f"activity entry {entry_id} not found")
        return _entry(visible[0])

    @patch(
        f"{BASE}/{{entry_id:uuid}}",
        operation_id="update_activity",
        opt={"permission": ("activity", "update")},
        summary="Edit a note, call, meeting or email (its author only; the edit is logged)",
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401, 403, 404, 422),
    )
    async def update(
        request: Request, entry_id: FromPath[UUID], data: JSONBody[dict[str, Any]]
    ) -> Entry:
        return _entry(await update_manual(runtime_of(request), entry_id, data, actor_of(request)))

    @delete(
        f"{BASE}/{{entry_id:uuid}}",
        operation_id="delete_activity",
        opt={"permission": ("activity", "delete")},
        summary="Remove a manual entry (its author only; the removal is logged)",
        status_code=HTTP_204_NO_CONTENT,
        tags=["Activity"],
        security=SECURITY,
        responses=_responses(400, 401, 403, 404),
    )
    async def remove(request: Request, entry_id: FromPath[UUID]) -> None:
        await delete_manual(runtime_of(request), entry_id, actor_of(request))

    return [
        create,
        list_entries,
        read,
        update,
        remove,
        *(_timeline(entity) for entity in runtime.entities),
    ]
