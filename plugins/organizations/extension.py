"""What organisations add to individuals (the ``organizations`` field and filters), the
people of an organisation, and the detail tabs of both.

Every function here runs a fixed number of queries, whatever the number of records.
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from typing import Any

import msgspec
from crmkit.core import (
    BadRequest,
    EntityExtension,
    FieldError,
    Filter,
    ListParams,
    Runtime,
    TabPage,
    TabProvider,
    sql,
)

from .links import (
    COLUMNS,
    LINK_TABLE,
    current_sql,
    decode,
    effective_primary,
    in_list,
    is_current,
    start_key,
    to_api,
    today,
)
from .schemas import OrganizationLink

__all__ = ["EXTENSION", "TABS", "expand_individuals", "people_page"]


# -- the individual's ``organizations`` field ----------------------------------------------


async def expand_individuals(runtime: Runtime, records: list[dict[str, Any]]) -> None:
    """Fill ``organizations`` (current links) for a page of individuals in one query."""
    ids = list({str(r["id"]): r["id"] for r in records}.values())
    on = today()
    rows = await runtime.db.fetch(
        sql(
            'SELECT l.id, l.individual_id, l.organization_id, o.name, l.role, l."primary", '
            f"l.start_date, l.end_date, l.created_at FROM {LINK_TABLE} l "
            "JOIN organization o ON o.id = l.organization_id "
            "WHERE l.individual_id IN ({}) AND o.deleted_at IS NULL AND {}",
            in_list(ids),
            current_sql("l", on),
        )
    )
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        link = decode(row)
        by_person[str(link["individual_id"])].append(link)
    for links in by_person.values():
        effective_primary(links)
        links.sort(key=lambda x: (not x["primary"], start_key(x)))
    for record in records:
        record["organizations"] = [
            {
                "id": x["id"],
                "organization_id": x["organization_id"],
                "name": x["name"],
                "role": x["role"],
                "primary": x["primary"],
                "start_date": x["start_date"],
                "end_date": x["end_date"],
            }
            for x in by_person.get(str(record["id"]), [])
        ]


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _organization_filter(runtime: Any, op: str, value: Any) -> Any:
    return sql(
        f"t.id IN (SELECT l.individual_id FROM {LINK_TABLE} l "
        "WHERE l.organization_id IN ({}) AND {})",
        in_list(_values(value)),
        current_sql("l"),
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _role_filter(runtime: Any, op: str, value: Any) -> Any:
    if op == "icontains":
        condition = sql("lower(l.role) LIKE {} ESCAPE '\\'", f"%{_escape_like(value.lower())}%")
    else:
        condition = sql("lower(l.role) IN ({})", in_list([v.lower() for v in _values(value)]))
    return sql(
        f"t.id IN (SELECT l.individual_id FROM {LINK_TABLE} l WHERE {{}} AND {{}})",
        condition,
        current_sql("l"),
    )


EXTENSION = EntityExtension(
    entity="individual",
    read_only={"organizations": list[OrganizationLink]},
    expand=expand_individuals,
    filters={
        "organization": Filter(
            _organization_filter,
            frozenset({"eq", "in"}),
            type=uuid.UUID,
            description="has a current link to this organisation (id)",
        ),
        "organization_role": Filter(
            _role_filter,
            frozenset({"eq", "in", "icontains"}),
            type=str,
            description="has a current link with this role (case-insensitive)",
        ),
    },
)


# -- keyset cursors ------------------------------------------------------------------------


def _encode(values: list[Any]) -> str:
    raw = msgspec.json.encode([str(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[str]:
    try:
        values = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if (
            not isinstance(values, list)
            or len(values) != size
            or not all(isinstance(v, str) for v in values)
        ):
            raise ValueError
        uuid.UUID(values[-1])
        return values
    except (ValueError, TypeError, msgspec.DecodeError):
        raise BadRequest(
            "cursor: not a cursor of this list",
            errors=[FieldError("cursor", "not a cursor of this list")],
        ) from None


def _after(columns: list[str], values: list[Any]) -> Any:
    """Rows after ``values`` in ascending order of ``columns`` (none of them NULL)."""
    head, rest = columns[0], columns[1:]
    if not rest:
        return sql(f"{head} > {{}}", values[0])
    return sql(
        f"({head} > {{}} OR ({head} = {{}} AND {{}}))",
        values[0],
        values[0],
        _after(rest, values[1:]),
    )


# -- the people of an organisation ----------------------------------------------------------


async def people_page(
    runtime: Runtime,
    organization_id: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
    include_ended: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """The organisation's people (current links), by last and first name; one query."""
    on = today()
    where = sql("l.organization_id = {} AND i.deleted_at IS NULL", organization_id)
    if not include_ended:
        where = sql("{} AND {}", where, current_sql("l", on))
    if cursor:
        last, first, link_id = _decode(cursor, 3)
        where = sql(
            "{} AND {}",
            where,
            _after(["i.last_name", "i.first_name", "l.id"], [last, first, uuid.UUID(link_id)]),
        )
    rows = await runtime.db.fetch(
        sql(
            f"SELECT {COLUMNS}, i.first_name, i.last_name, i.primary_email, i.job_title "
            f"FROM {LINK_TABLE} l JOIN individual i ON i.id = l.individual_id WHERE {{}} "
            f"ORDER BY i.last_name, i.first_name, l.id LIMIT {int(limit) + 1}",
            where,
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last_row = rows[-1]
        next_cursor = _encode([last_row["last_name"], last_row["first_name"], last_row["id"]])
    items = []
    for row in rows:
        link = decode(row)
        link["primary"] = link["primary"] and is_current(link, on)
        item = to_api(link, on)
        del item["organization"]
        item["individual"] = {
            "id": link["individual_id"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "primary_email": row["primary_email"],
            "job_title": row["job_title"],
        }
        items.append(item)
    return items, next_cursor


# -- tabs ----------------------------------------------------------------------------------


async def _people_count(runtime: Runtime, entity: Any, record_id: Any) -> int:
    value = await runtime.db.fetchval(
        sql(
            f"SELECT COUNT(*) AS n FROM {LINK_TABLE} l JOIN individual i ON i.id = l.individual_id "
            "WHERE l.organization_id = {} AND i.deleted_at IS NULL AND {}",
            record_id,
            current_sql("l"),
        )
    )
    return int(value or 0)


async def _people_tab(runtime: Runtime, entity: Any, record_id: Any, params: ListParams) -> TabPage:
    items, next_cursor = await people_page(
        runtime, record_id, limit=params.limit, cursor=params.cursor
    )
    return TabPage(items=items, next_cursor=next_cursor)


async def _organizations_count(runtime: Runtime, entity: Any, record_id: Any) -> int:
    value = await runtime.db.fetchval(
        sql(
            f"SELECT COUNT(*) AS n FROM {LINK_TABLE} l "
            "JOIN organization o ON o.id = l.organization_id "
            "WHERE l.individual_id = {} AND o.deleted_at IS NULL AND {}",
            record_id,
            current_sql("l"),
        )
    )
    return int(value or 0)


async def _organizations_tab(
    runtime: Runtime, entity: Any, record_id: Any, params: ListParams
) -> TabPage:
    """The person's current links by organisation name (keyset-paged like a list)."""
    on = today()
    where = sql(
        "l.individual_id = {} AND o.deleted_at IS NULL AND {}", record_id, current_sql("l", on)
    )
    if params.cursor:
        name, link_id = _decode(params.cursor, 2)
        where = sql("{} AND {}", where, _after(["o.name", "l.id"], [name, uuid.UUID(link_id)]))
    rows = await runtime.db.fetch(
        sql(
            f"SELECT {COLUMNS}, o.name AS organization_name FROM {LINK_TABLE} l "
            "JOIN organization o ON o.id = l.organization_id WHERE {} "
            f"ORDER BY o.name, l.id LIMIT {int(params.limit) + 1}",
            where,
        )
    )
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        next_cursor = _encode([rows[-1]["organization_name"], rows[-1]["id"]])
    return TabPage(items=[to_api(decode(r), on) for r in rows], next_cursor=next_cursor)


TABS = [
    TabProvider(
        entity="individual",
        key="organizations",
        title="Organisations",
        order=20,
        count=_organizations_count,
        page=_organizations_tab,
        reads=("organization",),
        create_href=lambda entity, record_id: f"/api/v1/individuals/{record_id}/organizations",
    ),
    TabProvider(
        entity="organization",
        key="people",
        title="People",
        order=10,
        count=_people_count,
        page=_people_tab,
        requires_entities=("individual",),
        reads=("individual",),
    ),
]
