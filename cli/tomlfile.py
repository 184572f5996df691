"""Read and rewrite ``crmkit.toml``: ``tomllib`` to read, a small writer to write.

The writer covers what a settings file holds (strings, integers, floats, booleans,
dates, arrays, tables and arrays of tables, nested). Every other key and value of the
file survives a rewrite; comments and formatting do not. A rewrite is checked by
reading it back before it replaces the file, so it can never corrupt the settings.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crmkit.core.errors import SettingsError

__all__ = ["dumps", "has_comments", "read", "write"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _string(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    """A value written inline (after ``key = ``, or inside an array)."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise SettingsError(f"cannot write a {type(value).__name__} to a toml file: {value!r}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(path: list[str], table: Mapping[str, Any], lines: list[str]) -> None:
    """Write ``table``'s plain keys, then its sub-tables and arrays of tables."""
    plain = {
        k: v for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)
    }
    nested = {k: v for k, v in table.items() if k not in plain}
    if path and (plain or not nested):
        lines.extend(["", f"[{'.'.join(_key(p) for p in path)}]"])
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in plain.items())
    for key, value in nested.items():
        if isinstance(value, Mapping):
            _table([*path, key], value, lines)
            continue
        header = ".".join(_key(p) for p in [*path, key])
        for item in value:  # an item's own tables are written inline
            lines.extend(["", f"[[{header}]]"])
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in item.items())


def dumps(data: Mapping[str, Any]) -> str:
    """``data`` as a toml document (top-level keys first, then tables)."""
    lines: list[str] = []
    _table([], data, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def read(path: Path) -> dict[str, Any]:
    """The file's contents, or ``{}`` when it does not exist."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from exc


def has_comments(path: Path) -> bool:
    """Whether the file has comment lines (a rewrite drops them)."""
    if not path.exists():
        return False
    return any(line.lstrip().startswith("#") for line in path.read_text("utf-8").splitlines())


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the file with ``data`` (atomically, after checking the text reads back)."""
    text = dumps(data)
    if tomllib.loads(text) != data:
        raise SettingsError(f"{path}: cannot rewrite these settings faithfully; edit it by hand")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)
