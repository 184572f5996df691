"""``crmkit plugins enable|disable``: edit the ``plugins = [...]`` list in crmkit.toml.

Without a list every installed plugin is enabled, so the first change starts from the
full installed list. ``CRMKIT_PLUGINS`` overrides the file; the commands say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from crmkit.core.errors import CrmError, NotFound, SettingsError
from crmkit.core.plugins import PluginHost
from crmkit.core.settings import settings_path

from . import tomlfile
from .context import quiet_plugin_log
from .errors import describe, one_line
from .inventory import CORE, installed

__all__ = ["disable", "enable"]


def _configured(data: dict[str, Any], path: Path) -> list[str] | None:
    names = data.get("plugins")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SettingsError(f"{path}: `plugins` must be a list of plugin names")
    return list(names)


def _save(path: Path, data: dict[str, Any], names: list[str]) -> None:
    if tomlfile.has_comments(path):
        click.echo(f"note: the comments in {path} are not kept", err=True)
    tomlfile.write(path, {**data, "plugins": names})


def _check(names: list[str], path: Path) -> None:
    """Warn when the new list does not load (a missing ``requires``, an import error)."""
    if "CRMKIT_PLUGINS" in os.environ:
        click.echo(f"note: CRMKIT_PLUGINS is set and overrides the list in {path}", err=True)
    with quiet_plugin_log():
        try:
            host = PluginHost(names)
        except Exception as exc:
            reason = describe(exc) or f"{type(exc).__name__}: {one_line(exc)}"
            click.echo(f"warning: the enabled plugins do not load: {reason}", err=True)
            return
    for name, error in host.failures.items():
        click.echo(f"warning: {name}: {error}", err=True)


def _names(found: dict[str, Any]) -> str:
    return ", ".join(found) or "none"


@click.command()
@click.argument("name")
def enable(name: str) -> None:
    """Enable an installed plugin (in crmkit.toml)."""
    if name == CORE:
        click.echo("core is always enabled")
        return
    found = installed()
    if name not in found:
        raise NotFound(f"no installed plugin {name!r} (installed: {_names(found)})")
    path = settings_path()
    data = tomlfile.read(path)
    current = _configured(data, path)
    if current is None:
        click.echo(f"{name} is enabled already ({path} has no `plugins` list: all are enabled)")
        return
    if name in current:
        click.echo(f"{name} is enabled already")
        return
    names = [*current, name]
    _save(path, data, names)
    click.echo(f"enabled {name} in {path}")
    _check(names, path)


@click.command()
@click.argument("name")
def disable(name: str) -> None:
    """Disable a plugin (in crmkit.toml); works for names that are no longer installed."""
    if name == CORE:
        raise CrmError("core cannot be disabled")
    found = installed()
    path = settings_path()
    data = tomlfile.read(path)
    current = _configured(data, path)
    base = list(found) if current is None else current
    if name not in base:
        if name not in found:
            raise NotFound(f"plugin {name!r} is neither installed nor enabled")
        click.echo(f"{name} is disabled already")
        return
    names = [n for n in base if n != name]
    _save(path, data, names)
    click.echo(f"disabled {name} in {path}")
    _check(names, path)
