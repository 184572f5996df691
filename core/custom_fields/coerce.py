"""Converting a stored value of one custom-field type into another (a type change).

The stored (JSON) value is first shaped into something the target type's ``convert``
accepts (a number becomes text, one selection becomes a list, "yes" becomes true ...),
then it goes through that ``convert`` and ``to_storage`` like any written value, with
the new definition's options and rules. Nothing is guessed: a list of two selections
does not become a dropdown value, 2.5 does not become an integer, and a number does not
become money without a currency code; those raise ``ValueError`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from ..fields import FieldType

__all__ = ["as_text", "coerce", "same"]

#: The value converts to "no value" (an empty selection list into a dropdown).
EMPTY: Any = object()
_TRUE = frozenset({"true", "yes", "y", "1", "on", "x"})
_FALSE = frozenset({"false", "no", "n", "0", "off", ""})
_MONEY = re.compile(r"^\s*(?:([A-Za-z]{3})\s*)?([-+]?[0-9][0-9.]*)\s*(?:([A-Za-z]{3}))?\s*$")


def as_text(value: Any) -> str:
    """A stored value as text: ``12``, ``20.5``, ``true``, ``99.5 NOK``, ``a, b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"amount", "code"}:
        return f"{as_text(value['amount'])} {value['code']}"
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    return msgspec.json.encode(value).decode()


def same(a: Any, b: Any) -> bool:
    """Equal as stored JSON (``1 != true`` and ``1 != 1.5``, unlike Python's ``==``)."""
    return msgspec.json.encode(a) == msgspec.json.encode(b)


def _shape(value: Any, target: FieldType) -> Any:
    """``value`` in a form ``target.convert`` can take (or ``ValueError``)."""
    storage = target.storage
    takes_options = bool(getattr(target, "needs_options", False))
    if isinstance(value, list):
        if storage == "array":
            return value
        if not value:
            return EMPTY
        if len(value) == 1:
            value = value[0]
        elif storage == "text" and not takes_options:
            return as_text(value)
        else:
            raise ValueError(f"has {len(value)} values; a {target.name} field holds one")
    if storage == "array":
        return [as_text(value)]
    if storage == "text":
        return as_text(value)
    if storage == "number":
        if isinstance(value, bool):
            raise ValueError("true/false is not a number")
        money = getattr(target, "storage_path", None) is not None
        if isinstance(value, dict) and "amount" in value:
            return value if money else value["amount"]
        if money:
            match = _MONEY.match(value) if isinstance(value, str) else None
            if match is None or bool(match.group(1)) == bool(match.group(3)):
                raise ValueError("a money amount needs a currency code (like '12.50 EUR')")
            return {"amount": match.group(2), "code": match.group(1) or match.group(3)}
        return value
    if storage == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        word = value.strip().lower() if isinstance(value, str) else None
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"cannot tell whether {as_text(value)!r} means true or false")
    if storage == "date" and isinstance(value, str) and "T" in value:
        try:  # a date-time keeps its calendar date (UTC for stored date-times)
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return value
    return value


def coerce(value: Any, target: FieldType, definition: Any) -> Any:
    """The stored form of ``value`` as a ``target`` value (``None``: no value); or ``ValueError``."""
    shaped = _shape(value, target)
    if shaped is EMPTY:
        return None
    try:
        return target.to_storage(target.convert(shaped, definition))
    except (TypeError, ArithmeticError) as exc:  # a third-party type's own failure
        raise ValueError(str(exc) or type(exc).__name__) from exc
