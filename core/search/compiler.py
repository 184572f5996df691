"""Compile a ``q=`` tree (``crmkit.core.query.language``) into SQL over ``crmkit_search``.

Each text leaf becomes ``t.id IN (SELECT record_id FROM crmkit_search s WHERE <row
matches>)``; ``And``/``Or``/``Not`` become ``AND``/``OR``/``NOT`` of those, so a record
matches ``jo sm`` when one of its values has a word starting with "jo" and one (perhaps
another) a word starting with "sm". The row match is FTS5 ``MATCH`` on SQLite and
``@@ tsquery`` on PostgreSQL, and the strings they take are built here from
:func:`words` (letters, digits and marks only): user text never reaches either.

Field terms resolve against the entity (docs/search.md "Fields"): indexed fields match
words within that field; ``tag:``, selects and multi-selects match whole values;
``org:`` goes through the entity's ``organization`` filter; every other field, and every
comparison, through the list compiler's own filters, so ``custom.budget:>100000``,
``type:customer`` or ``created_at:>=2024-05-01`` mean exactly what the filters mean.
A field hidden from the reader is unknown here too (the same 400).
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..db.sql import QueryString, join, sql
from ..errors import BadRequest
from ..query.language import (
    And,
    Compare,
    FieldTerm,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Term,
    normalize,
    parse,
    unparse,
)
from ..query.params import Condition
from .document import NAME, contributors, display_sources, has_name
from .index import DIGITS_TABLE, FTS_TABLE, TABLE
from .text import MAX_WORD, clip

if TYPE_CHECKING:
    from ..db import Database
    from ..entity import EntityType

__all__ = ["MAX_RANKED", "Search", "compile_search"]

#: Leaves that count towards the rank (the first ones of the query); the others filter.
MAX_RANKED = 8
#: Shortest digit string searched as a substring of phone numbers (the trigram size).
MIN_DIGITS = 3
_OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq"}
_ORDERED = frozenset({"number", "date", "datetime"})


class ListCompiler(Protocol):
    """What the search compiler needs of the list compiler (``core/query/compile.py``)."""

    db: Database
    entity: EntityType
    runtime: Any
    hidden: frozenset[str]

    def field(self, name: str, param: str) -> Any: ...

    def condition(self, cond: Condition) -> QueryString: ...


@dataclass
class Search:
    """A compiled query: its condition (``None``: it constrains nothing) and its rank.

    ``rank`` is SQL over ``t.id`` (literals inlined: an ORDER BY takes no parameters);
    ``rank_of`` the same with a ``{}`` for a record id, so a cursor can hold the last
    record's id and the rank is computed again for it. ``key`` names the rank in cursors:
    it changes with the query, so a cursor of another query is refused.
    """

    where: QueryString | None
    rank: str | None = None
    rank_of: str | None = None
    key: str = "_rank"


@dataclass
class _Match:
    """Which index rows ``s`` a leaf matches: through the full-text index (``template``,
    ``args``: for the WHERE), and the same test on the row's own text (``row``: for the
    rank, which looks at the few rows of one record) with its whole-word bonus
    (``exact``)."""

    template: str
    args: list[Any] = field(default_factory=list)
    row: tuple[str, list[Any]] = ("1 = 1", [])
    exact: str = "1"


def _literal(value: Any) -> str:
    """An SQL literal of a value built here (words, identifiers): for the ORDER BY."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if any(ch in "{}\\\x00" for ch in text):  # never in words or identifiers
        raise ValueError(f"not an inlinable search literal: {text!r}")
    return "'" + text.replace("'", "''") + "'"


def _inline(template: str, args: list[Any]) -> str:
    return template.format(*[_literal(a) for a in args])


def _choices(tp: Any) -> list[Any] | None:
    """The values of a ``Literal`` (or ``Enum``) type, else ``None``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return None
            tp = args[0]
        else:
            break
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    values = getattr(tp, "__members__", None)
    return [m.value for m in values.values()] if values else None


class _Backend:
    """How one engine matches words in the index rows."""

    def __init__(self, db: Database) -> None:
        self.pg = db.kind == "postgres"

    def words(self, ws: list[str], prefix: bool) -> tuple[str, list[Any]]:
        """Rows holding ``ws`` adjacent and in order (the last a prefix when ``prefix``)."""
        if self.pg:
            query = " <-> ".join(f"'{w}'" for w in ws) + (":*" if prefix else "")
            return "s.doc @@ CAST(CAST({} AS text) AS tsquery)", [query]
        query = '"' + " ".join(ws) + '"' + (" *" if prefix else "")
        return (f"s.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {{}})", [query])

    def contains(self, column: str, text: str) -> str:
        """SQL (``text`` inlined) that is true when ``column`` holds ``text``.

        A body is its words joined by single spaces, so ``" kari"`` in ``" " || body ||
        " "`` is a word starting with "kari", and ``" kari "`` the whole word: the same
        test as the full-text index's, on one row's text. (Inside the rank's correlated
        subquery SQLite would run an FTS query again for every record.)
        """
        fn = "strpos" if self.pg else "instr"
        return f"{fn}({column}, {_literal(text)}) > 0"

    def digits(self, digits: str) -> tuple[str, list[Any]]:
        """Rows of phone numbers containing ``digits`` (the trigram index)."""
        if self.pg:
            return "s.digits LIKE {}", [f"%{digits}%"]
        return (
            f"s.id IN (SELECT rowid FROM {DIGITS_TABLE} WHERE digits LIKE {{}})",
            [f"%{digits}%"],
        )


class _SearchCompiler:
    def __init__(self, c: ListCompiler, q: str) -> None:
        self.c = c
        self.q = q
        self.entity = c.entity
        self.runtime = c.runtime
        self.backend = _Backend(c.db)
        self.ranked: list[_Match] = []
        hidden = c.hidden
        self.contributed = [p for p in contributors(self.runtime) if p not in hidden]
        shown = display_sources(self.entity)
        name_hidden = bool(hidden) and (shown is None or bool(shown & hidden) or NAME in hidden)
        self.has_name = has_name(self.entity) and not name_hidden
        #: Fields the reader may search by name: index rows of these fields only.
        self.indexed = {f for f in self.entity.searchable if f not in hidden}
        if self.has_name:
            self.indexed.add(NAME)
        self.indexed.update(self.contributed)
        #: Fields left out of a search over every field.
        excluded = set(hidden)
        if not self.has_name:
            excluded.add(NAME)
        if self.runtime is not None:
            for key, definition in self.runtime.custom_fields.cached(self.entity.name).items():
                if definition.archived:
                    excluded.add(f"custom.{key}")
        self.excluded = sorted(excluded)

    # -- errors --------------------------------------------------------------------

    def position(self, name: str) -> int:
        m = re.search(rf"(?:^|(?<=[\s(\-]))({re.escape(name)}):", self.q)
        return m.start(1) if m else 0

    def unknown(self, name: str) -> QuerySyntaxError:
        return QuerySyntaxError(
            f"unknown field {name!r} for {self.entity.plural}", self.position(name)
        )

    def refused(self, name: str, exc: BadRequest) -> QuerySyntaxError:
        """A filter's 400 for a field term, as a 400 of ``q`` pointing at the field."""
        message = exc.errors[0].message if exc.errors else str(exc)
        if message.startswith("unknown field"):
            return self.unknown(name)
        return QuerySyntaxError(f"{name}: {message}", self.position(name))

    # -- leaves --------------------------------------------------------------------

    def rows(
        self,
        ws: list[str],
        *,
        fields: list[str] | None,
        prefix: bool,
        equal: bool = False,
        entity: str | None = None,
    ) -> _Match:
        """Index rows of the entity holding ``ws`` (in ``fields``, or in any visible one)."""
        parts = ["s.entity = {}"]
        args: list[Any] = [entity or self.entity.name]
        if fields is not None:
            parts.append(f"s.field IN ({', '.join('{}' for _ in fields)})")
            args += fields
        elif self.excluded:
            parts.append(f"s.field NOT IN ({', '.join('{}' for _ in self.excluded)})")
            args += self.excluded
        where, where_args = list(parts), list(args)
        prefix = prefix and not equal
        phrase = " " + " ".join(ws) + ("" if prefix else " ")
        body = "(' ' || s.body || ' ')"
        match, match_args = self.backend.words(ws, prefix)
        test = self.backend.contains(body, phrase)
        joined = "".join(ws)
        if not equal and joined.isdigit() and len(joined) >= MIN_DIGITS:
            digits, digits_args = self.backend.digits(joined[:MAX_WORD])
            where.append(f"({match} OR {digits})")
            where_args += match_args + digits_args
            test = f"({test} OR {self.backend.contains('s.digits', joined[:MAX_WORD])})"
        else:
            where.append(match)
            where_args += match_args
        if equal:
            where.append("s.body = {}")
            where_args.append(" ".join(ws))
        exact = self.backend.contains(body, phrase + " ") if prefix else "1"
        parts.append(test)
        return _Match(" AND ".join(where), where_args, (" AND ".join(parts), args), exact)

    def records(self, match: _Match) -> QueryString:
        return sql(
            f"t.id IN (SELECT s.record_id FROM {TABLE} s WHERE {match.template})", *match.args
        )

    def text(self, value: Term | Phrase, fields: list[str] | None, *, rank: bool) -> Any:
        ws = clip(value.text)
        if not ws:
            return None  # "&", an emoji: no words, no constraint
        match = self.rows(ws, fields=fields, prefix=isinstance(value, Term))
        if rank and len(self.ranked) < MAX_RANKED:
            self.ranked.append(match)
        return self.records(match)

    def equal(self, text: str, fields: list[str]) -> Any:
        ws = clip(text)
        if not ws:
            return None
        return self.records(self.rows(ws, fields=fields, prefix=False, equal=True))

    def filter(self, name: str, op: str, raw: str | list[str]) -> QueryString:
        try:
            return self.c.condition(Condition(name, op, raw))
        except BadRequest as exc:
            raise self.refused(name, exc) from None

    def organization(self, name: str, value: Term | Phrase) -> Any:
        """``org:acme``: a current link to an organisation whose name has these words."""
        entities = self.runtime.plugins.entities if self.runtime is not None else {}
        special = self.entity.filters.get("organization")
        target = entities.get("organization")
        if (
            special is None
            or target is None
            or set(special.reveals or ("organization",)) & self.c.hidden
        ):
            raise self.unknown(name)
        ws = clip(value.text)
        if not ws:
            return None
        match = self.rows(ws, fields=[NAME], prefix=isinstance(value, Term), entity="organization")
        ids = sql(
            f"SELECT s.record_id FROM {TABLE} s WHERE {match.template} AND s.record_id IN "
            f"(SELECT o.id FROM {target.tablename} o WHERE o.deleted_at IS NULL)",
            *match.args,
        )
        # The filter binds each value with ``{}``: a fragment nests as the id subquery.
        return special.build(self.runtime, "in", [ids])

    def resolve(self, name: str, value: Term | Phrase, op: str, *, rank: bool) -> Any:
        """A field term (``op`` "term") or a comparison on ``name``."""
        text = value.text
        hidden = self.c.hidden
        if name in ("tag", "tags"):
            if "tags" in hidden:
                raise self.unknown(name)
            if op not in ("term", "eq"):
                raise self.not_ordered(name, op)
            return self.equal(text, ["tags"])
        if name.startswith("custom."):
            try:
                fld = self.c.field(name, "q")
            except BadRequest as exc:
                raise self.refused(name, exc) from None
            if fld.kind in ("text", "choice", "array") and op in ("term", "eq"):
                if fld.kind == "text":
                    phrase = value if op == "term" else Phrase(text)
                    return self.text(phrase, [name], rank=rank)
                return self.equal(text, [name])
            return self.compare(name, fld.kind, op, text)
        if name in self.indexed:
            if op not in ("term", "eq"):
                raise self.not_ordered(name, op)
            return self.text(value if op == "term" else Phrase(text), [name], rank=rank)
        if name in ("org", "organization") and "organization" in self.entity.filters:
            if op not in ("term", "eq"):
                raise self.not_ordered(name, op)
            return self.organization(name, value)
        special = self.entity.filters.get(name)
        if special is not None and special.reveals and set(special.reveals) <= self.indexed:
            if op not in ("term", "eq"):
                raise self.not_ordered(name, op)
            return self.text(
                value if op == "term" else Phrase(text), list(special.reveals), rank=rank
            )
        if name in self.entity.scalar_fields and name not in hidden:
            try:
                fld = self.c.field(name, "q")
            except BadRequest as exc:  # a column of a type no filter takes
                raise self.refused(name, exc) from None
            if op in ("term", "eq") and fld.kind == "text":
                return sql(f"lower({fld.expr}) = {{}}", text.lower())
            if op in ("term", "eq") and fld.kind == "choice":
                choices = _choices(fld.type)
                if choices is not None:
                    wanted = normalize(text)
                    found = [c for c in choices if normalize(str(c)) == wanted]
                    if not found:
                        return sql("1 = 0")
                    return self.filter(name, "in", [str(c) for c in found])
            return self.compare(name, fld.kind, op, text)
        if special is not None:
            return self.filter(name, "eq" if op == "term" else _OPS[op], text)
        raise self.unknown(name)

    def not_ordered(self, name: str, op: str) -> QuerySyntaxError:
        return QuerySyntaxError(
            f"{name} cannot be compared with {op} (only numbers and dates can)",
            self.position(name),
        )

    def compare(self, name: str, kind: str, op: str, text: str) -> QueryString:
        if op == "term":
            op = "="
        if op != "=" and kind not in _ORDERED:
            raise self.not_ordered(name, op)
        return self.filter(name, _OPS[op], text)

    # -- the tree ------------------------------------------------------------------

    def node(self, node: Node, *, rank: bool = True) -> Any:
        """SQL of a node, or ``None`` when it constrains nothing."""
        if isinstance(node, Term | Phrase):
            return self.text(node, None, rank=rank)
        if isinstance(node, FieldTerm):
            return self.resolve(node.field, node.value, "term", rank=rank)
        if isinstance(node, Compare):
            return self.resolve(node.field, Term(node.value), node.op, rank=rank)
        if isinstance(node, Not):
            inner = self.node(node.node, rank=False)
            # NULL (a comparison with a missing value) counts as "no match": NOT gives true
            return None if inner is None else sql("NOT COALESCE(({}), 1 = 0)", inner)
        parts = [self.node(child, rank=rank) for child in node.nodes]
        if isinstance(node, Or) and any(p is None for p in parts):
            return None  # one alternative matches everything
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return sql("({})", join(kept, " AND " if isinstance(node, And) else " OR "))

    def rank(self, record: str) -> str | None:
        """The rank of a record: for each ranked leaf, twice the weight of its best field, +1
        for a whole-word match; summed. An integer, the same on both engines."""
        if not self.ranked:
            return None
        terms = []
        for match in self.ranked:
            bonus = "1" if match.exact == "1" else f"(CASE WHEN {match.exact} THEN 1 ELSE 0 END)"
            terms.append(
                f"(SELECT COALESCE(MAX(s.weight * 2 + {bonus}), 0) FROM {TABLE} s "
                f"WHERE s.record_id = {record} AND {_inline(*match.row)})"
            )
        return "(" + " + ".join(terms) + ")"


def compile_search(c: ListCompiler, q: str) -> Search | None:
    """Compile ``q`` for the list compiler ``c``; ``None`` for a blank query.

    A malformed query, an unknown (or hidden) field and a value a field cannot take are
    400s of ``q`` with the position of the problem.
    """
    tree = parse(q)
    if tree is None:
        return None
    compiler = _SearchCompiler(c, q)
    where = compiler.node(tree)
    rank = compiler.rank("t.id")
    if rank is None:
        return Search(where)
    digest = hashlib.blake2s(unparse(tree).encode(), digest_size=6).hexdigest()
    return Search(where, rank=rank, rank_of=compiler.rank("{}"), key=f"_rank.{digest}")
