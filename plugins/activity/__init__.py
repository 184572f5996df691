"""Activity: the change log and the notes, calls, meetings and emails of every record.

Every change to a record of any entity is logged in its own transaction (the
``record_changed`` hook), append-only; manual entries go through
``/api/v1/activities``. Every entity gets ``/api/v1/{plural}/{id}/activity`` (its
timeline) and two tabs, ``notes`` and ``activity``; notes text is contributed to the
record's search document.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crmkit.core import (
    BadRequest,
    Event,
    FieldError,
    ListParams,
    Runtime,
    TabPage,
    TabProvider,
    current_access,
    hookimpl,
    join,
    sql,
)
from piccolo.conf.apps import AppConfig

from .kinds import CHANGE, KINDS, Kind, note_kinds, register_kind
from .redact import redact_entries
from .store import (
    as_uuid,
    count_entries,
    decode_entry,
    log_event,
    note_text,
    page_entries,
    parse_kinds,
)
from .tables import Activity, ActivityRecord

__version__ = "0.1.0"
requires: tuple[str, ...] = ()
after: tuple[str, ...] = ()

__all__ = ["CHANGE", "KINDS", "Kind", "register_kind"]


@hookimpl
def piccolo_app() -> AppConfig:
    return AppConfig(
        app_name="activity",
        migrations_folder_path=str(Path(__file__).parent / "migrations"),
        table_classes=[Activity, ActivityRecord],
    )


@hookimpl
async def record_changed(runtime: Runtime, event: Event) -> None:
    """One change entry per event, in the event's own transaction."""
    await log_event(runtime, event)


@hookimpl
def route_handlers(runtime: Runtime) -> list[Any]:
    from .routes import handlers

    return handlers(runtime)


# -- tabs ----------------------------------------------------------------------------------


def _tab_kinds(params: ListParams, base: list[str] | None) -> list[str] | None:
    """The tab's kinds, narrowed by ``kind=`` / ``kind__in=`` of the request."""
    kinds = base
    for condition in params.conditions:
        if condition.field != "kind" or condition.op not in ("eq", "in"):
            raise BadRequest(
                f"{condition.param}: not a filter of this tab",
                errors=[FieldError(condition.param, "only kind and kind__in filter this tab")],
            )
        raw = condition.raw if isinstance(condition.raw, str) else ",".join(condition.raw)
        wanted = parse_kinds(raw, condition.param) or []
        kinds = [k for k in wanted if base is None or k in base]
    return kinds


async def _notes_count(runtime: Runtime, entity: Any, record_id: Any) -> int:
    return await count_entries(runtime, record=(entity.name, record_id), kinds=note_kinds())


async def _notes_page(runtime: Runtime, entity: Any, record_id: Any, params: ListParams) -> TabPage:
    return await _tab_page(runtime, entity, record_id, params, note_kinds())


async def _activity_count(runtime: Runtime, entity: Any, record_id: Any) -> int:
    return await count_entries(runtime, record=(entity.name, record_id))


async def _activity_page(
    runtime: Runtime, entity: Any, record_id: Any, params: ListParams
) -> TabPage:
    return await _tab_page(runtime, entity, record_id, params, None)


async def _tab_page(
    runtime: Runtime, entity: Any, record_id: Any, params: ListParams, base: list[str] | None
) -> TabPage:
    kinds = _tab_kinds(params, base)
    if kinds == []:
        return TabPage(items=[])
    entries, next_cursor = await page_entries(
        runtime,
        record=(entity.name, record_id),
        kinds=kinds,
        limit=params.limit,
        cursor=params.cursor,
    )
    for entry in entries:
        del entry["deleted_at"]
    return TabPage(items=redact_entries(entries, current_access()), next_cursor=next_cursor)


TABS = [
    TabProvider(
        key="notes",
        title="Notes",
        order=90,
        count=_notes_count,
        page=_notes_page,
        create_href=lambda entity, record_id: "/api/v1/activities",
    ),
    TabProvider(
        key="activity",
        title="Activity",
        order=100,
        count=_activity_count,
        page=_activity_page,
    ),
]


@hookimpl
def register_tabs(register: Any) -> None:
    for tab in TABS:
        register(tab)


# -- search ----------------------------------------------------------------------------------


@hookimpl
async def search_text(runtime: Runtime, entity: str, record_ids: Sequence[Any]) -> dict[Any, str]:
    """The notes text (note, call and meeting bodies, email subjects and bodies) by record."""
    kinds = [k.name for k in KINDS.values() if k.text is not None]
    if not record_ids or not kinds:
        return {}
    by_key = {str(i): i for i in record_ids}
    rows = await runtime.db.fetch(
        sql(
            "SELECT r.record_id AS record_key, a.id, a.kind, a.actor_id, a.actor_name, "
            "a.actor_kind, a.source, a.occurred_at, a.created_at, a.summary, a.body, a.data, "
            "a.records, a.edited_at, a.deleted_at "
            "FROM activity_record r JOIN activity a ON a.id = r.activity_id "
            "WHERE r.entity = {} AND r.record_id IN ({}) AND a.kind IN ({}) "
            "AND a.deleted_at IS NULL ORDER BY a.occurred_at, a.id",
            entity,
            join([sql("{}", as_uuid(i)) for i in record_ids], ", "),
            join([sql("{}", k) for k in kinds], ", "),
        )
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["record_key"]), []).append(decode_entry(row))
    out: dict[Any, str] = {}
    for key, entries in grouped.items():
        text = note_text(entries)
        if text and key in by_key:
            out[by_key[key]] = text
    return out
