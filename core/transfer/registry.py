"""What plugins add to import and export: CSV columns and export formats.

Filled at start-up through the ``register_transfer_columns`` and
``register_export_formats`` hooks, checked, tagged with their plugin, then frozen
(like entities and tabs). A contribution for an entity that is not registered (its
plugin is disabled) is left out, so a plugin can contribute to an optional neighbour.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from ..registry import Registry

if TYPE_CHECKING:
    from ..plugins import PluginHost

__all__ = ["BUILTIN_FORMATS", "ExportFormat", "TransferColumns", "TransferRegistry", "collect"]

#: The formats core writes for every entity (``?format=``).
BUILTIN_FORMATS = ("csv", "jsonl")
_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FORMAT = re.compile(r"^[a-z][a-z0-9]{0,9}$")


@dataclass(frozen=True, kw_only=True)
class TransferColumns:
    """CSV columns a plugin adds to an entity, written by export and read by import.

    ``names`` are the columns, in order. ``export(runtime, records)`` gets a batch of
    records (as the reader may see them: hidden fields are absent) and returns one list
    of cell texts per record, ``len(names)`` each; it may be async and runs a fixed
    number of queries per batch.

    ``parse(cells)`` gets ``{name: text}`` of those of its columns a file has (empty
    cells included) and returns the value to apply, or ``None`` for nothing; it raises
    ``ValueError`` (a problem with its first column) or ``ValidationFailed`` (field
    errors naming columns). ``apply(runtime=, access=, record=, value=, source=)``
    (async) applies a parsed value to the record just created or updated, inside the
    import's unit of work, with the importing actor's access (``access.actor``).

    ``reveals`` names the entity's read fields the columns show: a reader who cannot see
    one of them gets neither the columns nor their values. ``requires_entities``: other
    entities the columns need; without one of them the columns are left out.
    """

    entity: str
    names: tuple[str, ...]
    export: Callable[[Any, list[dict[str, Any]]], Awaitable[list[list[str]]] | list[list[str]]]
    parse: Callable[[dict[str, str]], Any] | None = None
    apply: Callable[..., Awaitable[None]] | None = None
    reveals: tuple[str, ...] = ()
    requires_entities: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ExportFormat:
    """An export format of one entity beyond core's ``csv`` and ``jsonl`` (``vcf``).

    ``name`` is the ``?format=`` value and the file extension; ``render(records)``
    turns a batch of records (as the reader may see them) into the text appended to the
    file, so the export stays streamed. ``head`` and ``tail`` are written once, before
    the first batch and after the last (a wrapper such as ``BEGIN:VCALENDAR``).
    """

    entity: str
    name: str
    media_type: str
    render: Callable[[list[dict[str, Any]]], str]
    head: str = ""
    tail: str = ""
    description: str = ""


@dataclass(frozen=True)
class TransferRegistry:
    columns: tuple[TransferColumns, ...] = ()
    formats: tuple[ExportFormat, ...] = ()

    def columns_for(self, entity: str) -> list[TransferColumns]:
        return [c for c in self.columns if c.entity == entity]

    def formats_for(self, entity: str) -> dict[str, ExportFormat]:
        return {f.name: f for f in self.formats if f.entity == entity}


def collect(host: PluginHost, registering: Callable[[Any, Any], None]) -> TransferRegistry:
    """Call both hooks of every plugin (``registering`` reports a failing plugin)."""
    from .columns import is_core_column  # the columns core derives, to refuse clashes

    columns: Registry[TransferColumns] = Registry("CSV column")
    kept: list[TransferColumns] = []
    for impl in host.pm.hook.register_transfer_columns.get_hookimpls():

        def add_columns(item: TransferColumns, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(item, TransferColumns):
                raise PluginError(f"plugin {_plugin!r} registered a non-TransferColumns: {item!r}")
            entity = host.entities.get(item.entity)
            if entity is None or any(e not in host.entities for e in item.requires_entities):
                return  # an entity it needs is disabled
            if not item.names:
                raise PluginError(f"plugin {_plugin!r}: TransferColumns without names")
            for name in item.names:
                if not _COLUMN.match(name) or is_core_column(entity, name):
                    raise PluginError(
                        f"plugin {_plugin!r}: CSV column {name!r} of {item.entity!r} must be a "
                        "lower-case identifier that is not already a column of the entity"
                    )
                columns.add(f"{item.entity}/{name}", item, _plugin)
            kept.append(item)

        registering(impl, add_columns)
    formats: Registry[ExportFormat] = Registry("export format")
    for impl in host.pm.hook.register_export_formats.get_hookimpls():

        def add_format(item: ExportFormat, _plugin: str = impl.plugin_name) -> None:
            if not isinstance(item, ExportFormat):
                raise PluginError(f"plugin {_plugin!r} registered a non-ExportFormat: {item!r}")
            if not _FORMAT.match(item.name) or item.name in BUILTIN_FORMATS:
                raise PluginError(
                    f"plugin {_plugin!r}: export format {item.name!r} must be a short lower-case "
                    f"name other than {', '.join(BUILTIN_FORMATS)}"
                )
            if item.entity in host.entities:
                formats.add(f"{item.entity}/{item.name}", item, _plugin)

        registering(impl, add_format)
    columns.freeze()
    formats.freeze()
    return TransferRegistry(columns=tuple(kept), formats=tuple(formats))
