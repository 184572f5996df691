"""Run the Piccolo migrations of core and every enabled plugin, in dependency order.

Each plugin is one Piccolo app with its own migrations folder. Migration modules define
``ID`` and ``async def forwards() -> MigrationManager``; applied ones are recorded in
Piccolo's ``migration`` table, so Piccolo's own tooling reads the same state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from piccolo.apps.migrations.tables import Migration

from .db.sql import sql
from .errors import CrmError
from .piccolo_conf import use_engine

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["MigrationInfo", "Migrator"]


@dataclass
class MigrationInfo:
    app: str
    id: str
    description: str
    applied: bool
    module: ModuleType


def _load_module(app: str, path: Path) -> ModuleType:
    name = f"crmkit_migrations.{app}.{path.stem}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


class Migrator:
    """Forwards, backwards and status of the migrations of the runtime's plugins."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db

    def apps(self) -> list[tuple[str, Any]]:
        """``(plugin, AppConfig)`` in order: plugin order, then ``migration_dependencies``."""
        apps = self.runtime.plugins.piccolo_apps()
        names = [app.app_name for _, app in apps]
        ordered: list[tuple[str, Any]] = []
        done: set[str] = set()
        pending = list(apps)
        while pending:
            for item in pending:
                deps = [
                    d.rsplit(".", 1)[0].rsplit(".", 1)[-1] for d in item[1].migration_dependencies
                ]
                if all(d in done or d not in names for d in deps):
                    ordered.append(item)
                    done.add(item[1].app_name)
                    pending.remove(item)
                    break
            else:
                raise CrmError("Piccolo apps depend on each other in a cycle")
        return ordered

    def modules(self, app: Any) -> list[ModuleType]:
        folder = Path(app.resolved_migrations_folder_path)
        files = sorted(p for p in folder.glob("*.py") if p.stem != "__init__" and p.stem[:1] == "m")
        modules = [_load_module(app.app_name, p) for p in files]
        return sorted(modules, key=lambda m: m.ID)

    async def _ensure_table(self) -> None:
        await Migration.create_table(if_not_exists=True)

    async def applied(self) -> set[tuple[str, str]]:
        await self._ensure_table()
        rows = await self.db.fetch(sql("SELECT app_name, name FROM migration"))
        return {(r["app_name"], r["name"]) for r in rows}

    def _check_app(self, app_name: str | None) -> None:
        if app_name and app_name not in {a.app_name for _, a in self.apps()}:
            raise CrmError(f"no enabled plugin has a Piccolo app named {app_name!r}")

    async def status(self, app_name: str | None = None) -> list[MigrationInfo]:
        self._check_app(app_name)
        done = await self.applied()
        out = []
        for _, app in self.apps():
            if app_name and app.app_name != app_name:
                continue
            for module in self.modules(app):
                out.append(
                    MigrationInfo(
                        app=app.app_name,
                        id=module.ID,
                        description=getattr(module, "DESCRIPTION", "") or "",
                        applied=(app.app_name, module.ID) in done,
                        module=module,
                    )
                )
        return out

    def _prepare(self) -> None:
        os.environ.setdefault("PICCOLO_CONF", "crmkit.core.piccolo_conf")
        use_engine(self.db.engine)

    async def forwards(
        self,
        app_name: str | None = None,
        *,
        on_step: Callable[[MigrationInfo], None] | None = None,
    ) -> list[MigrationInfo]:
        """Apply every pending migration (of one app, or all); returns what ran."""
        self._prepare()
        self._check_app(app_name)
        ran = []
        for info in await self.status(app_name):
            if info.applied:
                continue
            manager = await info.module.forwards()
            async with self.db.transaction():  # the migration and its record, or neither
                with contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints progress
                    await manager.run()
                await Migration.insert(Migration(name=info.id, app_name=info.app))
            info.applied = True
            ran.append(info)
            if on_step:
                on_step(info)
        return ran

    async def backwards(
        self,
        steps: int,
        app_name: str | None = None,
        *,
        on_step: Callable[[MigrationInfo], None] | None = None,
    ) -> list[MigrationInfo]:
        """Undo the last ``steps`` applied migrations (of one app, or across all, newest first)."""
        self._prepare()
        self._check_app(app_name)
        applied = [i for i in await self.status(app_name) if i.applied]
        undone = []
        for info in reversed(applied[-steps:] if steps > 0 else []):
            manager = await info.module.forwards()
            async with self.db.transaction():
                with contextlib.redirect_stdout(io.StringIO()):
                    await manager.run(backwards=True)
                await Migration.delete().where(
                    (Migration.name == info.id) & (Migration.app_name == info.app)
                )
            info.applied = False
            undone.append(info)
            if on_step:
                on_step(info)
        return undone
