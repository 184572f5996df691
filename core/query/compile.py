"""Compile :class:`ListParams` for one entity into SQL conditions, order and cursor."""

from __future__ import annotations

import base64
import datetime as dt
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import QueryString, join, sql
from ..errors import BadRequest, FieldError
from ..search.compiler import compile_search
from .params import Condition, ListParams, SortKey
from .types import OPERATORS_BY_KIND, convert_value, kind_of

if TYPE_CHECKING:
    from ..db import Database
    from ..entity import EntityType

__all__ = ["CompiledList", "CustomTypes", "compile_list", "encode_cursor"]

#: ``(entity, key) -> (kind, python type[, json sub-path[, operators]])`` for custom
#: fields; text when unknown.
CustomTypes = Callable[[str, str], "tuple[Any, ...] | None"]

_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SQL_OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


@dataclass
class Field:
    """A filterable or sortable expression of an entity."""

    name: str
    expr: str
    kind: str
    type: Any
    #: False when the type cannot hold None: no NULL handling, so indexes serve the sort.
    nullable: bool = True
    #: The operators of a custom field's type (``None``: every operator of its kind).
    operators: frozenset[str] | None = None
    #: Where a custom value's comparable part is (``amount`` of a currency).
    path: str | None = None

    def bind(self, value: Any) -> Any:
        """A filter or cursor value in the form the expression compares with."""
        if not self.name.startswith("custom.") or value is None:
            return value
        if self.kind == "datetime" and isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        if self.kind == "date" and isinstance(value, dt.date):
            return value.isoformat()
        if self.kind == "number" and not isinstance(value, bool):
            return float(value) if self.sqlite else value
        return value

    sqlite: bool = False


@dataclass
class CompiledList:
    where: QueryString
    order_by: str
    sort: list[tuple[Field, bool]]
    cursor_where: QueryString | None


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"{param}: {message}", errors=[FieldError(param, message)])


def _allows_none(tp: Any) -> bool:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp is None or type(None) in typing.get_args(tp) or tp is Any


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Compiler:
    def __init__(
        self,
        db: Database,
        entity: EntityType,
        custom_types: CustomTypes | None,
        runtime: Any,
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        self.runtime = runtime
        self.entity = entity
        self.custom_types = custom_types
        self.hidden = hidden

    def field(self, name: str, param: str) -> Field:
        entity = self.entity
        if name in self.hidden:  # a field the reader cannot see does not exist for them
            raise _bad(param, f"unknown field {name!r} for {entity.plural}")
        if name in entity.scalar_fields:
            tp = entity.scalar_fields[name]
            kind = kind_of(tp)
            if kind is not None:
                return Field(name, f"t.{name}", kind, tp, nullable=_allows_none(tp))
        if name.startswith("custom."):
            key = name[7:]
            if not _CUSTOM_KEY.match(key):
                raise _bad(param, f"{key!r} is not a custom field key")
            info = self.custom_types(entity.name, key) if self.custom_types else ("text", str)
            if info is None:  # no such definition (archived ones still filter)
                raise _bad(param, f"unknown field {name!r} for {entity.plural}")
            kind, tp = info[0], info[1]
            path = info[2] if len(info) > 2 else None
            ops = info[3] if len(info) > 3 else None
            return Field(
                name,
                self.db.json_value("t.custom", key, kind, path),
                kind,
                tp,
                operators=ops,
                path=path,
                sqlite=self.db.kind == "sqlite",
            )
        raise _bad(param, f"unknown field {name!r} for {entity.plural}")

    def condition(self, cond: Condition) -> QueryString:
        entity = self.entity
        if cond.field in ("tag", "tags") and "tags" not in self.hidden:
            return self.tag_condition(cond)
        special = entity.filters.get(cond.field)
        if special is not None and not set(special.reveals or (cond.field,)) & self.hidden:
            if cond.op not in special.operators:
                raise _bad(cond.param, f"operator {cond.op!r} is not supported here")
            value = self.convert(cond, special.type)
            return special.build(self.runtime, cond.op, value)
        fld = self.field(cond.field, cond.param)
        if fld.kind == "array" and cond.op != "isnull":
            return self.array_condition(fld, cond)
        if cond.op not in OPERATORS_BY_KIND[fld.kind] or (
            fld.operators is not None and cond.op not in fld.operators
        ):
            raise _bad(cond.param, f"operator {cond.op!r} does not apply to a {fld.kind} field")
        if cond.op == "isnull":
            is_null = self.convert(cond, bool)
            return sql(f"{fld.expr} IS {'' if is_null else 'NOT '}NULL")
        value = self.convert(cond, fld.type)
        value = [fld.bind(v) for v in value] if isinstance(value, list) else fld.bind(value)
        if cond.op in ("in", "nin"):
            inner = join([sql("{}", v) for v in value], ", ")
            if cond.op == "in":
                return sql(f"{fld.expr} IN ({{}})", inner)
            return sql(f"({fld.expr} NOT IN ({{}}) OR {fld.expr} IS NULL)", inner)
        if cond.op == "ne":
            return sql(f"({fld.expr} <> {{}} OR {fld.expr} IS NULL)", value)
        if cond.op in _SQL_OPS:
            return sql(f"{fld.expr} {_SQL_OPS[cond.op]} {{}}", value)
        return self.text_match(fld, cond.op, value)

    def array_condition(self, fld: Field, cond: Condition) -> QueryString:
        """A list-valued custom field (multi_select): ``in`` (any of), ``nin`` (none of),
        ``contains`` (has this one), through its index table (``crmkit_custom_value``)."""
        from ..custom_fields.values import array_filter

        if cond.op not in ("in", "nin", "contains") or (
            fld.operators is not None and cond.op not in fld.operators
        ):
            raise _bad(cond.param, f"operator {cond.op!r} does not apply to a list field")
        values = cond.raw if isinstance(cond.raw, list) else [cond.raw]
        if not values or not all(values):
            raise _bad(cond.param, "expected a value")
        return array_filter(self.entity.name, fld.name[7:], cond.op, values)

    def text_match(self, fld: Field, op: str, value: str) -> QueryString:
        if self.db.kind == "postgres":
            pattern = _escape_like(value)
            pattern = f"{pattern}%" if op == "startswith" else f"%{pattern}%"
            like = "ILIKE" if op == "icontains" else "LIKE"
            return sql(f"{fld.expr} {like} {{}} ESCAPE '\\'", pattern)
        # SQLite's LIKE ignores ASCII case: use it only where case must be ignored.
        if op == "icontains":
            return sql(
                f"lower({fld.expr}) LIKE lower({{}}) ESCAPE '\\'", f"%{_escape_like(value)}%"
            )
        if op == "startswith":
            return sql(f"substr({fld.expr}, 1, length({{}})) = {{}}", value, value)
        return sql(f"instr({fld.expr}, {{}}) > 0", value)

    def tag_condition(self, cond: Condition) -> QueryString:
        if cond.op not in ("eq", "ne", "in", "nin", "isnull"):
            raise _bad(cond.param, f"operator {cond.op!r} does not apply to tags")
        base = "SELECT record_id FROM crmkit_record_tag WHERE entity = {}"
        if cond.op == "isnull":
            no_tags = self.convert(cond, bool)
            return sql(f"t.id {'NOT ' if no_tags else ''}IN ({base})", self.entity.name)
        values = cond.raw if isinstance(cond.raw, list) else [cond.raw]
        inner = join([sql("{}", v) for v in values], ", ")
        negate = "NOT " if cond.op in ("ne", "nin") else ""
        return sql(f"t.id {negate}IN ({base} AND tag IN ({{}}))", self.entity.name, inner)

    def convert(self, cond: Condition, tp: Any) -> Any:
        try:
            if cond.op == "isnull":
                return convert_value(bool, cond.raw if isinstance(cond.raw, str) else "")
            if isinstance(cond.raw, list):
                if not cond.raw:
                    raise ValueError("expected a comma-separated list")
                return [convert_value(tp, v) for v in cond.raw]
            return convert_value(tp, cond.raw)
        except ValueError as exc:
            raise _bad(cond.param, str(exc)) from None

    def sort(self, keys: list[SortKey]) -> list[tuple[Field, bool]]:
        out: list[tuple[Field, bool]] = []
        seen: set[str] = set()
        for key in keys:
            if key.field in seen:
                continue
            seen.add(key.field)
            fld = self.field(key.field, "sort")
            out.append((fld, key.descending))
        if "id" not in seen:
            out.append(
                (
                    Field("id", "t.id", "uuid", self.entity.scalar_fields["id"], nullable=False),
                    False,
                )
            )
        return out


def compile_list(
    db: Database,
    entity: EntityType,
    params: ListParams,
    *,
    custom_types: CustomTypes | None = None,
    extra: list[QueryString] | None = None,
    runtime: Any = None,
    hidden: frozenset[str] = frozenset(),
) -> CompiledList:
    """Compile the filters, sort and cursor of a list request. Unknown names are a 400.

    ``runtime`` is handed to the entity's own :class:`Filter` builders. ``hidden`` names
    the fields the reader may not see: they are unknown here (filter, sort and search).
    """
    c = _Compiler(db, entity, custom_types, runtime, hidden)
    conditions = [c.condition(cond) for cond in params.conditions]
    filters_deleted = any(cond.field == "deleted_at" for cond in params.conditions)
    if not params.include_deleted and not filters_deleted:
        # SQLite (without ANALYZE statistics) answers this from the deleted_at index,
        # which matches nearly every row, and then sorts them all for each page; the
        # unary + keeps it a plain filter so the sort's or another filter's index serves.
        live = "+t.deleted_at IS NULL" if db.kind == "sqlite" else "t.deleted_at IS NULL"
        conditions.insert(0, sql(live))
    search = compile_search(c, params.q) if params.q else None  # q=: crmkit.core.search
    if search is not None and search.where is not None:
        conditions.append(search.where)
    conditions.extend(extra or [])
    where = join(conditions, " AND ") if conditions else sql("1 = 1")
    # the default sort skips fields hidden from the reader (an explicit sort on one is a 400)
    keys = params.sort or [
        SortKey(k.lstrip("-"), k.startswith("-"))
        for k in entity.default_sort
        if k.lstrip("-") not in hidden
    ]
    sort = c.sort(keys)
    if search is not None and search.rank is not None and not params.sort:
        # no sort asked for: best matches first (the entity's default sort breaks ties)
        sort.insert(0, (Field(search.key, search.rank, "number", int, nullable=False), True))
    order_by = ", ".join(
        f"{f.expr} {'DESC' if desc else 'ASC'}" + (f" {db.nulls(desc)}" if f.nullable else "")
        for f, desc in sort
    )
    cursor_where = None
    if params.cursor:
        values = decode_cursor(params.cursor, sort)
        if search is not None and search.rank_of is not None and sort[0][0].name == search.key:
            values[0] = _rank_at(search.rank_of, sort, values)
        cursor_where = _after(sort, values)
    return CompiledList(where=where, order_by=order_by, sort=sort, cursor_where=cursor_where)


def _rank_at(rank_of: str, sort: list[tuple[Field, bool]], values: list[Any]) -> QueryString:
    """The search rank of the cursor's record (the cursor keeps its id, not its rank)."""
    at = next((i for i, (f, _) in enumerate(sort) if f.name == "id"), None)
    if at is None or values[at] is None:
        raise _bad("cursor", "not a cursor of this list (sort and cursor must match)")
    return sql(rank_of, *[values[at]] * rank_of.count("{}"))


def _signature(sort: list[tuple[Field, bool]]) -> str:
    return ",".join(f"{'-' if d else ''}{f.name}" for f, d in sort)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return msgspec.to_builtins(value)


def encode_cursor(sort: list[tuple[Field, bool]], row: dict[str, Any]) -> str:
    """An opaque cursor holding the sort values of the last row of a page."""
    values = []
    for fld, _ in sort:
        if fld.name.startswith("custom."):
            value = (row.get("custom") or {}).get(fld.name[7:])
            if fld.path and isinstance(value, dict):
                value = value.get(fld.path)
            values.append(_jsonable(value))
        else:
            values.append(_jsonable(row.get(fld.name)))
    raw = msgspec.json.encode({"s": _signature(sort), "v": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: list[tuple[Field, bool]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = msgspec.json.decode(raw)
        if data["s"] != _signature(sort) or len(data["v"]) != len(sort):
            raise ValueError
        return [
            None if v is None else convert_value(f.type, str(v) if not isinstance(v, str) else v)
            for (f, _), v in zip(sort, data["v"], strict=True)
        ]
    except (ValueError, KeyError, TypeError, msgspec.DecodeError):
        raise _bad("cursor", "not a cursor of this list (sort and cursor must match)") from None


def _after(sort: list[tuple[Field, bool]], values: list[Any]) -> QueryString:
    """Rows after the cursor; NULL sorts as the largest value (NULLS LAST ascending)."""
    (fld, desc), value = sort[0], sort[0][0].bind(values[0])
    rest = _after(sort[1:], values[1:]) if len(sort) > 1 else None
    e = fld.expr
    if value is None:
        if desc:  # NULLs came first; then every non-NULL follows
            head = sql(f"{e} IS NOT NULL")
            return sql("({} OR ({} IS NULL AND {}))", head, sql(e), rest) if rest else head
        return sql(f"({e} IS NULL AND {{}})", rest) if rest else sql("1 = 0")
    op = "<" if desc else ">"
    parts = [sql(f"{e} {op} {{}}", value)]
    if not desc and fld.nullable:
        parts.append(sql(f"{e} IS NULL"))
    if rest is not None:
        parts.append(sql(f"({e} = {{}} AND {{}})", value, rest))
    return sql("({})", join(parts, " OR "))
