"""``crmkit migrate``: run, show or undo the migrations of the enabled plugins."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

import click
from crmkit.core.errors import NotFound
from crmkit.core.migrate import MigrationInfo, Migrator
from crmkit.core.runtime import Runtime

from .context import with_runtime
from .table import echo_table, yes_no

__all__ = ["apply_forwards", "migrate"]

Step = Callable[[MigrationInfo], None]


def _line(info: MigrationInfo) -> str:
    return f"{info.app} {info.id} {info.description}".rstrip()


async def _with_progress(
    count: int, label: str, action: Callable[[Step], Awaitable[list[MigrationInfo]]]
) -> list[MigrationInfo]:
    """Run ``action(on_step)``, with a progress bar on stderr when there are several steps."""
    done: list[MigrationInfo] = []
    if count <= 1:
        await action(done.append)
        return done
    with click.progressbar(length=count, label=label, file=sys.stderr) as bar:

        def step(info: MigrationInfo) -> None:
            done.append(info)
            bar.update(1)

        await action(step)
    return done


async def apply_forwards(migrator: Migrator, app: str | None = None) -> list[MigrationInfo]:
    """Apply pending migrations, printing ``app id description`` for each one applied."""
    pending = [m for m in await migrator.status(app) if not m.applied]
    if not pending:
        click.echo("nothing to migrate")
        return []
    ran: list[MigrationInfo] = []
    try:
        ran = await _with_progress(
            len(pending), "migrating", lambda step: migrator.forwards(app, on_step=step)
        )
    finally:  # what did run is reported even when a later migration fails
        for info in ran:
            click.echo(_line(info))
    return ran


async def _backwards(migrator: Migrator, steps: int, app: str | None) -> None:
    applied = [m for m in await migrator.status(app) if m.applied]
    if not applied:
        click.echo("nothing to undo")
        return
    undone = await _with_progress(
        min(steps, len(applied)),
        "undoing",
        lambda step: migrator.backwards(steps, app, on_step=step),
    )
    for info in undone:
        click.echo(f"undone {_line(info)}")


def _app_name(migrator: Migrator, name: str) -> str:
    """The Piccolo app of plugin ``name`` (an app name is accepted too)."""
    apps = migrator.apps()
    for plugin, app in apps:
        if name in (plugin, app.app_name):
            return str(app.app_name)
    known = ", ".join(plugin for plugin, _ in apps)
    raise NotFound(f"no enabled plugin {name!r} with migrations (enabled with migrations: {known})")


@click.command()
@click.option("--plugin", "plugin", metavar="NAME", help="Only the migrations of this plugin.")
@click.option("--status", is_flag=True, help="List the migrations and whether each is applied.")
@click.option(
    "--backwards",
    type=click.IntRange(min=1),
    metavar="N",
    help="Undo the last N applied migrations (of --plugin, or of all).",
)
def migrate(plugin: str | None, status: bool, backwards: int | None) -> None:
    """Run the pending migrations of core and the enabled plugins.

    Each migration applied is printed as `app id description`.
    """
    if status and backwards:
        raise click.UsageError("--status and --backwards cannot be combined")

    async def go(runtime: Runtime) -> None:
        migrator = Migrator(runtime)
        app = _app_name(migrator, plugin) if plugin else None
        if status:
            rows = await migrator.status(app)
            echo_table(
                ["app", "id", "applied", "description"],
                [(m.app, m.id, yes_no(m.applied), m.description) for m in rows],
            )
        elif backwards:
            await _backwards(migrator, backwards, app)
        else:
            await apply_forwards(migrator, app)

    with_runtime(go)
