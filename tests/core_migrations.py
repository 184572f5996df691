"""Core's migrations as the Migrator finds them, so tests need not list them by hand.

Core gains migrations over time; tests that spelled out ``0001_initial``,
``0002_custom_fields`` broke with each new one. They ask the runner instead, and
check the released history below so an empty or broken discovery cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from crmkit.core import Runtime
from crmkit.core.migrate import Migrator

from tests.conftest import make_settings

__all__ = ["RELEASED", "CoreMigration", "core_migrations", "core_migrations_of"]

#: Core's first migrations, released: never renamed, removed or reordered.
RELEASED = ("0001_initial", "0002_custom_fields")


@dataclass(frozen=True)
class CoreMigration:
    id: str
    description: str

    @property
    def line(self) -> str:
        """The line ``crmkit migrate`` and ``crmkit init`` print when it is applied."""
        return f"core {self.id} {self.description}"


def core_migrations(runtime: Runtime) -> list[CoreMigration]:
    """Core's migrations, oldest first, as ``runtime``'s Migrator discovers and orders them."""
    migrator = Migrator(runtime)
    [core] = [app for _, app in migrator.apps() if app.app_name == "core"]
    found = [CoreMigration(m.ID, m.DESCRIPTION) for m in migrator.modules(core)]
    assert tuple(m.id for m in found[: len(RELEASED)]) == RELEASED, found
    return found


def core_migrations_of(db_url: str) -> list[CoreMigration]:
    """The same, for CLI tests (no runtime of their own): core only, never started."""
    return core_migrations(Runtime.create(make_settings(db_url, plugins=[])))
