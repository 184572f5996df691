"""``crmkit import``: a file of records into an entity, as the API imports it.

The same :class:`~crmkit.core.transfer.imports.Importer` as ``POST
/api/v1/<plural>/import`` (the same checks, chunks, duplicate handling and recorded,
revertible job), run with the system's access. A progress bar (rows/s, and an ETA from
the part of the file read) goes to stderr when it is a terminal (``--progress`` forces
it); the summary and the first row errors go to stdout. The exit code is 1 when a row
had an error (or an atomic import was rolled back), 0 otherwise.

``crmkit imports list|show|revert``: the recorded jobs, through the same services as
``/api/v1/imports`` (``jobs.py``, ``revert.py``), with the system's access.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import IO

import click
from crmkit.core.entity import EntityType
from crmkit.core.errors import Conflict, NotFound
from crmkit.core.events import SYSTEM
from crmkit.core.runtime import Runtime
from crmkit.core.transfer.imports import FORMATS, ON_DUPLICATE, Importer, ImportOptions
from crmkit.core.transfer.jobs import (
    STATUSES,
    ImportJobInfo,
    ImportPage,
    ImportReport,
    RowError,
    get_job,
    list_jobs,
)
from crmkit.core.transfer.presets import PRESETS
from crmkit.core.transfer.revert import RevertReport, revert_import
from crmkit.core.transfer.sources import parse_mapping

from .context import with_runtime
from .table import echo_table, fmt_time, yes_no

__all__ = ["import_command", "imports"]

#: Row errors printed after the summary (the job keeps the first thousand).
SHOWN_ERRORS = 20
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".vcf": "vcf", ".vcard": "vcf"}


def _entity(runtime: Runtime, name: str) -> EntityType:
    """The entity ``name`` means: its name or its plural (``individuals``)."""
    found = runtime.plugins.entities.get(name) or runtime.plugins.entity_by_plural(name)
    if found is None:
        known = ", ".join(runtime.plugins.entities.names()) or "none: enable a plugin"
        raise NotFound(f"no entity {name!r} (entities: {known})")
    return found


class _Bar:
    """Progress on stderr: percent of the file read, rows, rows/s and an ETA.

    On a terminal the line is redrawn in place; elsewhere (``--progress`` into a log)
    one line is written per second at most, and the last one at the end.
    """

    def __init__(self, size: int, label: str, stream: IO[str]) -> None:
        self.size = max(size, 1)
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self.started = self.shown = time.monotonic()

    def line(self, rows: int, read: int) -> str:
        elapsed = time.monotonic() - self.started
        done = min(max(read, 0), self.size) / self.size
        rate = rows / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - done) / done if done > 0 else 0.0
        width = 30
        bar = "#" * int(done * width) + "-" * (width - int(done * width))
        return (
            f"{self.label} [{bar}] {done:4.0%}  {rows:,} rows, {rate:,.0f} rows/s, "
            f"ETA {int(eta) // 60:02d}:{int(eta) % 60:02d}"
        )

    def __call__(self, rows: int, read: int) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line(rows, read))
        elif now - self.shown >= 1.0:
            self.stream.write(self.line(rows, read) + "\n")
        else:
            return
        self.shown = now
        self.stream.flush()

    def done(self, rows: int) -> None:
        end = "\r" if self.tty else ""
        self.stream.write(end + self.line(rows, self.size) + "\n")
        self.stream.flush()


def _mapping(value: str | None) -> dict[str, str | None]:
    """``--mapping``: JSON text, or ``@path`` of a JSON file."""
    if value and value.startswith("@"):
        path = Path(value[1:])
        try:
            value = path.read_text("utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc}", param_hint="'--mapping'"
            ) from None
    return parse_mapping(value, "--mapping")


def _format(file: Path, given: str | None, preset: str | None) -> str:
    if given:
        return given
    if preset:
        return PRESETS[preset].format
    found = _EXTENSIONS.get(file.suffix.lower())
    if found is None:
        raise click.BadParameter(
            f"cannot tell the format of {file.name}: pass --format", param_hint="'--format'"
        )
    return found


def _summary(report: ImportReport, plural: str, file: Path) -> list[str]:
    counts = (
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.skipped} skipped, {report.failed} with errors"
    )
    lines = []
    if report.status == "dry_run":
        lines.append(f"dry run of {file.name} into {plural} (nothing written): {counts}")
    elif report.status == "rolled_back":
        lines.append(
            f"import of {file.name} into {plural} rolled back (atomic; nothing written): {counts}"
        )
    else:
        lines.append(f"imported {file.name} into {plural}: {counts}")
    if report.id is not None:
        lines.append(f"job {report.id}")
    if report.unknown_columns:
        lines.append(f"ignored columns: {', '.join(report.unknown_columns)}")
    lines.extend(_errors(report.errors, report.error_count))
    return lines


def _errors(errors: list[RowError], count: int) -> list[str]:
    """The first row errors, one a line, and how many more there are."""
    lines = [f"  row {e.row}, {e.field}: {e.message}" for e in errors[:SHOWN_ERRORS]]
    more = count - min(len(errors), SHOWN_ERRORS)
    if more > 0:
        lines.append(f"  ... and {more} more error{'s' if more != 1 else ''}")
    return lines


@click.command("import")
@click.argument("entity")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    help="csv, jsonl or vcf (default: from the file's extension or the preset).",
)
@click.option("--dry-run", is_flag=True, help="Check every row and write nothing.")
@click.option(
    "--on-duplicate",
    type=click.Choice(ON_DUPLICATE),
    default="skip",
    show_default=True,
    help="A likely duplicate (or a row whose id exists): skip it, update the record, or create.",
)
@click.option(
    "--mapping",
    metavar="JSON|@FILE",
    help='Rename source columns: {"E-mail 1 - Value": "email_1", "Budget": "custom.budget"}.',
)
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    help="Read an export of Google Contacts (CSV), Outlook (CSV) or Apple Contacts (vCard).",
)
@click.option("--atomic", is_flag=True, help="All rows or none: any row error writes nothing.")
@click.option("--encoding", default="utf-8", show_default=True, help="The file's text encoding.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: when stderr is a terminal).",
)
def import_command(
    entity: str,
    file: Path,
    format_: str | None,
    dry_run: bool,
    on_duplicate: str,
    mapping: str | None,
    preset: str | None,
    atomic: bool,
    encoding: str,
    progress: bool | None,
) -> None:
    """Import ENTITY records from FILE (CSV, JSON Lines or vCard) as a recorded job.

    The job can be listed, shown and reverted with `crmkit imports` (or /api/v1/imports).
    """
    options = ImportOptions(
        format=_format(file, format_, preset),
        on_duplicate=on_duplicate,
        dry_run=dry_run,
        atomic=atomic,
        mapping=_mapping(mapping),
        preset=preset,
        encoding=encoding,
        filename=file.name,
    )
    show = sys.stderr.isatty() if progress is None else progress

    async def run(runtime: Runtime) -> tuple[ImportReport, str]:
        target = _entity(runtime, entity)
        importer = Importer(runtime, target, None, options, actor=SYSTEM)
        with file.open("rb") as binary:
            if not show:
                return await importer.run(binary), target.plural
            bar = _Bar(file.stat().st_size, f"importing {target.plural}", sys.stderr)
            importer.progress = bar
            report = await importer.run(binary)
            bar.done(report.rows)
            return report, target.plural

    report, plural = with_runtime(run)
    for line in _summary(report, plural, file):
        click.echo(line)
    if report.failed or report.status == "rolled_back":
        sys.exit(1)


# -- crmkit imports: the recorded jobs ---------------------------------------------------------


@click.group()
def imports() -> None:
    """List, show and revert recorded imports (the jobs of `crmkit import` and the API)."""


def _counts(job: ImportJobInfo) -> str:
    return (
        f"{job.rows} rows: {job.created} created, {job.updated} updated, "
        f"{job.skipped} skipped, {job.failed} with errors"
    )


@imports.command("list")
@click.option("--entity", metavar="ENTITY", help="Only imports into this entity (name or plural).")
@click.option("--status", type=click.Choice(STATUSES), help="Only imports with this status.")
@click.option(
    "--limit",
    type=click.IntRange(1, 500),
    default=50,
    show_default=True,
    help="How many to list (the newest first).",
)
def list_(entity: str | None, status: str | None, limit: int) -> None:
    """The recorded imports, newest first; times are UTC."""

    async def go(runtime: Runtime) -> ImportPage:
        name = _entity(runtime, entity).name if entity is not None else None
        return await list_jobs(runtime, None, entity=name, status=status, limit=limit)

    page = with_runtime(go)
    if not page.data:
        click.echo("no imports")
        return
    echo_table(
        "id entity status rows created updated skipped errors file started".split(),
        [
            (
                job.id,
                job.entity,
                job.status,
                job.rows,
                job.created,
                job.updated,
                job.skipped,
                job.failed,
                job.options.get("filename") or "-",
                fmt_time(job.created_at),
            )
            for job in page.data
        ],
    )
    if page.next_cursor is not None:
        click.echo(f"(the newest {limit} shown: --limit shows more)")


@imports.command()
@click.argument("import_id", metavar="ID", type=click.UUID)
def show(import_id: uuid.UUID) -> None:
    """One import: its file, options, counts, status and first row errors."""
    job = with_runtime(lambda runtime: get_job(runtime, None, import_id))
    options = job.options
    lines = [
        f"import {job.id}",
        f"entity     {job.entity}",
        f"file       {options.get('filename') or '-'} ({job.format})",
        f"status     {job.status}" + (f": {job.detail}" if job.detail else ""),
        f"counts     {_counts(job)}",
        f"options    on_duplicate={options.get('on_duplicate')}, "
        f"atomic={yes_no(bool(options.get('atomic')))}, preset={options.get('preset') or '-'}, "
        f"encoding={options.get('encoding') or 'utf-8'}",
    ]
    if options.get("mapping"):
        mapping = ", ".join(f"{k} -> {v or '(ignored)'}" for k, v in options["mapping"].items())
        lines.append(f"mapping    {mapping}")
    lines.append(f"by         {job.actor_name or job.actor} ({job.actor})")
    lines.append(f"started    {fmt_time(job.created_at)} UTC")
    lines.append(f"finished   {fmt_time(job.finished_at)}" + (" UTC" if job.finished_at else ""))
    if job.reverted_at is not None:
        lines.append(f"reverted   {fmt_time(job.reverted_at)} UTC by {job.reverted_by}")
    if job.unknown_columns:
        lines.append(f"ignored columns: {', '.join(job.unknown_columns)}")
    if job.error_count:
        lines.append(f"errors ({job.error_count}):")
        lines.extend(_errors(job.errors, job.error_count))
    for line in lines:
        click.echo(line)


def _changed_since(exc: Conflict, import_id: uuid.UUID) -> Conflict:
    """A revert refused for later changes, said for the command line (``--force``)."""
    changed = exc.extra["changed"]
    count = exc.extra.get("changed_count", len(changed))
    first = ", ".join(f"{c['id']} (row {c['row']})" for c in changed[:3])
    more = f" and {count - 3} more" if count > 3 else ""
    return Conflict(
        f"{count} record{'s' if count != 1 else ''} changed since the import: {first}{more}; "
        f"`crmkit imports revert {import_id} --force` reverts over those changes",
        extra=exc.extra,
    )


@imports.command()
@click.argument("import_id", metavar="ID", type=click.UUID)
@click.option(
    "--force",
    is_flag=True,
    help="Revert even records changed since the import (their later changes are lost).",
)
def revert(import_id: uuid.UUID, force: bool) -> None:
    """Revert an import: delete what it created, restore what it updated.

    One transaction: records it created are deleted (soft), records it updated get
    their values from before it. Refused (nothing done) when a record changed since
    the import, unless --force; an import is reverted once. Organisations a row
    created or linked stay.
    """

    async def go(runtime: Runtime) -> RevertReport:
        try:
            return await revert_import(runtime, None, import_id, actor=SYSTEM, force=force)
        except Conflict as exc:
            if "changed" in exc.extra:
                raise _changed_since(exc, import_id) from None
            raise

    report = with_runtime(go)
    click.echo(
        f"reverted import {report.id}: {report.deleted} deleted, {report.restored} restored, "
        f"{report.skipped} skipped (deleted already)"
    )
