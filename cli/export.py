"""``crmkit export``: an entity's records to a file or stdout, as the API exports them.

The same :func:`~crmkit.core.transfer.export.prepare` as ``GET /api/v1/<plural>/export``
(filters, ``q``, a saved search; a bad one is the same message), run with the system's
access. The file is written next to its final name and renamed when complete, so a
failed export never leaves half a file behind. A progress bar (rows/s and ETA) goes to
stderr when stderr is a terminal; otherwise nothing but the data is written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from crmkit.core.entity import EntityType
from crmkit.core.errors import NotFound
from crmkit.core.runtime import Runtime
from crmkit.core.transfer.export import prepare

from .context import with_runtime

__all__ = ["export", "progress"]


def _entity(runtime: Runtime, name: str) -> EntityType:
    """The entity ``name`` means: its name or its plural (``individuals``)."""
    found = runtime.plugins.entities.get(name) or runtime.plugins.entity_by_plural(name)
    if found is None:
        known = ", ".join(runtime.plugins.entities.names()) or "none: enable a plugin"
        raise NotFound(f"no entity {name!r} (entities: {known})")
    return found


def _filters(values: tuple[str, ...]) -> list[tuple[str, str]]:
    items = []
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not FIELD=VALUE", param_hint="'--filter'")
        items.append((name.strip(), text))
    return items


class _Bar:
    """A click progress bar that also shows rows per second."""

    def __init__(self, total: int, stream: IO[str], label: str) -> None:
        self.started = time.monotonic()
        self.done = 0
        self.bar = click.progressbar(
            length=max(total, 1),
            label=label,
            file=stream,
            show_eta=True,
            show_percent=True,
            show_pos=True,
            item_show_func=self._rate,
        )

    def _rate(self, _: Any) -> str:
        elapsed = time.monotonic() - self.started
        return f"{self.done / elapsed:,.0f} rows/s" if elapsed > 0 else ""

    def update(self, rows: int) -> None:
        self.done += rows
        self.bar.update(rows, self.done)


@contextlib.contextmanager
def progress(total: int, label: str, stream: IO[str] | None = None) -> Iterator[_Bar | None]:
    """A progress bar on ``stream`` (stderr) when it is a terminal; ``None`` otherwise."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    bar = _Bar(total, stream, label)
    with bar.bar:
        yield bar


@click.command("export")
@click.argument("entity")
@click.option(
    "--format",
    "format_",
    default="csv",
    show_default=True,
    help="csv, jsonl, or one a plugin adds (vcf for individuals).",
)
@click.option("-q", "--query", help="Search query, as q= of a list.")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="FIELD[__OP]=VALUE",
    help="A list filter (repeatable): type=customer, custom.budget__gte=1000, sort=-created_at.",
)
@click.option("--saved", metavar="NAME", help="Start from a saved search (name or id).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: stdout).",
)
def export(
    entity: str,
    format_: str,
    query: str | None,
    filters: tuple[str, ...],
    saved: str | None,
    output: Path | None,
) -> None:
    """Export ENTITY's records (CSV by default) to a file or stdout, streamed."""
    items = _filters(filters)
    if query:
        items.append(("q", query))

    async def run(runtime: Runtime) -> tuple[int, str]:
        target = _entity(runtime, entity)
        job = await prepare(runtime, target, None, items, format=format_, saved=saved)
        written = 0
        partial = output.with_name(f".{output.name}.part") if output else None
        sink = partial.open("wb") if partial else sys.stdout.buffer
        try:
            with progress(job.total, f"exporting {target.plural}") as bar:
                async for rows, data in job.batches():
                    sink.write(data)
                    written += rows
                    if bar is not None:
                        bar.update(rows)
            sink.flush()
        except BaseException:
            if partial:
                sink.close()
                partial.unlink(missing_ok=True)
            raise
        if partial and output:
            sink.close()
            os.replace(partial, output)
        return written, target.plural

    written, plural = with_runtime(run)
    if output:
        click.echo(f"exported {written} {plural} to {output}", err=True)
