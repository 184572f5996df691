"""The CSV columns of one field, derived from its type: how it is written and read back.

``derive(entity)`` gives one :class:`FieldColumns` per writable field (``custom`` aside,
whose columns come from the live definitions): scalars are one column by name; a list
of scalars is one column joined with ``;``; a list of structs is flattened with a
1-based index (``email_1`` for the struct's main field, ``email_1_label`` for the
others; the first item is the primary one); anything else is one column of JSON.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect as mi

from ..errors import FieldError
from ..query.types import bare_type
from .cells import format_cell, join_list, parse_bool, split_list

if TYPE_CHECKING:
    from ..entity import EntityType

__all__ = [
    "FieldColumns",
    "JsonColumn",
    "ScalarColumn",
    "ScalarListColumn",
    "StructListColumns",
    "Writer",
    "derive",
    "singular",
]

_SCALARS = (
    mi.StrType,
    mi.LiteralType,
    mi.IntType,
    mi.FloatType,
    mi.DecimalType,
    mi.BoolType,
    mi.DateType,
    mi.DateTimeType,
    mi.TimeType,
    mi.UUIDType,
    mi.EnumType,
)
#: Appends the cells of one record to a row.
Writer = Callable[[dict[str, Any], list[str]], None]
_LISTS = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)
_MESSAGES: dict[type, str] = {
    mi.IntType: "expected a whole number",
    mi.FloatType: "expected a number",
    mi.DecimalType: "expected a number",
    mi.DateType: "expected a date (YYYY-MM-DD)",
    mi.DateTimeType: "expected an ISO 8601 date-time",
    mi.TimeType: "expected a time (HH:MM[:SS])",
    mi.UUIDType: "expected a UUID",
}


def singular(name: str) -> str:
    """``emails`` -> ``email``, ``addresses`` -> ``address``, ``companies`` -> ``company``."""
    if name.endswith(("sses", "shes", "ches", "xes", "zes")):
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _unwrap(info: mi.Type) -> tuple[mi.Type, bool]:
    """The type without ``None`` (a union of one other type), and whether ``None`` is allowed."""
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        nullable = len(others) < len(info.types)
        return (others[0] if len(others) == 1 else info), nullable
    return info, isinstance(info, mi.NoneType | mi.AnyType)


class Converter:
    """Cell text to a value of one type (checked, with a readable message)."""

    def __init__(self, tp: Any) -> None:
        self.tp = tp
        self.info, self.nullable = _unwrap(mi.type_info(tp))

    def __call__(self, text: str) -> Any:
        if isinstance(self.info, mi.BoolType):
            return parse_bool(text)
        try:
            return msgspec.convert(text, self.tp, strict=False)
        except msgspec.ValidationError as exc:
            message = _MESSAGES.get(type(self.info))
            if message is None and isinstance(self.info, mi.LiteralType):
                message = f"must be one of: {', '.join(map(str, self.info.values))}"
            raise ValueError(message or str(exc).split(" - at ")[0]) from None


class FieldColumns:
    """The columns of one writable field."""

    name: str

    def names(self, size: int) -> list[str]:
        raise NotImplementedError

    def cells(self, value: Any, size: int) -> list[str]:
        raise NotImplementedError

    def writer(self, size: int) -> Writer:
        """A function appending the cells of a record to a row (the export's hot loop)."""
        name, cells = self.name, self.cells

        def write(record: dict[str, Any], row: list[str]) -> None:
            row.extend(cells(record.get(name), size))

        return write


@dataclass
class ScalarColumn(FieldColumns):
    name: str
    convert: Converter
    #: No default: an empty cell is a missing value, not "leave it as it is".
    required: bool

    def names(self, size: int) -> list[str]:
        return [self.name]

    def cells(self, value: Any, size: int) -> list[str]:
        return [format_cell(value)]

    def writer(self, size: int) -> Writer:
        name = self.name

        def write(record: dict[str, Any], row: list[str]) -> None:
            value = record.get(name)
            if value is None:
                row.append("")
            else:
                row.append(value if value.__class__ is str else format_cell(value))

        return write

    def parse(self, text: str, out: dict[str, Any], errors: list[FieldError]) -> None:
        if text == "":
            if self.convert.nullable:
                out[self.name] = None
            elif self.required:
                errors.append(FieldError(self.name, "required"))
            return  # the default applies
        try:
            out[self.name] = self.convert(text)
        except ValueError as exc:
            errors.append(FieldError(self.name, str(exc)))


@dataclass
class ScalarListColumn(FieldColumns):
    name: str
    item: Converter

    def names(self, size: int) -> list[str]:
        return [self.name]

    def cells(self, value: Any, size: int) -> list[str]:
        return [join_list(format_cell(v) for v in value or ())]

    def parse(self, text: str, out: dict[str, Any], errors: list[FieldError]) -> None:
        items = []
        for part in split_list(text):
            try:
                items.append(self.item(part))
            except ValueError as exc:
                errors.append(FieldError(self.name, f"{part!r}: {exc}"))
        out[self.name] = items


@dataclass
class JsonColumn(FieldColumns):
    """A value with no flat form (an object): its JSON text."""

    name: str
    tp: Any
    nullable: bool

    def names(self, size: int) -> list[str]:
        return [self.name]

    def cells(self, value: Any, size: int) -> list[str]:
        return ["" if value is None else msgspec.json.encode(value).decode()]

    def parse(self, text: str, out: dict[str, Any], errors: list[FieldError]) -> None:
        if text == "":
            if self.nullable:
                out[self.name] = None
            return
        try:
            out[self.name] = msgspec.json.decode(text)
        except msgspec.DecodeError:
            errors.append(FieldError(self.name, "expected JSON"))


@dataclass
class StructListColumns(FieldColumns):
    """``emails`` as ``email_1``, ``email_1_label``, ``email_2``, ... (first is primary)."""

    name: str
    singular: str
    #: The struct's main field (its first required string), written without a suffix.
    main: str | None
    subs: list[str]
    converters: dict[str, Converter]
    #: The struct has a ``primary`` flag, expressed by order instead of a column.
    primary: bool = False

    def column(self, index: int, sub: str) -> str:
        return f"{self.singular}_{index}" if sub == self.main else f"{self.singular}_{index}_{sub}"

    def names(self, size: int) -> list[str]:
        fields = ([self.main] if self.main else []) + self.subs
        return [self.column(i, sub) for i in range(1, size + 1) for sub in fields]

    def ordered(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.primary and items and not items[0].get("primary"):
            first = next((i for i in items if i.get("primary")), None)
            if first is not None:
                return [first, *(i for i in items if i is not first)]
        return items

    def cells(self, value: Any, size: int) -> list[str]:
        row: list[str] = []
        self.writer(size)({self.name: value}, row)
        return row

    def writer(self, size: int) -> Writer:
        name, ordered = self.name, self.ordered
        fields = ([self.main] if self.main else []) + self.subs
        blank = [""] * len(fields)

        def write(record: dict[str, Any], row: list[str]) -> None:
            items = record.get(name) or ()
            if items and self.primary and not items[0].get("primary"):
                items = ordered(list(items))
            for item in items[:size]:
                for sub in fields:
                    value = item.get(sub)
                    if value is None:
                        row.append("")
                    else:
                        row.append(value if value.__class__ is str else format_cell(value))
            for _ in range(size - min(len(items), size)):
                row.extend(blank)

        return write

    def match(self, column: str) -> tuple[int, str] | None:
        """``(index, sub-field)`` of a column of this field (``email_2_label``), or None."""
        prefix = f"{self.singular}_"
        if not column.startswith(prefix):
            return None
        number, _, sub = column[len(prefix) :].partition("_")
        if not number.isdigit() or number.startswith("0"):
            return None
        if not sub:
            sub = self.main or ""
        if sub != self.main and sub not in self.subs:
            return None
        return int(number), sub

    def parse(
        self, cells: dict[int, dict[str, str]], out: dict[str, Any], errors: list[FieldError]
    ) -> None:
        items: list[dict[str, Any]] = []
        for index in sorted(cells):
            given = {sub: text for sub, text in cells[index].items() if text != ""}
            if not given:
                continue
            item: dict[str, Any] = {}
            if self.main is not None and self.main not in given:
                others = ", ".join(self.column(index, s) for s in given)
                errors.append(
                    FieldError(self.column(index, self.main), f"required when {others} is set")
                )
                continue
            for sub, text in given.items():
                try:
                    item[sub] = self.converters[sub](text)
                except ValueError as exc:
                    errors.append(FieldError(self.column(index, sub), str(exc)))
            items.append(item)
        if self.primary:
            for i, item in enumerate(items):
                item["primary"] = i == 0
        out[self.name] = items


def _struct_list(name: str, struct: mi.StructType) -> StructListColumns | None:
    hints = typing.get_type_hints(struct.cls, include_extras=True)
    main = None
    subs: list[str] = []
    converters: dict[str, Converter] = {}
    primary = False
    for f in struct.fields:
        inner, _ = _unwrap(f.type)
        if f.name == "primary" and isinstance(inner, mi.BoolType):
            primary = True
            continue
        if not isinstance(inner, _SCALARS):
            return None  # a nested object: the whole list goes as JSON
        converters[f.name] = Converter(hints[f.name])
        if main is None and f.required and isinstance(inner, mi.StrType):
            main = f.name
        else:
            subs.append(f.name)
    return StructListColumns(
        name=name,
        singular=singular(name),
        main=main,
        subs=subs,
        converters=converters,
        primary=primary,
    )


def derive(entity: EntityType) -> list[FieldColumns]:
    """The columns of each writable field of ``entity`` but ``custom``, in field order."""
    required = entity.required
    out: list[FieldColumns] = []
    for name, tp in entity.writable.items():
        if name == "custom":
            continue
        info, nullable = _unwrap(mi.type_info(tp))
        if isinstance(info, _SCALARS):
            out.append(ScalarColumn(name, Converter(tp), required=name in required))
            continue
        if isinstance(info, _LISTS):
            item = info.item_type
            item_inner, _ = _unwrap(item)
            if isinstance(item_inner, _SCALARS):
                item_tp = typing.get_args(bare_type(tp))[0]
                out.append(ScalarListColumn(name, Converter(item_tp)))
                continue
            if isinstance(item_inner, mi.StructType):
                columns = _struct_list(name, item_inner)
                if columns is not None:
                    out.append(columns)
                    continue
        out.append(JsonColumn(name, tp, nullable))
    return out
