"""``crmkit search reindex [ENTITY]``: rebuild the search index, with a progress bar."""

from __future__ import annotations

import sys
import time

import click
from crmkit.core.db.sql import sql
from crmkit.core.errors import CrmError, NotFound
from crmkit.core.runtime import Runtime
from crmkit.core.search import ready, rebuild

from .context import with_runtime

__all__ = ["search"]


@click.group()
def search() -> None:
    """The full-text search index (docs/search.md)."""


def _entities(runtime: Runtime, name: str | None) -> list[str]:
    if name is None:
        return [e.name for e in runtime.entities]
    for entity in runtime.entities:
        if name in (entity.name, entity.plural):
            return [entity.name]
    known = ", ".join(e.name for e in runtime.entities) or "none"
    raise NotFound(f"no enabled entity {name!r} (enabled: {known})")


async def _reindex_one(runtime: Runtime, name: str, batch: int) -> None:
    table = runtime.plugins.entity(name).tablename
    total = int(await runtime.db.fetchval(sql(f"SELECT COUNT(*) AS n FROM {table}")) or 0)
    started = time.perf_counter()
    done = 0
    with click.progressbar(
        length=max(total, 1),
        label=name,
        file=sys.stderr,
        show_eta=True,
        show_pos=True,
        item_show_func=lambda rate: rate,
    ) as bar:

        def step(records: int, rows: int) -> None:
            nonlocal done
            done += records
            rate = done / max(time.perf_counter() - started, 1e-6)
            bar.update(records, f"{rate:,.0f} records/s")

        records, rows = await rebuild(runtime, name, batch=batch, progress=step)
    click.echo(f"{name} {records} {rows} {time.perf_counter() - started:.1f}")


@search.command()
@click.argument("entity", required=False)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Records per transaction.",
)
def reindex(entity: str | None, batch: int) -> None:
    """Rebuild the index of ENTITY (a name or plural; default: every entity).

    Each batch is its own transaction, so the API keeps serving (and writing) meanwhile.
    Prints `entity records rows seconds` for each entity.
    """

    async def go(runtime: Runtime) -> None:
        names = _entities(runtime, entity)
        if not await ready(runtime):
            raise CrmError("the search index does not exist yet: run `crmkit migrate` first")
        for name in names:
            await _reindex_one(runtime, name, batch)

    with_runtime(go)
