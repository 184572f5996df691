"""The CSV column model of an entity: what export writes and import reads back.

Columns, in order: ``id``; then each writable field in declaration order (see
``kinds.py``: scalars by name, ``email_1``/``email_1_label``/... for lists of structs,
``tags`` joined with ``;``), with ``custom.<key>`` for each live custom field where
``custom`` is; then the columns plugins add (``organization``, ``organization_role``).
Cell texts are those of ``cells.py``. A field the reader may not see has no column.

Two-way::

    model = await column_model(runtime, entity, access, sizes={"emails": 3})
    writer.writerow(model.header)
    writer.writerows(await model.to_rows(records))      # a batch of records

    parsed = model.from_row(header, row)                # one row of a file
    parsed.values   # a body shaped like entity.create_type (validate it with that type)
    parsed.errors   # FieldErrors naming columns (``email_2``, ``custom.budget``)
    parsed.extra    # plugin columns' parsed values: ``await model.apply(record, parsed.extra)``
    parsed.id       # the ``id`` column, if any (to update an existing record)

``from_row`` semantics: a column absent from the header leaves its field out of
``values`` (a default applies on create; nothing changes on update); an empty cell
is ``None`` for a field that may be null, is left out for a field with a default, and
an error for a required one. An empty list column (``tags``, every ``email_*``) is
``[]``. An empty ``custom.<key>`` cell is left out of ``custom`` (its default applies).
Header names are matched trimmed and case-insensitively (a leading BOM is dropped);
a repeated name counts once (the first); ``unknown(header)`` lists names that are
not columns of this model (for the importer to report once).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..awaitables import await_me_maybe
from ..errors import FieldError, PluginError, ValidationFailed
from ..fields import FieldType
from .cells import format_cell, parse_bool, parse_money, split_list
from .kinds import (
    FieldColumns,
    JsonColumn,
    ScalarColumn,
    ScalarListColumn,
    StructListColumns,
    Writer,
    derive,
)
from .registry import TransferColumns

if TYPE_CHECKING:
    from ..access import Access
    from ..entity import EntityType
    from ..runtime import Runtime

__all__ = ["ID", "ColumnModel", "CustomColumn", "ParsedRow", "column_model", "is_core_column"]

#: The record's id: written first, read back to find the record to update.
ID = "id"
_INTEGER = re.compile(r"^[-+]?\d+$")


class ParsedRow(NamedTuple):
    """One row of a file, read (see the module docstring)."""

    values: dict[str, Any]
    errors: list[FieldError]
    extra: dict[str, Any]
    id: uuid.UUID | None


@dataclass
class CustomColumn:
    """``custom.<key>``: the stored value as text and back, by the field's type.

    A field type may define ``to_text(value) -> str`` and ``from_text(text) -> value``
    (a value its ``convert`` takes); otherwise the type's ``storage`` decides: arrays
    are joined with ``;``, booleans are ``true``/``false``, a number with a JSON
    sub-path (``currency``) is ``12.5 EUR``, other numbers are decimals, the rest text.
    """

    key: str
    definition: Any
    ftype: FieldType

    @property
    def name(self) -> str:
        return f"custom.{self.key}"

    def cell(self, value: Any) -> str:
        to_text = getattr(self.ftype, "to_text", None)
        if to_text is not None and value is not None:
            return str(to_text(value))
        return format_cell(value)

    def _value(self, text: str) -> Any:
        from_text = getattr(self.ftype, "from_text", None)
        if from_text is not None:
            return from_text(text)
        storage = self.ftype.storage
        if storage == "array":
            return split_list(text)
        if storage == "boolean":
            return parse_bool(text)
        if storage == "number":
            if getattr(self.ftype, "storage_path", None):
                return parse_money(text)
            text = text.strip()
            return int(text) if _INTEGER.match(text) else text
        return text

    def parse(self, text: str) -> Any:
        """The value as stored (``ValueError`` with the type's message when invalid)."""
        return self.ftype.to_storage(self.ftype.convert(self._value(text), self.definition))


@dataclass
class _Plan:
    """Where each known column of one header is (computed once per header)."""

    id: int | None
    scalars: list[tuple[int, ScalarColumn | ScalarListColumn | JsonColumn]]
    lists: list[tuple[StructListColumns, dict[int, dict[str, int]]]]
    custom: list[tuple[int, CustomColumn]] | None
    plugins: list[tuple[TransferColumns, dict[str, int]]]
    unknown: list[str]


def _clean(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


class ColumnModel:
    """The columns of one entity for one reader (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        entity: EntityType,
        access: Access | None,
        fields: list[FieldColumns],
        custom: list[CustomColumn] | None,
        plugins: list[TransferColumns],
        sizes: dict[str, int],
    ) -> None:
        self.runtime = runtime
        self.entity = entity
        self.access = access
        self.fields = fields
        #: ``None`` when the entity has no ``custom`` (or the reader may not see it).
        self.custom = custom
        self.plugins = plugins
        self.sizes = sizes
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._writing: tuple[tuple[Any, ...], list[Writer]] | None = None

    # -- the header --------------------------------------------------------------------

    @property
    def list_fields(self) -> list[str]:
        """Fields whose number of columns depends on the longest list (``emails``)."""
        return [f.name for f in self.fields if isinstance(f, StructListColumns)]

    def _size(self, f: FieldColumns) -> int:
        return max(1, self.sizes.get(f.name, 1)) if isinstance(f, StructListColumns) else 1

    def _order(self) -> list[FieldColumns | list[CustomColumn]]:
        """Fields and the custom columns (as one item) in declaration order."""
        by_name = {f.name: f for f in self.fields}
        items: list[FieldColumns | list[CustomColumn]] = []
        for name in self.entity.writable:
            if name == "custom":
                if self.custom is not None:
                    items.append(self.custom)
            elif name in by_name:
                items.append(by_name[name])
        return items

    @property
    def header(self) -> list[str]:
        names = [ID]
        for item in self._order():
            if isinstance(item, list):
                names.extend(c.name for c in item)
            else:
                names.extend(item.names(self._size(item)))
        for columns in self.plugins:
            names.extend(columns.names)
        return names

    # -- export ------------------------------------------------------------------------

    async def to_rows(self, records: list[dict[str, Any]]) -> list[list[str]]:
        """The cells of a batch of records, in :attr:`header` order."""
        extra: list[list[list[str]]] = []
        for columns in self.plugins:
            cells = await await_me_maybe(columns.export(self.runtime, records))
            if len(cells) != len(records) or any(len(c) != len(columns.names) for c in cells):
                raise PluginError(
                    f"CSV columns {', '.join(columns.names)}: export must return one list of "
                    f"{len(columns.names)} cells per record"
                )
            extra.append(cells)
        write = self._writers()
        rows = []
        for i, record in enumerate(records):
            row: list[str] = []
            for fn in write:
                fn(record, row)
            for cells in extra:
                row.extend(cells[i])
            rows.append(row)
        return rows

    def _writers(self) -> list[Writer]:
        """One cell writer per field (made once per set of list sizes)."""
        key = tuple(sorted(self.sizes.items()))
        if self._writing is not None and self._writing[0] == key:
            return self._writing[1]

        def write_id(record: dict[str, Any], row: list[str]) -> None:
            row.append(format_cell(record.get(ID)))

        writers: list[Writer] = [write_id]
        for item in self._order():
            if isinstance(item, list):
                writers.append(_custom_writer(item))
            else:
                writers.append(item.writer(self._size(item)))
        self._writing = (key, writers)
        return writers

    # -- import ------------------------------------------------------------------------

    def _plan(self, header: Sequence[str]) -> _Plan:
        key = tuple(header)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        by_name = {f.name: f for f in self.fields if not isinstance(f, StructListColumns)}
        structs = [f for f in self.fields if isinstance(f, StructListColumns)]
        custom = {c.name: c for c in self.custom or ()}
        plugin_of = {name: p for p in self.plugins for name in p.names}
        plan = _Plan(
            id=None,
            scalars=[],
            lists=[],
            custom=[],
            plugins=[],
            unknown=[],
        )
        seen: set[str] = set()
        list_cells: dict[str, dict[int, dict[str, int]]] = {}
        plugin_cells: dict[int, dict[str, int]] = {}
        for j, raw in enumerate(header):
            name = _clean(raw)
            if name in seen:
                continue
            seen.add(name)
            if name == ID:
                plan.id = j
            elif name in by_name:
                plan.scalars.append((j, by_name[name]))  # type: ignore[arg-type]
            elif name in custom:
                plan.custom.append((j, custom[name]))  # type: ignore[union-attr]
            elif name in plugin_of:
                plugin_cells.setdefault(id(plugin_of[name]), {})[name] = j
            else:
                for f in structs:
                    found = f.match(name)
                    if found is not None:
                        index, sub = found
                        list_cells.setdefault(f.name, {}).setdefault(index, {})[sub] = j
                        break
                else:
                    plan.unknown.append(raw)
        plan.custom = plan.custom or None  # no custom column: ``custom`` is left out
        plan.lists = [(f, list_cells[f.name]) for f in structs if f.name in list_cells]
        plan.plugins = [(p, plugin_cells[id(p)]) for p in self.plugins if id(p) in plugin_cells]
        if len(self._plans) < 16:
            self._plans[key] = plan
        return plan

    def unknown(self, header: Sequence[str]) -> list[str]:
        """The names in ``header`` that are not columns of this model."""
        return list(self._plan(header).unknown)

    def from_row(self, header: Sequence[str], row: Sequence[str]) -> ParsedRow:
        """One row of a file with this ``header`` (see the module docstring)."""
        plan = self._plan(header)

        def cell(j: int) -> str:
            return row[j] if j < len(row) and row[j] is not None else ""

        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        record_id = None
        if plan.id is not None and cell(plan.id).strip():
            try:
                record_id = uuid.UUID(cell(plan.id).strip())
            except ValueError:
                errors.append(FieldError(ID, "expected a UUID"))
        for j, f in plan.scalars:
            f.parse(cell(j), values, errors)
        for f, indexes in plan.lists:
            texts = {i: {sub: cell(j) for sub, j in subs.items()} for i, subs in indexes.items()}
            f.parse(texts, values, errors)
        if plan.custom is not None:
            custom: dict[str, Any] = {}
            for j, c in plan.custom:
                text = cell(j)
                if text.strip() == "":
                    continue
                try:
                    custom[c.key] = c.parse(text)
                except ValueError as exc:
                    errors.append(FieldError(c.name, str(exc)))
            values["custom"] = custom
        extra: dict[str, Any] = {}
        for columns, where in plan.plugins:
            if columns.parse is None:
                continue
            try:
                value = columns.parse({name: cell(j) for name, j in where.items()})
            except ValidationFailed as exc:
                errors.extend(exc.errors)
                continue
            except ValueError as exc:
                errors.append(FieldError(next(iter(where)), str(exc)))
                continue
            if value is not None:
                extra[columns.names[0]] = value
        ordered = {n: values[n] for n in self.entity.writable if n in values}
        return ParsedRow(values=ordered, errors=errors, extra=extra, id=record_id)

    async def apply(
        self, record: dict[str, Any], extra: dict[str, Any], *, source: str = "import"
    ) -> None:
        """Apply the plugin columns' values of a row to the record just written.

        Call it inside the import's unit of work, after the create or update.
        """
        from ..access import Access

        access = self.access or Access.full()
        for columns in self.plugins:
            key = columns.names[0]
            if key in extra and columns.apply is not None:
                await columns.apply(
                    runtime=self.runtime,
                    access=access,
                    record=record,
                    value=extra[key],
                    source=source,
                )


def _custom_writer(columns: list[CustomColumn]) -> Writer:
    cells = [(c.key, c.cell) for c in columns]

    def write(record: dict[str, Any], row: list[str]) -> None:
        custom = record.get("custom") or {}
        for key, cell in cells:
            value = custom.get(key)
            row.append("" if value is None else cell(value))

    return write


def is_core_column(entity: EntityType, name: str) -> bool:
    """Whether ``name`` is (or has the form of) a column core derives for ``entity``."""
    if name == ID or name.startswith("custom."):
        return True
    for f in derive(entity):
        if name == f.name:
            return True
        if isinstance(f, StructListColumns) and (
            f.match(name) is not None or name == f.singular or name.startswith(f"{f.singular}_")
        ):
            return True
    return False


async def column_model(
    runtime: Runtime,
    entity: EntityType,
    access: Access | None = None,
    *,
    sizes: dict[str, int] | None = None,
) -> ColumnModel:
    """The columns of ``entity`` that ``access`` may see (all without one).

    ``sizes`` gives the number of items of each list field to write columns for
    (``{"emails": 3}``: ``email_1`` .. ``email_3``; at least one each); import reads
    whatever indexes a file has.
    """
    hidden = access.hidden(entity.name) if access is not None else frozenset()
    fields = [f for f in derive(entity) if f.name not in hidden]
    custom: list[CustomColumn] | None = None
    if "custom" in entity.writable and "custom" not in hidden:
        custom = []
        definitions = (await runtime.custom_fields.ensure()).get(entity.name, {})
        for key, definition in definitions.items():
            ftype = runtime.custom_fields.field_type(definition)
            if definition.archived or ftype is None or f"custom.{key}" in hidden:
                continue
            custom.append(CustomColumn(key, definition, ftype))
    plugins = [
        c for c in runtime.plugins.transfer.columns_for(entity.name) if not set(c.reveals) & hidden
    ]
    return ColumnModel(runtime, entity, access, fields, custom, plugins, dict(sizes or {}))
