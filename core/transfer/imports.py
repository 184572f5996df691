"""Importing a file of records: CSV, JSON Lines or vCard, as a recorded, revertible job.

``await Importer(runtime, entity, access, options, actor=actor).run(file)`` reads the
file as a stream (``sources.py``, ``vcards.py``), and writes its rows in chunks, each
chunk in one unit of work (``runtime.write()``) with the job's items and counts. Every
row goes through the same checks as ``POST /api/v1/<plural>``: the create type, the
``before_save`` hooks (normalisation, custom fields, the entity's duplicate rules), the
actor's field permissions; every change has its activity entry, with source
``import`` and ``{"import_id": ..., "row": n}`` in its data.

* A row with errors is not written; the others are. Each row runs in a savepoint, so
  a row refused half-way (a plugin column that fails after the record was created, a
  value the database refuses) leaves nothing behind and the chunk goes on.
* ``atomic``: the whole file in one unit of work; any row error rolls everything back
  (status ``rolled_back``, every error still listed).
* ``dry_run``: the same, always rolled back: every row is checked, duplicate-checked
  (against the rows before it too) and counted as a real run would, nothing is kept,
  and no job is recorded.
* ``on_duplicate``: what to do with a row the entity's ``before_save`` refuses as a
  likely duplicate (a 409 with ``duplicates``), or whose ``id`` column names a record
  that exists: ``skip`` it; ``update`` that record (the best candidate); or ``create``
  it anyway (the duplicate check is skipped; an ``id`` that is taken gets a new one).
  An update changes only the fields the row gives: blank cells and nulls never clear
  a value, custom fields are merged key by key, a list given (``email_1``...) replaces
  the record's list. A row whose update changes nothing counts as skipped.

When ``on_duplicate=create``, rows are created in batches (``batch.py``): about 1.4 to
1.5 times the rate of one ``create`` per row.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import msgspec

from ..db.sql import sql
from ..errors import BadRequest, Conflict, CrmError, FieldError, NotFound
from ..events import Actor
from .batch import create_many, savepoint
from .columns import column_model
from .jobs import MAX_ERRORS, ImportReport, Item, RowError, finish_job, record_chunk, start_job
from .presets import preset
from .sources import ColumnMapping, CsvSource, JsonlSource, Source, SourceRow, column_path
from .vcards import VcardSource, card_reader

if TYPE_CHECKING:
    from ..access import Access
    from ..entity import EntityType
    from ..runtime import Runtime
    from .columns import ColumnModel

__all__ = ["CHUNK", "FORMATS", "ON_DUPLICATE", "ImportOptions", "Importer", "Progress"]

FORMATS = ("csv", "jsonl", "vcf")
ON_DUPLICATE = ("skip", "update", "create")
#: Rows per unit of work (one transaction each, unless atomic or a dry run).
CHUNK = 500
#: Rows written before the first ``ANALYZE`` of an import (PostgreSQL; see ``_analyze``).
ANALYZE_AT = 1000
#: ``progress(rows_done, bytes_read)`` after each chunk.
Progress = Callable[[int, int], None]


@dataclass
class ImportOptions:
    """How to read and write one file (the query parameters of the import route)."""

    format: str = "csv"
    on_duplicate: str = "skip"
    dry_run: bool = False
    atomic: bool = False
    mapping: ColumnMapping = field(default_factory=dict)
    preset: str | None = None
    encoding: str = "utf-8"
    filename: str | None = None
    chunk_size: int = CHUNK

    def check(self) -> None:
        errors = []
        if self.format not in FORMATS:
            errors.append(FieldError("format", f"must be one of: {', '.join(FORMATS)}"))
        if self.on_duplicate not in ON_DUPLICATE:
            errors.append(FieldError("on_duplicate", f"must be one of: {', '.join(ON_DUPLICATE)}"))
        if not 1 <= self.chunk_size <= 10_000:
            errors.append(FieldError("chunk_size", "must be between 1 and 10000"))
        if errors:
            raise BadRequest("invalid import options", errors=errors)

    def recorded(self) -> dict[str, Any]:
        """What the job keeps of them."""
        return {
            "on_duplicate": self.on_duplicate,
            "atomic": self.atomic,
            "mapping": self.mapping,
            "preset": self.preset,
            "encoding": self.encoding,
            "filename": self.filename,
        }


class _Rollback(Exception):
    """Leaves the unit of work of a dry run (or a failed atomic import) undone."""


@dataclass
class _Outcome:
    action: str  # created | updated | skipped | error
    record_id: uuid.UUID | None = None
    version: int = 0
    before: dict[str, Any] | None = None
    errors: list[FieldError] = field(default_factory=list)


def _take(rows: Iterator[SourceRow], size: int) -> list[SourceRow]:
    return list(itertools.islice(rows, size))


class Importer:
    """One import of one file (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        entity: EntityType,
        access: Access | None,
        options: ImportOptions,
        *,
        actor: Actor,
        progress: Progress | None = None,
    ) -> None:
        self.runtime = runtime
        self.entity = entity
        self.access = access
        self.options = options
        self.actor = actor
        self.progress = progress
        self.records = runtime.records(entity, access)
        self.job_id = uuid.uuid4()
        self.model: ColumnModel | None = None
        self._analyze_at = ANALYZE_AT

    # -- the run -------------------------------------------------------------------------

    async def run(self, binary: IO[bytes]) -> ImportReport:
        """Import the file; problems with the file as a whole raise before anything is
        written (400/403), problems with rows are in the report."""
        options = self.options
        options.check()
        self._require()
        source = await self._source(binary)
        try:
            return await self._run(source)
        finally:
            source.close()

    async def _run(self, source: Source) -> ImportReport:
        options = self.options
        report = ImportReport(
            id=None if options.dry_run else self.job_id,
            entity=self.entity.name,
            format=options.format,
            status="running",
            dry_run=options.dry_run,
            atomic=options.atomic,
            on_duplicate=options.on_duplicate,
        )
        if not options.dry_run:
            await start_job(
                self.runtime,
                job_id=self.job_id,
                entity=self.entity.name,
                format=options.format,
                options=options.recorded(),
                actor=self.actor,
            )
        try:
            status = await self._process(source, report)
        except BaseException as exc:
            if not options.dry_run:
                report.unknown_columns = list(source.unknown)
                detail = str(exc.detail if isinstance(exc, CrmError) else type(exc).__name__)
                try:
                    await finish_job(
                        self.runtime, self.job_id, report, status="failed", detail=detail
                    )
                except Exception:  # the original error matters more
                    pass
            raise
        report.status = status
        report.unknown_columns = list(source.unknown)
        if not options.dry_run:
            await finish_job(self.runtime, self.job_id, report, status=status)
        return report

    def _require(self) -> None:
        access = self.access
        if access is None:
            return
        access.require(self.entity.name, "import")
        access.require(self.entity.name, "create")
        if self.options.on_duplicate == "update":
            access.require(self.entity.name, "update")

    async def _source(self, binary: IO[bytes]) -> Source:
        options, entity, access = self.options, self.entity, self.access
        if options.format == "jsonl":
            custom_keys = None
            if "custom" in entity.writable:
                definitions = (await self.runtime.custom_fields.ensure()).get(entity.name, {})
                custom_keys = {k for k, d in definitions.items() if not d.archived}
            preset(options.preset, "jsonl")
            return JsonlSource(
                binary,
                entity,
                access=access,
                custom_keys=custom_keys,
                mapping=options.mapping,
                encoding=options.encoding,
            )
        model = self.model = await column_model(self.runtime, entity, access)
        full = model
        if access is not None and not access.is_admin:
            full = await column_model(self.runtime, entity, None)
        if options.format == "csv":
            return CsvSource(
                binary,
                model,
                full,
                access=access,
                mapping=options.mapping,
                preset=preset(options.preset, "csv"),
                encoding=options.encoding,
            )
        reader = card_reader(self.runtime, entity.name)
        if reader is None:
            raise BadRequest(
                f"{entity.plural} cannot be imported from vCards",
                errors=[FieldError("format", "csv or jsonl for this entity")],
            )
        return VcardSource(
            binary,
            model,
            full,
            reader=reader,
            access=access,
            mapping=options.mapping,
            preset=preset(options.preset, "vcf"),
            encoding=options.encoding,
        )

    async def _process(self, source: Source, report: ImportReport) -> str:
        options = self.options
        rows = source.rows()
        if not options.dry_run and not options.atomic:
            while chunk := _take(rows, options.chunk_size):
                async with self.runtime.write():
                    await self._chunk(chunk, report, source)
                await self._analyze(report.created + report.updated)
            return "completed"
        try:
            async with self.runtime.write():
                while chunk := _take(rows, options.chunk_size):
                    await self._chunk(chunk, report, source)
                if options.dry_run or report.failed:
                    raise _Rollback
        except _Rollback:
            if options.dry_run:
                return "dry_run"
            report.created = report.updated = 0
            return "rolled_back"
        return "completed"

    async def _analyze(self, written: int) -> None:
        """Refresh PostgreSQL's statistics of the entity's tables as the import grows them.

        The duplicate checks are planned from those statistics; a young table outgrows
        them within a few chunks and the plans turn to scans (measured on individuals:
        280 rows/s falling to 145 over 3,000 rows; steady after an ``ANALYZE``). At
        1,000 rows written, then at each doubling: a handful of ``ANALYZE`` per import.
        """
        if self.runtime.db.kind != "postgres" or written < self._analyze_at:
            return
        self._analyze_at = written * 2
        owner = self.runtime.plugins.entities.owner(self.entity.name)
        tables = {self.entity.tablename}
        for plugin, app in self.runtime.plugins.piccolo_apps():
            if plugin == owner:
                tables.update(t._meta.tablename for t in app.table_classes)
        for table in sorted(tables):
            await self.runtime.db.execute(f"ANALYZE {table}")

    async def _chunk(self, rows: list[SourceRow], report: ImportReport, source: Source) -> None:
        outcomes: list[tuple[SourceRow, _Outcome]] = []
        batch: list[SourceRow] = []
        for row in rows:
            if row.errors or row.values is None:  # (the source named the columns already)
                outcomes.append((row, _Outcome("error", errors=row.errors)))
            elif self.options.on_duplicate == "create" and row.id is None and not row.extra:
                batch.append(row)
            else:
                outcomes.append((row, await self._one(row)))
        if batch:
            outcomes.extend(await self._many(batch))
        outcomes.sort(key=lambda pair: pair[0].number)
        items = self._count(outcomes, report)
        if not self.options.dry_run:
            counts = {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "skipped": report.skipped,
                "failed": report.failed,
                "error_count": report.error_count,
            }
            await record_chunk(self.runtime, self.job_id, self.entity.name, items, counts)
        if self.progress is not None:
            self.progress(report.rows, source.position())

    def _count(
        self, outcomes: list[tuple[SourceRow, _Outcome]], report: ImportReport
    ) -> list[Item]:
        items = []
        for row, outcome in outcomes:
            report.rows += 1
            if outcome.action == "error":
                report.failed += 1
                report.error_count += len(outcome.errors)
                room = MAX_ERRORS - len(report.errors)
                report.errors.extend(
                    RowError(row.number, e.field, e.message) for e in outcome.errors[:room]
                )
                continue
            if outcome.action == "skipped":
                report.skipped += 1
                continue
            if outcome.action == "created":
                report.created += 1
            else:
                report.updated += 1
            assert outcome.record_id is not None
            items.append(
                Item(
                    record_id=outcome.record_id,
                    row=row.number,
                    action=outcome.action,
                    version=outcome.version,
                    before=outcome.before,
                )
            )
        return items

    # -- rows --------------------------------------------------------------------------

    def _data(self, row: SourceRow, *, skip_duplicates: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"import_id": str(self.job_id), "row": row.number}
        if skip_duplicates:
            data["skip_duplicate_check"] = True
        return data

    def _paths(self, errors: list[FieldError]) -> list[FieldError]:
        """Field paths as the file names them (CSV columns: ``emails[1].address`` ->
        ``email_2``)."""
        if self.options.format != "csv" or self.model is None:
            return errors
        return [FieldError(column_path(self.model, e.field), e.message) for e in errors]

    def _refused(self, exc: CrmError) -> list[FieldError]:
        duplicates = exc.extra.get("duplicates") if isinstance(exc, Conflict) else None
        if duplicates:
            best = duplicates[0]
            name = " ".join(filter(None, [best.get("first_name"), best.get("last_name")]))
            reasons = ", ".join(best.get("reasons") or [])
            label = f"{name} ({best['id']})" if name else str(best["id"])
            return [FieldError("row", f"likely duplicate of {label}: {reasons}".rstrip(": "))]
        return self._paths(exc.errors or [FieldError("row", exc.detail)])

    async def _one(self, row: SourceRow) -> _Outcome:
        """Write one row in a savepoint: an error leaves nothing of it behind."""
        try:
            async with savepoint(self.runtime):
                return await self._write(row)
        except CrmError as exc:
            return _Outcome("error", errors=self._refused(exc))

    async def _many(self, rows: list[SourceRow]) -> list[tuple[SourceRow, _Outcome]]:
        """Create rows together (``batch.py``); when the database refuses the batch, one by
        one, to find the row it refuses."""
        items = [(row.values or {}, self._data(row, skip_duplicates=True)) for row in rows]
        try:
            results = await create_many(self.records, items, actor=self.actor, source="import")
        except Exception:
            return [(row, await self._one(row)) for row in rows]
        out = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, CrmError):
                out.append((row, _Outcome("error", errors=self._refused(result))))
            else:
                out.append((row, _Outcome("created", result["id"], result["version"])))
        return out

    async def _existing(self, record_id: uuid.UUID) -> tuple[uuid.UUID | None, bool]:
        """For a row's ``id``: the live record it names (that the actor may see), and
        whether a new record may take that id (no row has it, not even a deleted one)."""
        table = self.entity.tablename
        row = await self.runtime.db.fetchrow(
            sql(f"SELECT id, deleted_at FROM {table} WHERE id = {{}}", record_id)
        )
        if row is None:
            return None, True
        if row["deleted_at"] is not None:
            return None, False
        try:
            await self.records.fetch_row(record_id)
        except NotFound:
            return None, False
        return record_id, False

    async def _write(self, row: SourceRow) -> _Outcome:
        on_duplicate = self.options.on_duplicate
        values = dict(row.values or {})
        if row.id is not None:
            existing, free = await self._existing(row.id)
            if existing is not None and on_duplicate == "skip":
                return _Outcome("skipped")
            if existing is not None and on_duplicate == "update":
                return await self._update(existing, row)
            if free:
                values["id"] = row.id  # a record moved from elsewhere keeps its id
        try:
            record = await self.records.create(
                values,
                actor=self.actor,
                source="import",
                data=self._data(row, skip_duplicates=on_duplicate == "create"),
            )
        except Conflict as exc:
            duplicates = exc.extra.get("duplicates")
            if not duplicates or on_duplicate == "create":
                raise
            if on_duplicate == "skip":
                return _Outcome("skipped")
            return await self._update(uuid.UUID(str(duplicates[0]["id"])), row)
        version = record["version"]
        if row.extra and self.model is not None:
            await self.model.apply(record, row.extra)
            version = await self._version(record["id"])
        return _Outcome("created", record["id"], version)

    async def _update(self, record_id: uuid.UUID, row: SourceRow) -> _Outcome:
        """The fields the row gives, onto an existing record (its old values kept for
        revert). The update's own duplicate check still runs: a row that would make the
        record a duplicate of a third one is an error."""
        old = await self.records.fetch_row(record_id, lock=True)
        old = (await self.records.expand([old]))[0]
        changes = dict(row.given)
        if "custom" in changes:
            changes["custom"] = {**(old.get("custom") or {}), **changes["custom"]}
        record = await self.records.update(
            record_id, changes, actor=self.actor, source="import", data=self._data(row)
        )
        version = record["version"]
        if row.extra and self.model is not None:
            await self.model.apply(record, row.extra)
            version = await self._version(record_id)
        if version == old["version"]:
            return _Outcome("skipped")
        before = msgspec.to_builtins({k: old.get(k) for k in self.entity.writable})
        return _Outcome("updated", record_id, version, before=before)

    async def _version(self, record_id: uuid.UUID) -> int:
        """The record's version now: a plugin column (``organization``) may have moved it
        on after the write, and revert compares against the version the import left."""
        row = await self.runtime.db.fetchrow(
            sql(f"SELECT version FROM {self.entity.tablename} WHERE id = {{}}", record_id)
        )
        assert row is not None
        return int(row["version"])
