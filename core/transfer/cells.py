"""One value as one CSV cell and back: the text forms export writes and import reads.

* nothing is an empty cell; booleans are ``true``/``false`` (import also takes
  ``yes``/``no``, ``1``/``0``, ``y``/``n``, any case);
* dates, date-times and UUIDs are ISO 8601 / canonical text; numbers are plain
  decimals (never an exponent for a ``Decimal``);
* a list of scalars (``tags``, multi-select) is its items joined with ``;``; an item
  holding ``;`` or ``\\`` escapes it with a backslash (``a\\;b``), so every list
  survives a round trip while ordinary lists read as typed;
* a money amount (the ``currency`` field type) is ``<amount> <CODE>``: ``12.5 EUR``;
* anything else (an object) is its JSON text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

__all__ = ["format_cell", "join_list", "parse_bool", "parse_money", "split_list"]

_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_MONEY = re.compile(r"^\s*(?:([A-Za-z]{3})\s+)?([-+]?[0-9][0-9.]*)\s*(?:([A-Za-z]{3}))?\s*$")
_SEPARATOR = ";"


def format_cell(value: Any) -> str:
    """``value`` as the text of one cell (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict) and set(value) == {"amount", "code"}:
        return f"{format_cell(value['amount'])} {value['code']}"
    if isinstance(value, list | tuple):
        return join_list(format_cell(v) for v in value)
    return msgspec.json.encode(value).decode()


def join_list(items: Iterable[str]) -> str:
    """Items joined with ``;`` (backslash-escaping ``;`` and ``\\`` within them)."""
    return _SEPARATOR.join(i.replace("\\", "\\\\").replace(";", "\\;") for i in items)


def split_list(text: str) -> list[str]:
    """The items of a ``;``-joined cell, trimmed, empty ones dropped (``\\;`` is a ``;``)."""
    if "\\" not in text:
        return [s for s in (p.strip() for p in text.split(_SEPARATOR)) if s]
    items: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following in (";", "\\"):
                current.append(following)
            else:  # a lone backslash is a backslash (C:\path)
                current.append(char + following)
        elif char == _SEPARATOR:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [s for s in (i.strip() for i in items) if s]


def parse_bool(text: str) -> bool:
    """``true``/``false`` and the usual spreadsheet spellings; ``ValueError`` otherwise."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def parse_money(text: str) -> dict[str, Any]:
    """``12.5 EUR`` (or ``EUR 12.5``) as ``{"amount": "12.5", "code": "EUR"}``."""
    match = _MONEY.match(text)
    code = match and (match[1] or match[3])
    if not match or not code or (match[1] and match[3]):
        raise ValueError("expected an amount and an ISO 4217 code, like 12.50 EUR")
    return {"amount": match[2], "code": code.upper()}
