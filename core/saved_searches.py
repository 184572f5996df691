"""Saved searches: a list query of one entity kept under a name (API.md "Saved searches").

A saved search stores what a list request says and nothing it found: the entity, ``q``,
the filters as the exact ``(param, value)`` pairs of a list query string
(``[["type", "customer"], ["custom.budget__gte", "100000"]]``) and ``sort``. Its results
are computed afresh at every read, through the entity's :class:`~crmkit.core.records.Records`
with the *reader's* access, so a shared search never shows anyone more than the same
list request would (a filter on a field hidden from the reader is the same 400).

It belongs to the actor that saved it (a user, for every key of theirs, or a service
key) and is private to that owner unless ``shared``. Names are unique per owner and
entity among live searches. Only the owner, an admin or a ``manage_users`` holder may
change or delete one; deleting is soft. Someone else's private search does not exist
for anyone else (404), admins included.

The query is checked when it is saved, with the saver's access: each problem is a 422
naming ``filters[i]``, ``sort`` or ``q``. :func:`resolve_saved_search` turns a name or
an id into list parameters (for ``crmkit export --saved NAME``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import sqlite3
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import msgspec

from .access import Access
from .db.sql import QueryString, join, sql
from .errors import BadRequest, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from .query.compile import compile_list
from .query.params import ListParams, parse_list_params

if TYPE_CHECKING:
    from .entity import EntityType
    from .records import Records
    from .runtime import Runtime

__all__ = [
    "SavedSearch",
    "SavedSearchCreate",
    "SavedSearchPage",
    "SavedSearchPatch",
    "create_saved_search",
    "delete_saved_search",
    "find_saved_search",
    "get_saved_search",
    "list_saved_searches",
    "may_manage",
    "params",
    "resolve_saved_search",
    "update_saved_search",
]

TABLE = "crmkit_saved_search"
#: List query parameters that are not filters: stored apart (``q``, ``sort``) or chosen
#: by whoever reads the results (paging).
NOT_FILTERS = frozenset({"q", "sort", "limit", "cursor", "count"})
MAX_FILTERS = 50

Name = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, description="unique per owner and entity")
]
Query = Annotated[str, msgspec.Meta(max_length=1000, description="`q=` of a list")]
Sort = Annotated[str, msgspec.Meta(max_length=500, description="`sort=` of a list: `-a,b`")]
#: ``[param, value]`` (a list, not a tuple: Litestar documents tuples as OpenAPI 3.0
#: ``items`` arrays, which 3.1 refuses).
Pair = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=10_000)]],
    msgspec.Meta(min_length=2, max_length=2),
]
Filters = Annotated[
    list[Pair],
    msgspec.Meta(
        max_length=MAX_FILTERS,
        description=(
            "`[param, value]` pairs exactly as in a list query string "
            '(`[["type", "customer"], ["custom.budget__gte", "100000"]]`), '
            "other than q, sort, limit, cursor and count"
        ),
    ),
]


class SavedSearch(msgspec.Struct, kw_only=True):
    """A saved search as the API shows it."""

    id: uuid.UUID
    entity: str
    name: str
    q: str | None
    filters: list[list[str]]
    sort: str | None
    #: The actor that saved it: a user id (``owner_kind`` "user") or an API key id.
    owner_id: str
    owner_kind: str
    shared: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SavedSearchCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/saved-searches``."""

    entity: Annotated[str, msgspec.Meta(description="entity name, e.g. `individual`")]
    name: Name
    q: Query | None = None
    filters: Filters = []
    sort: Sort | None = None
    shared: bool = False


class SavedSearchPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PATCH /api/v1/saved-searches/{id}``: only what it names changes."""

    entity: str | msgspec.UnsetType = msgspec.UNSET
    name: Name | msgspec.UnsetType = msgspec.UNSET
    q: Query | msgspec.UnsetType | None = msgspec.UNSET
    filters: Filters | msgspec.UnsetType = msgspec.UNSET
    sort: Sort | msgspec.UnsetType | None = msgspec.UNSET
    shared: bool | msgspec.UnsetType = msgspec.UNSET


class SavedSearchPage(msgspec.Struct, kw_only=True):
    data: list[SavedSearch]
    next_cursor: str | None = None


_UNIQUE_ERRORS = (asyncpg.UniqueViolationError, sqlite3.IntegrityError)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _search(row: dict[str, Any]) -> SavedSearch:
    filters = row["filters"]
    if isinstance(filters, str | bytes):
        filters = msgspec.json.decode(filters)
    return SavedSearch(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        entity=row["entity"],
        name=row["name"],
        q=row["q"],
        filters=[[str(p), str(v)] for p, v in filters or []],
        sort=row["sort"],
        owner_id=row["owner_id"],
        owner_kind=row["owner_kind"],
        shared=bool(row["shared"]),
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


# -- list parameters -------------------------------------------------------------------


def _list_params(filters: list[list[str]], q: str | None, sort: str | None) -> ListParams:
    items = [(p, v) for p, v in filters]
    if q:
        items.append(("q", q))
    if sort:
        items.append(("sort", sort))
    return parse_list_params(items)


def params(
    saved: SavedSearch, *, limit: int = 50, cursor: str | None = None, count: bool = False
) -> ListParams:
    """The list parameters of ``saved`` (for its results, and for an export of them).

    Filters keep their saved order, so a problem (a field hidden from the reader) is
    reported exactly as by the list request with the same query string. A stored
    search was checked when saved; what changed since (a field hidden, a definition
    gone) is the :class:`~crmkit.core.errors.BadRequest` the list would raise.
    """
    out = _list_params(saved.filters, saved.q, saved.sort)
    out.limit, out.cursor, out.count = limit, cursor, count
    return out


# -- visibility ------------------------------------------------------------------------


def _owner(access: Access) -> tuple[str, str]:
    return access.actor.id, access.actor.kind


def _visible(access: Access | None) -> QueryString:
    """The searches ``access`` may see: its own and the shared ones (all: the system)."""
    if access is None:
        return sql("1 = 1")
    owner_id, owner_kind = _owner(access)
    return sql("((owner_id = {} AND owner_kind = {}) OR shared = {})", owner_id, owner_kind, True)


def may_manage(access: Access, saved: SavedSearch) -> bool:
    """The owner, an admin or a ``manage_users`` holder may change or delete ``saved``."""
    return _owner(access) == (saved.owner_id, saved.owner_kind) or access.has("manage_users")


# -- reads -----------------------------------------------------------------------------


def _id(search_id: uuid.UUID | str) -> uuid.UUID:
    try:
        return search_id if isinstance(search_id, uuid.UUID) else uuid.UUID(str(search_id))
    except ValueError:
        raise NotFound(f"no saved search {search_id!r}") from None


async def get_saved_search(
    runtime: Runtime, search_id: uuid.UUID | str, access: Access | None = None
) -> SavedSearch:
    """A live saved search ``access`` may see (``None``: any); 404 otherwise."""
    ident = _id(search_id)
    row = await runtime.db.fetchrow(
        sql(
            f"SELECT * FROM {TABLE} WHERE id = {{}} AND deleted_at IS NULL AND {{}}",
            ident,
            _visible(access),
        )
    )
    if row is None:
        raise NotFound(f"no saved search {ident}")
    return _search(row)


async def find_saved_search(
    runtime: Runtime, ref: str, access: Access | None = None, *, entity: str | None = None
) -> SavedSearch:
    """A saved search by id or by name, among those ``access`` may see (``None``: all).

    By name, one of the actor's own wins over shared ones; several candidates left
    (the same name on two entities, or two owners' shared searches) are a 409 listing
    their ids, to be named by id instead.
    """
    ref = ref.strip()
    try:
        ident = uuid.UUID(ref)
    except ValueError:
        ident = None
    if ident is not None:
        saved = await get_saved_search(runtime, ident, access)
        if entity is None or saved.entity == entity:
            return saved
        raise NotFound(f"saved search {ident} is not a search of {entity}")
    where = [sql("deleted_at IS NULL"), sql("name = {}", ref), _visible(access)]
    if entity is not None:
        where.append(sql("entity = {}", entity))
    rows = await runtime.db.fetch(
        sql(f"SELECT * FROM {TABLE} WHERE {{}} ORDER BY created_at, id", join(where, " AND "))
    )
    found = [_search(r) for r in rows]
    if access is not None and len(found) > 1:
        mine = [s for s in found if (s.owner_id, s.owner_kind) == _owner(access)]
        found = mine or found
    if not found:
        raise NotFound(f"no saved search named {ref!r}")
    if len(found) > 1:
        raise Conflict(
            f"{len(found)} saved searches are named {ref!r}: give the id of one",
            extra={"candidates": [{"id": str(s.id), "entity": s.entity} for s in found]},
        )
    return found[0]


async def resolve_saved_search(
    runtime: Runtime,
    ref: str,
    access: Access | None = None,
    *,
    entity: str | None = None,
    limit: int = 500,
) -> tuple[SavedSearch, ListParams]:
    """A saved search by name or id and its list parameters, ready for
    ``runtime.records(saved.entity, access).list(...)`` or an export (``crmkit export
    --saved NAME``). The caller pages on with ``cursor``."""
    saved = await find_saved_search(runtime, ref, access, entity=entity)
    return saved, params(saved, limit=limit)


def _cursor(saved: SavedSearch) -> str:
    raw = msgspec.json.encode(["s", saved.name, str(saved.id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        marker, name, ident = msgspec.json.decode(raw)
        if marker != "s" or not isinstance(name, str) or not isinstance(ident, str):
            raise ValueError
        return name, uuid.UUID(ident)
    except (binascii.Error, ValueError, TypeError, msgspec.DecodeError):
        raise BadRequest(
            "not a cursor of this list", errors=[FieldError("cursor", "invalid")]
        ) from None


async def list_saved_searches(
    runtime: Runtime,
    access: Access,
    *,
    entity: str | None = None,
    mine: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> SavedSearchPage:
    """The actor's own searches and the shared ones, of entities it may read, by name."""
    if entity is not None and entity not in runtime.plugins.entities:
        names = ", ".join(sorted(e.name for e in runtime.entities))
        raise BadRequest(
            f"no entity {entity!r}", errors=[FieldError("entity", f"must be one of: {names}")]
        )
    readable = [e.name for e in runtime.entities if access.can(e.name, "read")]
    if entity is not None:
        readable = [n for n in readable if n == entity]
    if not readable:
        return SavedSearchPage(data=[])
    where = [sql("deleted_at IS NULL"), _visible(access)]
    where.append(sql("entity IN ({})", join([sql("{}", n) for n in readable], ", ")))
    if mine:
        owner_id, owner_kind = _owner(access)
        where.append(sql("owner_id = {} AND owner_kind = {}", owner_id, owner_kind))
    if cursor:
        name, ident = _after(cursor)
        where.append(sql("(name > {} OR (name = {} AND id > {}))", name, name, ident))
    rows = await runtime.db.fetch(
        sql(
            f"SELECT * FROM {TABLE} WHERE {{}} ORDER BY name, id LIMIT {int(limit) + 1}",
            join(where, " AND "),
        )
    )
    found = [_search(r) for r in rows[:limit]]
    more = len(rows) > limit
    return SavedSearchPage(data=found, next_cursor=_cursor(found[-1]) if more else None)


# -- checks ----------------------------------------------------------------------------


def _moved(exc: BadRequest, path: str) -> list[FieldError]:
    """The problems of a list request, named by where they are in a saved search."""
    if not exc.errors:
        return [FieldError(path, exc.detail)]
    return [
        FieldError(path, e.message if e.field == path else f"{e.field}: {e.message}")
        for e in exc.errors
    ]


def _entity(runtime: Runtime, name: str) -> EntityType:
    entity = runtime.plugins.entities.get(name)
    if entity is None:
        names = ", ".join(sorted(e.name for e in runtime.entities))
        raise ValidationFailed(
            f"no entity {name!r}", errors=[FieldError("entity", f"must be one of: {names}")]
        )
    return entity


async def _check_query(
    runtime: Runtime,
    access: Access,
    entity_name: str,
    q: str | None,
    filters: list[list[str]],
    sort: str | None,
) -> None:
    """Compile the query for ``entity_name`` as ``access`` would run it: every problem is
    a 422 naming ``filters[i]``, ``sort`` or ``q`` (the saver cannot use a field hidden
    from them either). Then one row is read, so whatever the list machinery checks at
    run time (the search compiler, values the database refuses) is checked now too."""
    entity = _entity(runtime, entity_name)
    access.require(entity.name, "read")
    await runtime.custom_fields.ensure()  # the types of custom.<key> filters
    hidden = entity.hidden_columns(access.hidden(entity.name))

    def compile_(list_params: ListParams) -> None:
        compile_list(
            runtime.db,
            entity,
            list_params,
            custom_types=runtime.custom_types,
            runtime=runtime,
            hidden=hidden,
        )

    errors: list[FieldError] = []
    for i, (param, value) in enumerate(filters):
        path = f"filters[{i}]"
        if param in NOT_FILTERS:
            where = "the `q` or `sort` field" if param in ("q", "sort") else "the results request"
            errors.append(FieldError(path, f"{param!r} is not a filter: it belongs in {where}"))
            continue
        try:
            compile_(parse_list_params([(param, value)]))
        except BadRequest as exc:
            errors.extend(_moved(exc, path))
    for name, text in (("sort", sort), ("q", q)):
        if text is None:
            continue
        try:
            compile_(parse_list_params([(name, text)]))
        except BadRequest as exc:
            errors.extend(_moved(exc, name))
    if not errors:
        errors = await _try_run(runtime.records(entity, access), filters, q, sort)
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the saved search",
            errors=errors,
        )


async def _try_run(
    records: Records, filters: list[list[str]], q: str | None, sort: str | None
) -> list[FieldError]:
    """Read one row of the query; on a 400, the parts that fail alone are named (a value
    the database refuses is reported as the query's, not the parameter's)."""

    async def fails(items: list[tuple[str, str]]) -> BadRequest | None:
        try:
            list_params = parse_list_params(items)
            list_params.limit = 1
            await records.list(list_params)
        except BadRequest as exc:
            return exc
        return None

    parts = [(f"filters[{i}]", [(p, v)]) for i, (p, v) in enumerate(filters)]
    parts += [(name, [(name, text)]) for name, text in (("q", q), ("sort", sort)) if text]
    whole = await fails([item for _, items in parts for item in items])
    if whole is None:
        return []
    errors = []
    for path, items in parts:
        exc = await fails(items)
        if exc is not None:
            errors.extend(_moved(exc, path))
    return errors or _moved(whole, "filters")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Trimmed name, ``q`` and ``sort`` (empty ones: none); 422 for what no engine stores."""
    errors: list[FieldError] = []
    if "name" in values:
        values["name"] = " ".join(values["name"].split())
        if not values["name"]:
            errors.append(FieldError("name", "required"))
        elif "\x00" in values["name"]:
            errors.append(FieldError("name", "must not contain NUL characters"))
    for key in ("q", "sort"):
        if isinstance(values.get(key), str):
            values[key] = values[key].strip() or None
    if "filters" in values:
        values["filters"] = [[p, v] for p, v in values["filters"]]
    if errors:
        raise ValidationFailed("invalid saved search", errors=errors)
    return values


def _name_taken(name: str, entity: str) -> Conflict:
    return Conflict(
        f"you have a saved search of {entity} named {name!r} already",
        errors=[FieldError("name", "already used by another of your saved searches")],
    )


async def _check_name(
    runtime: Runtime, saved: SavedSearch | None, values: dict[str, Any], owner: tuple[str, str]
) -> None:
    row = await runtime.db.fetchrow(
        sql(
            f"SELECT id FROM {TABLE} WHERE owner_id = {{}} AND owner_kind = {{}} AND "
            "entity = {} AND name = {} AND deleted_at IS NULL",
            *owner,
            values["entity"],
            values["name"],
        )
    )
    if row is not None and (saved is None or str(row["id"]) != str(saved.id)):
        raise _name_taken(values["name"], values["entity"])


# -- writes ----------------------------------------------------------------------------


async def create_saved_search(
    runtime: Runtime, body: SavedSearchCreate, access: Access
) -> SavedSearch:
    """Save a search for ``access``'s actor: 422 for a bad query (each problem named),
    403 when the actor may not read the entity, 409 for a name it already uses."""
    values = _clean(msgspec.structs.asdict(body))
    await _check_query(
        runtime, access, values["entity"], values["q"], values["filters"], values["sort"]
    )
    owner = _owner(access)
    search_id = uuid.uuid4()
    now = _now()
    db = runtime.db
    try:
        async with db.transaction():
            await _check_name(runtime, None, values, owner)
            await db.execute(
                sql(
                    f"INSERT INTO {TABLE} (id, entity, name, q, filters, sort, owner_id, "
                    "owner_kind, shared, created_at, updated_at, deleted_at) "
                    "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, NULL)",
                    search_id,
                    values["entity"],
                    values["name"],
                    values["q"],
                    msgspec.json.encode(values["filters"]).decode(),
                    values["sort"],
                    *owner,
                    bool(values["shared"]),
                    now,
                    now,
                )
            )
    except _UNIQUE_ERRORS:  # a concurrent save under the same name
        raise _name_taken(values["name"], values["entity"]) from None
    return await get_saved_search(runtime, search_id)


async def _managed(runtime: Runtime, search_id: uuid.UUID | str, access: Access) -> SavedSearch:
    saved = await get_saved_search(runtime, search_id, access)
    if not may_manage(access, saved):
        raise Forbidden(
            "only its owner (or an admin) may change or delete a saved search",
            errors=[FieldError("id", "not your saved search")],
        )
    return saved


async def update_saved_search(
    runtime: Runtime, search_id: uuid.UUID | str, patch: SavedSearchPatch, access: Access
) -> SavedSearch:
    """Change what ``patch`` names. A changed entity, ``q``, filter or sort is checked
    again with ``access`` (the whole query, as on create)."""
    values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    values = _clean(values)
    saved = await _managed(runtime, search_id, access)
    changed = {k: v for k, v in values.items() if getattr(saved, k) != v}
    if not changed:
        return saved
    merged = {**msgspec.structs.asdict(saved), **changed}
    if changed.keys() & {"entity", "q", "filters", "sort"}:
        await _check_query(
            runtime, access, merged["entity"], merged["q"], merged["filters"], merged["sort"]
        )
    if "filters" in changed:
        changed["filters"] = msgspec.json.encode(changed["filters"]).decode()
    db = runtime.db
    owner = (saved.owner_id, saved.owner_kind)
    try:
        async with db.transaction():
            if changed.keys() & {"entity", "name"}:
                await _check_name(runtime, saved, merged, owner)
            sets = ", ".join(f"{k} = {{}}" for k in changed)
            await db.execute(
                sql(
                    f"UPDATE {TABLE} SET {sets}, updated_at = {{}} "
                    "WHERE id = {} AND deleted_at IS NULL",
                    *changed.values(),
                    _now(),
                    saved.id,
                )
            )
    except _UNIQUE_ERRORS:
        raise _name_taken(merged["name"], merged["entity"]) from None
    return await get_saved_search(runtime, saved.id)


async def delete_saved_search(runtime: Runtime, search_id: uuid.UUID | str, access: Access) -> None:
    """Soft delete (``deleted_at`` set): gone from every listing and read; the name is free."""
    saved = await _managed(runtime, search_id, access)
    now = _now()
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                f"UPDATE {TABLE} SET deleted_at = {{}}, updated_at = {{}} "
                "WHERE id = {} AND deleted_at IS NULL",
                now,
                now,
                saved.id,
            )
        )
