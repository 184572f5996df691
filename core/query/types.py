"""What kind of value a field holds, for operators and conversion of filter text."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
import uuid
from typing import Any

import msgspec

from .params import OPERATORS

__all__ = ["OPERATORS_BY_KIND", "bare_type", "convert_value", "kind_of"]

OPERATORS_BY_KIND: dict[str, frozenset[str]] = {
    "text": OPERATORS,  # every operator applies to text
    "number": frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "isnull"}),
    "date": frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "isnull"}),
    "datetime": frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "isnull"}),
    "boolean": frozenset({"eq", "ne", "isnull"}),
    "uuid": frozenset({"eq", "ne", "in", "nin", "isnull"}),
    "choice": frozenset({"eq", "ne", "in", "nin", "isnull"}),
    #: A list value (multi_select): only presence filters for now.
    "array": frozenset({"isnull"}),
}


def bare_type(tp: Any) -> Any:
    """``tp`` without ``Annotated`` and ``| None`` around it (``list[str] | None`` -> ``list[str]``)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def kind_of(tp: Any) -> str | None:
    """The filter kind of a field type, or ``None`` when it cannot be filtered as a scalar."""
    tp = bare_type(tp)
    if typing.get_origin(tp) is typing.Literal:
        return "choice"
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return "boolean"
        if issubclass(tp, enum.Enum):
            return "choice"
        if issubclass(tp, (int, float, decimal.Decimal)):
            return "number"
        if issubclass(tp, dt.datetime):
            return "datetime"
        if issubclass(tp, dt.date):
            return "date"
        if issubclass(tp, uuid.UUID):
            return "uuid"
        if issubclass(tp, str):
            return "text"
    return None


def convert_value(tp: Any, raw: str) -> Any:
    """Convert filter text to the field's type; ``ValueError`` with a message when it does not fit."""
    base = bare_type(tp)
    if base is bool or (isinstance(base, type) and issubclass(base, bool)):
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if isinstance(base, type) and issubclass(base, dt.datetime):
        try:
            value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected an ISO 8601 date-time") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31T23:59-01:00 is past the last datetime
            raise ValueError("date-time out of range") from None
    if isinstance(base, type) and issubclass(base, str):
        return raw  # constraints (length, pattern) do not apply to a search value
    try:
        return msgspec.convert(raw, base, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc).split(" - at ")[0]) from None
