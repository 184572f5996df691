"""``crmkit plugins``: list, inspect and check plugins; enable and disable them."""

from __future__ import annotations

import click
from crmkit.core.errors import NotFound

from .enabled import disable, enable
from .inventory import CORE, Inventory, crmkit_version, fix_hint, load_inventory, plugin_meta
from .table import echo_table, yes_no

__all__ = ["plugins"]

CORE_DESCRIPTION = "crmkit core: API keys, tags, migrations (always enabled)"


@click.group()
def plugins() -> None:
    """List, inspect, check, enable and disable plugins."""


plugins.add_command(enable)
plugins.add_command(disable)


@plugins.command("list")
def list_() -> None:
    """Every installed plugin: enabled, loaded or failed, version, description."""
    inv = load_inventory()
    rows: list[tuple[str, ...]] = [(CORE, "yes", "loaded", crmkit_version(), CORE_DESCRIPTION)]
    rows += [
        (name, yes_no(info.enabled), inv.status(info), info.version, info.description)
        for name, info in inv.plugins.items()
    ]
    rows += [(name, "yes", "not installed", "", "") for name in inv.missing]
    echo_table(["name", "enabled", "status", "version", "description"], rows)
    problems = inv.problems()
    if problems:
        click.echo("\nproblems:")
        for line in problems:
            click.echo(f"  {line}")


@plugins.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Exit 1 when an enabled plugin is not installed or fails to load, naming each."""
    inv = load_inventory()
    problems = inv.problems()
    if problems:
        for line in problems:
            click.echo(line, err=True)
        ctx.exit(1)
    loaded = [CORE, *(name for name, info in inv.plugins.items() if info.loaded)]
    click.echo(f"ok: {len(loaded)} loaded ({', '.join(loaded)})")


def _fields(inv: Inventory, name: str) -> list[tuple[str, str]]:
    info = inv.plugins.get(name)
    if info is None:
        if name in inv.missing:
            raise NotFound(f"plugin {name!r} is enabled but not installed ({fix_hint(name)})")
        installed = ", ".join(inv.plugins) or "none"
        raise NotFound(f"no installed plugin {name!r} (installed: {installed})")
    meta = plugin_meta(info)
    fields = [
        ("name", name),
        ("target", info.target),
        ("enabled", yes_no(info.enabled)),
        ("status", inv.status(info)),
        ("version", meta.version or "-"),
        ("description", meta.description or "-"),
        ("requires", ", ".join(meta.requires) or "-"),
        ("after", ", ".join(meta.after) or "-"),
    ]
    if inv.host is not None and info.loaded:
        entities = [e.name for e in inv.host.entities if inv.host.entities.owner(e.name) == name]
        apps = [app.app_name for plugin, app in inv.host.piccolo_apps() if plugin == name]
        fields += [
            ("entities", ", ".join(entities) or "-"),
            ("piccolo app", ", ".join(apps) or "-"),
        ]
    if info.error or meta.error:
        fields.append(("error", str(info.error or meta.error)))
    return fields


@plugins.command()
@click.argument("name")
def info(name: str) -> None:
    """Details of one plugin: version, dependencies, entities, migrations, error."""
    if name == CORE:
        fields = [
            ("name", CORE),
            ("enabled", "yes"),
            ("status", "loaded"),
            ("version", crmkit_version()),
            ("description", CORE_DESCRIPTION),
        ]
    else:
        fields = _fields(load_inventory(), name)
    for key, value in fields:
        click.echo(f"{key + ':':<13} {value}")
