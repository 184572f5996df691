"""Composable SQL fragments on top of Piccolo's ``QueryString``.

A fragment is ``sql("a = {}", value)``; fragments nest as arguments, and Piccolo
numbers the placeholders for the engine (``$1`` on PostgreSQL, ``?`` on SQLite).
User text is only ever a bound argument, never part of a template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from piccolo.querystring import QueryString

__all__ = ["QueryString", "ident", "join", "sql"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def sql(template: str, *args: Any) -> QueryString:
    """A fragment: ``{}`` marks where each argument (a value or a fragment) goes."""
    return QueryString(template, *args)


def join(parts: Iterable[QueryString], separator: str) -> QueryString:
    """Join fragments with a separator (``" AND "``, ``", "``)."""
    items = list(parts)
    if not items:
        return QueryString("")
    template = separator.replace("{", "{{").replace("}", "}}").join("{}" for _ in items)
    return QueryString(template, *items)


def ident(name: str) -> str:
    """A column or table name checked against a strict pattern (never user text)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name
