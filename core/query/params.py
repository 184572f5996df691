"""The query-string of a list request, parsed and checked (nothing touches SQL here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import BadRequest, FieldError

__all__ = ["OPERATORS", "RESERVED", "Condition", "ListParams", "SortKey", "parse_list_params"]

OPERATORS = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "in",
        "nin",
        "contains",
        "icontains",
        "startswith",
        "isnull",
    }
)
#: Query parameters of a list that are not filters.
RESERVED = frozenset({"limit", "cursor", "sort", "count", "q", "include_deleted"})
MAX_IN_VALUES = 500


@dataclass(frozen=True)
class Condition:
    """``field__op=value`` from the query string (``raw`` still text; a list for in/nin)."""

    field: str
    op: str
    raw: str | list[str]

    @property
    def param(self) -> str:
        return self.field if self.op == "eq" else f"{self.field}__{self.op}"


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass
class ListParams:
    """A parsed list request: filters, sort, paging, search."""

    conditions: list[Condition] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    limit: int = 50
    cursor: str | None = None
    count: bool = False
    q: str | None = None
    include_deleted: bool = False


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise BadRequest(
        f"{name} must be true or false", errors=[FieldError(name, "expected true or false")]
    )


def parse_list_params(
    items: Iterable[tuple[str, str]], *, default_limit: int = 50, max_limit: int = 500
) -> ListParams:
    """Parse ``(name, value)`` pairs of a query string into :class:`ListParams`.

    Checks only the form (operators, limit, booleans); which fields exist is the
    compiler's business, since it knows the entity.
    """
    params = ListParams(limit=default_limit)
    for name, value in items:
        if "\x00" in value:  # PostgreSQL cannot compare text with NUL; SQLite would
            raise BadRequest(
                f"{name} must not contain NUL characters",
                errors=[FieldError(name, "must not contain NUL characters")],
            )
        if name == "limit":
            try:
                limit = int(value)
            except ValueError:
                limit = 0
            if not 1 <= limit <= max_limit:
                raise BadRequest(
                    f"limit must be an integer from 1 to {max_limit}",
                    errors=[FieldError("limit", f"expected 1..{max_limit}, got {value!r}")],
                )
            params.limit = limit
        elif name == "cursor":
            params.cursor = value or None
        elif name == "count":
            params.count = _bool("count", value)
        elif name == "include_deleted":
            params.include_deleted = _bool("include_deleted", value)
        elif name == "q":
            params.q = value.strip() or None
        elif name == "sort":
            for part in filter(None, (p.strip() for p in value.split(","))):
                desc = part.startswith("-")
                params.sort.append(SortKey(part.lstrip("-+"), desc))
        else:
            fname, sep, op = name.partition("__")
            op = op or ("" if sep else "eq")  # ``field__`` names no operator: a 400
            if op not in OPERATORS or not fname:
                raise BadRequest(
                    f"unknown filter operator {op!r} in {name!r}",
                    errors=[
                        FieldError(name, f"operator must be one of {', '.join(sorted(OPERATORS))}")
                    ],
                )
            raw: str | list[str] = value
            if op in ("in", "nin"):
                raw = [v.strip() for v in value.split(",") if v.strip()]
                if len(raw) > MAX_IN_VALUES:
                    raise BadRequest(
                        f"{name} takes at most {MAX_IN_VALUES} values",
                        errors=[FieldError(name, f"at most {MAX_IN_VALUES} values")],
                    )
            params.conditions.append(Condition(fname, op, raw))
    return params
