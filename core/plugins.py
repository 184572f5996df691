"""The plugin host: discovery, the enabled list, ``requires``, registries.

Plugins are modules (or objects) with hookimpls, found through the ``crmkit``
entry-point group. Module attributes give their metadata:

* ``requires``: names of plugins that must be enabled too (ordered before it);
* ``after``: names of plugins to load before it when they are enabled (optional);
* ``__version__`` and the first docstring line, shown by ``crmkit plugins list``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .awaitables import await_me_maybe
from .bulk import BulkAction
from .entity import EntityExtension, EntityType
from .errors import CrmError, PluginError
from .fields import FieldType
from .registry import Registry
from .tabs import TabProvider
from .transfer.registry import TransferRegistry
from .transfer.registry import collect as collect_transfer

__all__ = ["ENTRY_POINT_GROUP", "PluginHost", "PluginInfo"]

ENTRY_POINT_GROUP = "crmkit"
CORE_PLUGIN = "core"
log = logging.getLogger("crmkit.plugins")


@dataclass
class PluginInfo:
    """What the host knows of one plugin, loaded or not."""

    name: str
    target: str  # "module:attr" or the module path
    enabled: bool = False
    loaded: bool = False
    error: str | None = None
    requires: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    version: str = ""
    description: str = ""
    obj: Any = field(default=None, repr=False)


def _discover(extra: Mapping[str, Any]) -> dict[str, PluginInfo]:
    """Entry points of the group, de-duplicated (an editable install can appear twice)."""
    found: dict[str, PluginInfo] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        known = found.get(ep.name)
        if known is not None and known.target != ep.value:
            raise PluginError(
                f"two installed plugins are named {ep.name!r}: {known.target} and {ep.value}"
            )
        found[ep.name] = PluginInfo(name=ep.name, target=ep.value)
    for name, obj in extra.items():
        found[name] = PluginInfo(name=name, target=getattr(obj, "__name__", repr(obj)), obj=obj)
    return dict(sorted(found.items()))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _import(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def _describe(info: PluginInfo) -> None:
    obj = info.obj
    info.requires = tuple(getattr(obj, "requires", ()))
    info.after = tuple(getattr(obj, "after", ()))
    info.version = str(getattr(obj, "__version__", ""))
    doc = (getattr(obj, "__doc__", None) or "").strip()
    info.description = doc.splitlines()[0] if doc else ""


def _order(infos: list[PluginInfo]) -> list[PluginInfo]:
    """Sorted by name, then topologically by ``requires`` and ``after`` (Kahn)."""
    by_name = {i.name: i for i in infos}
    deps = {i.name: sorted({d for d in (*i.requires, *i.after) if d in by_name}) for i in infos}
    ordered: list[PluginInfo] = []
    done: set[str] = set()
    pending = sorted(by_name)
    while pending:
        ready = [n for n in pending if all(d in done for d in deps[n])]
        if not ready:
            raise PluginError(f"plugins require each other in a cycle: {', '.join(pending)}")
        for name in ready:
            ordered.append(by_name[name])
            done.add(name)
        pending = [n for n in pending if n not in done]
    return ordered


def _registering(impl: Any, register: Any) -> None:
    """Call one plugin's registrar hook; its failure is a one-line error naming it."""
    try:
        impl.function(register=register)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin {impl.plugin_name!r} failed in {impl.function.__name__}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class PluginHost:
    """Loads the enabled plugins once and holds the frozen registries they fill."""

    def __init__(
        self,
        enabled: Iterable[str] | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager("crmkit")
        self.pm.add_hookspecs(hookspecs)
        self.entities: Registry[EntityType] = Registry("entity type")
        self.field_types: Registry[FieldType] = Registry("field type")
        self.tabs: tuple[TabProvider, ...] = ()
        self.bulk_actions: tuple[BulkAction, ...] = ()
        self.transfer: TransferRegistry = TransferRegistry()
        self.plugins: dict[str, PluginInfo] = {}
        self._load_order: list[str] = []
        self._enabled = None if enabled is None else list(enabled)
        self._extra = dict(extra or {})
        self._load()

    # -- loading -------------------------------------------------------------------

    def _load(self) -> None:
        from . import builtin

        self.plugins = _discover(self._extra)
        wanted = set(self.plugins) if self._enabled is None else set(self._enabled)
        unknown = sorted(wanted - set(self.plugins) - {CORE_PLUGIN})
        if unknown:
            installed = ", ".join(self.plugins) or "none"
            raise PluginError(f"unknown plugin {unknown[0]!r} is enabled (installed: {installed})")
        for info in self.plugins.values():
            info.enabled = info.name in wanted
            if not info.enabled:
                self.pm.set_blocked(info.name)  # never imported
                continue
            try:
                if info.obj is None:
                    info.obj = _import(info.target)
                _describe(info)
            except Exception as exc:  # a broken plugin is reported, not fatal
                info.error = f"failed to import: {type(exc).__name__}: {exc}"
                log.error("plugin %s %s", info.name, info.error)
        loadable = [i for i in self.plugins.values() if i.enabled and i.error is None]
        loadable = self._check_requires(loadable)
        self.pm.register(builtin, name=CORE_PLUGIN)
        for info in _order(loadable):
            try:
                self.pm.register(info.obj, name=info.name)
            except pluggy.PluginValidationError as exc:
                raise PluginError(f"plugin {info.name!r}: {_one_line(exc)}") from None
            info.loaded = True
            self._load_order.append(info.name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            raise PluginError(f"plugin {name!r}: {_one_line(exc)}") from None
        self._fill_registries()

    def _check_requires(self, loadable: list[PluginInfo]) -> list[PluginInfo]:
        names = {i.name for i in loadable} | {CORE_PLUGIN}
        while True:
            broken = [i for i in loadable if any(r not in names for r in i.requires)]
            if not broken:
                return loadable
            for info in broken:
                missing = next(r for r in info.requires if r not in names)
                other = self.plugins.get(missing)
                if other is None or not other.enabled:
                    raise PluginError(
                        f"plugin {info.name!r} requires {missing!r}, which is not enabled"
                    )
                info.error = f"requires {missing!r}, which failed to load"
                log.error("plugin %s %s", info.name, info.error)
            loadable = [i for i in loadable if i.error is None]
            names = {i.name for i in loadable} | {CORE_PLUGIN}

    def _fill_registries(self) -> None:
        for impl in self.pm.hook.register_entity_types.get_hookimpls():
            register = self.entities.registrar(impl.plugin_name, lambda e: e.name)

            def checked(entity: EntityType, _plugin: str = impl.plugin_name, _reg=register) -> None:
                if not isinstance(entity, EntityType):
                    raise PluginError(f"plugin {_plugin!r} registered a non-EntityType: {entity!r}")
                entity.validate(_plugin)
                _reg(entity)

            _registering(impl, checked)
        for impl in self.pm.hook.register_entity_extensions.get_hookimpls():
            found: list[EntityExtension] = []
            _registering(impl, found.append)
            for ext in found:
                target = self.entities.get(ext.entity)
                if target is not None:  # extending a disabled entity is a no-op
                    extended = ext.apply(target, impl.plugin_name)
                    extended.validate(self.entities.owner(ext.entity))
                    self.entities.replace(ext.entity, extended)
        plurals: dict[str, str] = {}
        for entity in self.entities:
            if entity.plural in plurals:
                raise PluginError(
                    f"entities {plurals[entity.plural]!r} and {entity.name!r} share the path "
                    f"/{entity.plural}"
                )
            plurals[entity.plural] = entity.name
        for impl in self.pm.hook.register_field_types.get_hookimpls():
            add_type = self.field_types.registrar(impl.plugin_name, lambda t: t.name)

            def checked_type(ft: FieldType, _plugin: str = impl.plugin_name, _reg=add_type) -> None:
                if not isinstance(ft, FieldType) or not getattr(ft, "name", None):
                    raise PluginError(
                        f"plugin {_plugin!r} registered {ft!r}: not a named FieldType instance"
                    )
                _reg(ft)

            _registering(impl, checked_type)
        tabs: Registry[TabProvider] = Registry("tab")
        for impl in self.pm.hook.register_tabs.get_hookimpls():
            add_tab = tabs.registrar(impl.plugin_name, lambda t: f"{t.entity}/{t.key}")

            def checked_tab(tab: TabProvider, _reg=add_tab) -> None:
                if all(name in self.entities for name in tab.requires_entities):
                    _reg(tab)  # else: an entity it needs is disabled, so the tab is left out

            _registering(impl, checked_tab)
        self.tabs = tuple(sorted(tabs, key=lambda t: (t.order, t.key)))
        actions = self._bulk_actions()
        for registry in (self.entities, self.field_types, tabs, actions):
            registry.freeze()
        self.transfer = collect_transfer(self, _registering)

    def _bulk_actions(self) -> Registry[BulkAction]:
        """Plugin bulk actions; one for an entity that is not registered is left out, and
        a name given both for ``"*"`` and for one entity is a duplicate."""
        actions: Registry[BulkAction] = Registry("bulk action")
        for impl in self.pm.hook.register_bulk_actions.get_hookimpls():
            add_action = actions.registrar(impl.plugin_name, lambda a: f"{a.entity}/{a.name}")

            def checked_action(
                action: BulkAction, _plugin: str = impl.plugin_name, _reg=add_action
            ) -> None:
                if not isinstance(action, BulkAction):
                    raise PluginError(f"plugin {_plugin!r} registered a non-BulkAction: {action!r}")
                action.validate(_plugin)
                if action.entity != "*" and action.entity not in self.entities:
                    return  # its entity's plugin is disabled
                for taken in actions.names():
                    entity, _, name = taken.partition("/")
                    if name == action.name and "*" in (entity, action.entity):
                        raise PluginError(
                            f"duplicate bulk action {action.name!r}: registered by "
                            f"{actions.owner(taken)!r} and by {_plugin!r}"
                        )
                _reg(action)

            _registering(impl, checked_action)
        self.bulk_actions = tuple(actions)
        return actions

    # -- calling hooks -------------------------------------------------------------

    @property
    def hook(self) -> Any:
        return self.pm.hook

    async def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook and await each result that is awaitable, in plugin order.

        One implementation at a time, each awaited before the next is called: when one
        raises, no later plugin's coroutine is left un-awaited (pluggy would have called
        them all first), and a plugin sees what the ones before it did.
        """
        out: list[Any] = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            result = await await_me_maybe(impl.function(**args))
            if result is not None:  # as pluggy: None is "no answer"
                out.append(result)
        return out

    async def call_by_plugin(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """Call each implementation in plugin order; results (awaited) by plugin name."""
        out: dict[str, Any] = {}
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            out[impl.plugin_name] = await await_me_maybe(impl.function(**args))
        return out

    async def call_each_safely(self, hook_name: str, **kwargs: Any) -> list[str]:
        """Call each implementation alone; a failure is logged with its plugin name.

        Returns the names of the plugins that failed. Used for after-commit events.
        """
        failed: list[str] = []
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order (pluggy calls LIFO)
            try:
                args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
                await await_me_maybe(impl.function(**args))
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
                failed.append(impl.plugin_name)
        return failed

    # -- queries -------------------------------------------------------------------

    @property
    def loaded(self) -> list[str]:
        """The loaded plugins in load order (core itself is not listed)."""
        return list(self._load_order)

    @property
    def failures(self) -> dict[str, str]:
        return {n: i.error for n, i in self.plugins.items() if i.error}

    def entity(self, name: str) -> EntityType:
        entity = self.entities.get(name)
        if entity is None:
            raise CrmError(f"no entity type {name!r}")
        return entity

    def entity_by_plural(self, plural: str) -> EntityType | None:
        return next((e for e in self.entities if e.plural == plural), None)

    def tabs_for(self, entity: str) -> list[TabProvider]:
        return [t for t in self.tabs if t.applies_to(entity)]

    def bulk_actions_for(self, entity: str) -> list[BulkAction]:
        """The plugin bulk actions of an entity (the core's own are not listed)."""
        return [a for a in self.bulk_actions if a.applies_to(entity)]

    def piccolo_apps(self) -> list[Any]:
        """The Piccolo apps of core and the loaded plugins, in plugin order."""
        apps = []
        for impl in self.pm.hook.piccolo_app.get_hookimpls():  # registration order
            app = impl.function()
            if app is not None:
                apps.append((impl.plugin_name, app))
        return apps
