"""The runtime: settings, loaded plugins and the database, shared by the API and the CLI."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Mapping
from typing import Any

from piccolo.apps.migrations.tables import Migration
from piccolo.table import Table

from .access import Access
from .custom_fields.definitions import CustomFields
from .db import Database, open_database
from .entity import EntityType
from .events import Event
from .permissions import Permissions
from .plugins import PluginHost
from .query.compile import CustomTypes
from .records import Records
from .settings import Settings, load_settings

__all__ = ["Runtime"]

_pending: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "crmkit_pending_events", default=None
)


class Runtime:
    """Everything a request or a command needs. Build one with :meth:`create`."""

    def __init__(self, settings: Settings, plugins: PluginHost, db: Database) -> None:
        self.settings = settings
        self.plugins = plugins
        self.db = db
        #: ``(entity, key) -> (kind, type)`` of custom fields, set by the custom-field feature.
        self.custom_types: CustomTypes | None = None
        #: Custom-field definitions (cached; refreshed when a definition changes).
        self.custom_fields = CustomFields(self)
        self.custom_types = self.custom_fields.lookup
        self._records: dict[str, Records] = {}
        #: Custom roles and field rules (cached), and the ``Access`` of each actor.
        self.permissions = Permissions(self)
        self.started = False

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        extra_plugins: Mapping[str, Any] | None = None,
    ) -> Runtime:
        settings = settings or load_settings()
        plugins = PluginHost(settings.plugins, extra=extra_plugins)
        db = open_database(
            settings.database_url,
            pool_size=settings.pool_size,
            busy_timeout=settings.sqlite_busy_timeout,
        )
        runtime = cls(settings, plugins, db)
        db.bind(runtime.tables())
        return runtime

    def tables(self) -> list[type[Table]]:
        """Every table of the loaded plugins' Piccolo apps (and Piccolo's migration table)."""
        tables: list[type[Table]] = [Migration]
        for _, app in self.plugins.piccolo_apps():
            tables.extend(app.table_classes)
        return tables

    async def start(self) -> None:
        if not self.started:
            self.db.bind(self.tables())
            await self.db.connect()
            self.started = True

    async def stop(self) -> None:
        if self.started:
            from .apikeys import flush_usage  # pending ``last_used_at`` writes first

            await flush_usage(self)
            await self.db.close()
            self.started = False

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- entities --------------------------------------------------------------------

    @property
    def entities(self) -> list[EntityType]:
        return list(self.plugins.entities)

    def records(self, entity: str | EntityType, access: Access | None = None) -> Records:
        """The record service of an entity (by name or declaration).

        With ``access`` (a request's), every read is limited to what it may see and every
        write to what it may change; without, the service acts for the system.
        """
        name = entity if isinstance(entity, str) else entity.name
        if access is not None and not access.is_admin:
            return Records(self, self.plugins.entity(name), access)
        service = self._records.get(name)
        if service is None:
            service = self._records[name] = Records(self, self.plugins.entity(name))
        return service

    # -- writes and events -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """A unit of work: one transaction; its events go to ``after_commit`` once it commits.

        Nested calls join the outer unit, so a bulk change or a merge commits (and
        announces) all of its records at once or none of them.
        """
        if _pending.get() is not None:
            async with self.db.transaction():
                yield
            return
        events: list[Event] = []
        token = _pending.set(events)
        try:
            async with self.db.transaction():
                yield
        finally:
            _pending.reset(token)
        for event in events:
            await self.plugins.call_each_safely("after_commit", runtime=self, event=event)

    async def emit(self, event: Event) -> None:
        """Announce a change inside its unit of work (``record_changed`` runs now)."""
        pending = _pending.get()
        if pending is None:
            raise RuntimeError("emit() outside Runtime.write()")
        await self.plugins.call("record_changed", runtime=self, event=event)
        pending.append(event)
