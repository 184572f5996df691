"""Streamed export of an entity's records: CSV, JSON Lines, or a plugin's format.

Reads go through the reader's :class:`~crmkit.core.records.Records` service, a keyset
page of :data:`BATCH` records at a time (``next_cursor``), and each page becomes one
chunk of the file, so memory stays flat whatever the number of rows. Everything a
client can get wrong (format, filters, ``q``, sort) is checked by :func:`prepare`,
before the first byte is sent: a bad request is a 400, never a broken download.

CSV is UTF-8 with a byte-order mark (Excel reads non-ASCII names wrongly without it;
Python reads it with ``encoding="utf-8-sig"``), ``\\r\\n`` line ends (RFC 4180), a
header row, then the columns of ``columns.py``. JSON Lines is one record per line in
the API's read shape.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from ..db.sql import QueryString, join, sql
from ..errors import BadRequest, FieldError
from ..query.compile import compile_list
from ..query.params import ListParams, SortKey, parse_list_params
from .columns import ColumnModel, column_model
from .registry import BUILTIN_FORMATS, ExportFormat

if TYPE_CHECKING:
    from ..access import Access
    from ..entity import EntityType
    from ..records import Records
    from ..runtime import Runtime

__all__ = ["BATCH", "BOM", "Export", "formats", "prepare"]

#: Records per read (and per chunk of the file).
BATCH = 1000
BOM = "\ufeff"
#: Query parameters of an export that are not list filters.
EXPORT_PARAMS = frozenset({"format", "saved"})
_MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def formats(runtime: Runtime, entity: EntityType) -> dict[str, str]:
    """The export formats of ``entity``: name -> media type."""
    out = dict(_MEDIA_TYPES)
    for name, fmt in runtime.plugins.transfer.formats_for(entity.name).items():
        out[name] = fmt.media_type
    return out


@dataclass
class Export:
    """One prepared export: iterate :meth:`chunks` (bytes) or :meth:`batches`."""

    records: Records
    params: ListParams
    format: str
    media_type: str
    #: Rows the export will write (at the time it was prepared).
    total: int
    model: ColumnModel | None = None
    plugin_format: ExportFormat | None = None
    limit: int | None = None
    #: Conditions added to every read.
    extra: list[QueryString] = field(default_factory=list)
    _encoder: msgspec.json.Encoder = field(default_factory=msgspec.json.Encoder)

    @property
    def filename(self) -> str:
        today = dt.datetime.now(dt.UTC).date().isoformat()
        return f"{self.records.entity.plural}-{today}.{self.format}"

    async def _pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        params = self.params
        left = self.limit
        while left is None or left > 0:
            params.limit = BATCH if left is None else min(BATCH, left)
            page = await self.records.list(params, extra=self.extra)
            if page.data:
                yield page.data
            if left is not None:
                left -= len(page.data)
            if page.next_cursor is None:
                return
            params.cursor = page.next_cursor

    def _head(self) -> bytes:
        if self.model is not None:
            return (BOM + _csv_text([self.model.header])).encode()
        return self.plugin_format.head.encode() if self.plugin_format is not None else b""

    def _tail(self) -> bytes:
        return self.plugin_format.tail.encode() if self.plugin_format is not None else b""

    async def _render(self, batch: list[dict[str, Any]]) -> bytes:
        if self.model is not None:
            return _csv_text(await self.model.to_rows(batch)).encode()
        if self.plugin_format is not None:
            return self.plugin_format.render(batch).encode()
        to_read, encode = self.records.to_read, self._encoder.encode
        return b"".join(encode(to_read(record)) + b"\n" for record in batch)

    async def batches(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(records, bytes)`` per batch; a head (the CSV header) comes first and a
        format's tail last, each as ``(0, ...)``."""
        head = self._head()
        if head:
            yield 0, head
        async for batch in self._pages():
            yield len(batch), await self._render(batch)
        tail = self._tail()
        if tail:
            yield 0, tail

    async def chunks(self) -> AsyncIterator[bytes]:
        async for _, data in self.batches():
            yield data


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _array_length(runtime: Runtime, column: str) -> str:
    if runtime.db.kind == "postgres":
        value = f"t.{column}::jsonb"
        return f"CASE WHEN jsonb_typeof({value}) = 'array' THEN jsonb_array_length({value}) END"
    return f"CASE WHEN json_type(t.{column}) = 'array' THEN json_array_length(t.{column}) END"


async def _stats(
    records: Records, params: ListParams, lists: list[str], extra: list[QueryString]
) -> tuple[int, dict[str, int]]:
    """How many records match, and the longest list of each list field among them.

    Compiling the list here is what checks the filters, ``q`` and sort (a 400).
    """
    runtime = records.runtime
    await runtime.custom_fields.ensure()
    scope = records._scope()
    compiled = compile_list(
        runtime.db,
        records.entity,
        params,
        custom_types=runtime.custom_types,
        extra=[*extra, *([scope] if scope is not None else [])],
        runtime=runtime,
        hidden=records.entity.hidden_columns(records.hidden),
    )
    parts: list[QueryString] = [sql("COUNT(*) AS n")]
    parts += [sql(f'MAX({_array_length(runtime, name)}) AS "{name}"') for name in lists]
    row = await runtime.db.fetchrow(
        sql(f"SELECT {{}} FROM {records.table} AS t WHERE {{}}", join(parts, ", "), compiled.where)
    )
    row = row or {}
    return int(row.get("n") or 0), {name: int(row.get(name) or 0) for name in lists}


def _bad_format(name: str, known: Iterable[str]) -> BadRequest:
    allowed = ", ".join(known)
    return BadRequest(
        f"format {name!r} is not an export format of this entity (one of: {allowed})",
        errors=[FieldError("format", f"must be one of: {allowed}")],
    )


async def _saved_params(
    runtime: Runtime, entity: EntityType, access: Access | None, ref: str, own: ListParams
) -> ListParams:
    """A saved search's parameters, with the request's own filters added (AND) and its
    ``q``, ``sort`` and ``include_deleted`` in place of the saved ones when given."""
    from ..saved_searches import find_saved_search
    from ..saved_searches import params as saved_params

    saved = await find_saved_search(runtime, ref, access, entity=entity.name)
    params = saved_params(saved, limit=BATCH)
    params.conditions = [*params.conditions, *own.conditions]
    if own.q:
        params.q = own.q
    if own.sort:
        params.sort = own.sort
    params.include_deleted = own.include_deleted
    return params


async def prepare(
    runtime: Runtime,
    entity: EntityType,
    access: Access | None,
    items: Iterable[tuple[str, str]],
    *,
    format: str = "csv",
    saved: str | None = None,
) -> Export:
    """Check an export request and get it ready to stream.

    ``items`` are the list's query parameters (filters, ``q``, ``sort``,
    ``include_deleted``; ``limit`` caps the number of rows; ``format`` and ``saved``
    are skipped); ``cursor`` and ``count`` make no sense here: a 400. ``saved`` names
    a saved search of the entity (id, or name) that ``access`` may see; ``items`` add
    to it. Without a ``sort`` (here or saved) records come in ``id`` order: the one
    order whose pages cost the same all the way through a big table (a sort on other
    columns pages through the OR of a keyset, which no index seeks to).
    """
    known = formats(runtime, entity)
    if format not in known:
        raise _bad_format(format, known)
    items = [(k, v) for k, v in items if k not in EXPORT_PARAMS]
    for name in ("cursor", "count"):
        if any(k == name for k, _ in items):
            raise BadRequest(
                f"{name} is not a parameter of an export",
                errors=[FieldError(name, "not a parameter of an export")],
            )
    limited = any(k == "limit" for k, _ in items)
    params = parse_list_params(items, default_limit=BATCH, max_limit=10**9)
    limit = params.limit if limited else None
    if saved is not None:
        params = await _saved_params(runtime, entity, access, saved, params)
    if not params.sort:  # index order: each page costs the same, however far in
        params.sort = [SortKey("id")]
    extra: list[QueryString] = []
    records = runtime.records(entity, access)
    model = None
    lists: list[str] = []
    if format == "csv":
        model = await column_model(runtime, entity, access)
        lists = model.list_fields
    total, sizes = await _stats(records, params, lists, extra)
    if model is not None:
        model.sizes = sizes
    plugin_format = None
    if format not in BUILTIN_FORMATS:
        plugin_format = runtime.plugins.transfer.formats_for(entity.name)[format]
    return Export(
        records=records,
        params=params,
        format=format,
        media_type=known[format],
        total=min(total, limit) if limit is not None else total,
        model=model,
        plugin_format=plugin_format,
        limit=limit,
        extra=extra,
    )
