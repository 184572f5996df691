"""What is installed, what is enabled and what loaded: the facts behind ``crmkit plugins``.

Loading the enabled plugins can fail as a whole (an enabled name that is not installed,
a ``requires`` cycle, a broken hook); the inventory then falls back to discovery alone
(nothing imported), so the listing still works and says what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, version
from typing import Any

import click
from crmkit.core.plugins import ENTRY_POINT_GROUP, PluginHost, PluginInfo
from crmkit.core.settings import load_settings

from .context import quiet_plugin_log
from .errors import describe, one_line

__all__ = [
    "CORE",
    "Inventory",
    "PluginMeta",
    "crmkit_version",
    "diagnosing",
    "fix_hint",
    "installed",
    "load_inventory",
    "plugin_meta",
]

CORE = "core"


@dataclass
class Inventory:
    plugins: dict[str, PluginInfo]  # installed, by name
    missing: list[str] = field(default_factory=list)  # enabled, not installed
    host: PluginHost | None = None  # None when the enabled plugins cannot load
    error: str | None = None  # why they cannot

    def status(self, info: PluginInfo) -> str:
        if info.loaded:
            return "loaded"
        if info.error:
            return "failed"
        return "not loaded" if info.enabled else "-"

    def problems(self) -> list[str]:
        """One line per problem: each plugin that failed, each enabled name not installed."""
        lines = [f"{name}: enabled but not installed ({fix_hint(name)})" for name in self.missing]
        if self.error and not self.missing:
            lines.append(f"the enabled plugins cannot be loaded: {self.error}")
        lines += [f"{name}: {info.error}" for name, info in self.plugins.items() if info.error]
        return lines


def diagnosing() -> bool:
    """Whether ``--diagnose`` (or ``CRMKIT_DIAGNOSE``) asks for tracebacks."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("diagnose"))


def fix_hint(name: str) -> str:
    if "CRMKIT_PLUGINS" in os.environ:
        return "remove it from CRMKIT_PLUGINS"
    return f"crmkit plugins disable {name}"


def installed() -> dict[str, PluginInfo]:
    """The installed plugins, found through their entry points; none is imported."""
    return PluginHost([]).plugins


def load_inventory() -> Inventory:
    """Load the enabled plugins as the API would; on failure, discovery alone."""
    settings = load_settings()
    with quiet_plugin_log():
        try:
            host = PluginHost(settings.plugins)
        except Exception as exc:  # reported by the caller, not fatal
            if diagnosing():
                raise
            error = describe(exc) or f"{type(exc).__name__}: {one_line(exc)}"
        else:
            return Inventory(host.plugins, host=host)
    found = installed()
    wanted = set(found) if settings.plugins is None else set(settings.plugins)
    for info in found.values():
        info.enabled = info.name in wanted
    return Inventory(found, sorted(wanted - set(found) - {CORE}), None, error)


def crmkit_version() -> str:
    return version("crmkit")


@dataclass
class PluginMeta:
    version: str = ""
    description: str = ""
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    error: str | None = None


def _meta_of(obj: Any) -> PluginMeta:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return PluginMeta(
        version=str(getattr(obj, "__version__", "")),
        description=doc.splitlines()[0] if doc else "",
        requires=tuple(getattr(obj, "requires", ())),
        after=tuple(getattr(obj, "after", ())),
    )


def plugin_meta(info: PluginInfo) -> PluginMeta:
    """Version, description and dependencies; imports a plugin the host did not load."""
    if info.obj is not None:
        return _meta_of(info.obj)
    if info.error:
        return PluginMeta(error=info.error)
    try:
        obj = EntryPoint(name=info.name, value=info.target, group=ENTRY_POINT_GROUP).load()
    except Exception as exc:
        return PluginMeta(error=f"failed to import: {type(exc).__name__}: {one_line(exc)}")
    return _meta_of(obj)
