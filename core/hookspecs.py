"""The hooks a crmkit plugin can implement.

Specs only: each says when it is called, whether it may return an awaitable, what a
return value means and what an exception does. Implement them with
``crmkit.core.hookimpl``; an implementation may take fewer arguments than the spec.
Hooks only gain arguments; a change of meaning is a new hook name.
See docs/plugins.md for a worked example of each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # runtime-only types: importing the specs imports nothing else
    import click
    from piccolo.conf.apps import AppConfig

    from .bulk import BulkAction
    from .entity import EntityExtension, EntityType
    from .events import Event, SaveContext
    from .fields import FieldType
    from .runtime import Runtime
    from .tabs import TabProvider
    from .transfer.registry import ExportFormat, TransferColumns

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("crmkit")
hookimpl = pluggy.HookimplMarker("crmkit")


@hookspec
def register_entity_types(register: Callable[[EntityType], None]) -> None:
    """Declare the plugin's entities by calling ``register(EntityType(...))`` once each.

    Called once at start-up, synchronously. From each declaration the core serves the
    whole record and list surface of API.md. A name already taken by another plugin is
    a start-up error naming both plugins.
    """


@hookspec
def register_entity_extensions(register: Callable[[EntityExtension], None]) -> None:
    """Extend another plugin's entity by calling ``register(EntityExtension(...))``.

    Called once at start-up, after every entity is registered. An extension adds
    read-only fields (filled for a whole page by its ``expand``) and list filters to an
    entity of another plugin, e.g. organisations add ``organizations`` and
    ``?organization=`` to individuals. An extension of an entity that is not enabled
    is ignored, so a plugin can extend an optional neighbour.
    """


@hookspec
def piccolo_app() -> AppConfig | None:
    """Return the plugin's Piccolo ``AppConfig`` (its tables and migrations folder).

    Called at start-up and by ``crmkit migrate``. ``migration_dependencies`` of the app
    and the plugin's ``requires`` order the migrations across plugins.
    """


@hookspec
def route_handlers(runtime: Runtime) -> Sequence[Any] | None:
    """Return extra Litestar route handlers, controllers or routers for this plugin.

    Called once when the app is built. Paths are absolute (``/api/v1/...``); the core
    already serves the standard surface of every registered entity, so return only
    what is special to the plugin.
    """


@hookspec
def register_field_types(register: Callable[[FieldType], None]) -> None:
    """Register custom-field types by calling ``register(FieldType subclass instance)``.

    Called once at start-up. The built-in types use this same hook. A duplicate type
    name is a start-up error.
    """


@hookspec
def register_tabs(register: Callable[[TabProvider], None]) -> None:
    """Contribute detail tabs by calling ``register(TabProvider(...))``.

    Called once at start-up. A provider names its entity (or ``"*"`` for every entity),
    a key, a title, an order, and async functions for its count and page.
    """


@hookspec
def register_transfer_columns(register: Callable[[TransferColumns], None]) -> None:
    """Add CSV columns to an entity by calling ``register(TransferColumns(...))``.

    Called once at start-up, synchronously, after every entity and extension is
    registered. Export writes the columns after core's own (``export`` fills a batch of
    records at a time), import reads them back (``parse``) and applies them to the
    record just written (``apply``, inside the import's unit of work). Columns of an
    entity that is not enabled are ignored; a name already taken (by core's columns or
    another plugin) is a start-up error naming the plugin.
    """


@hookspec
def register_export_formats(register: Callable[[ExportFormat], None]) -> None:
    """Add an export format to an entity by calling ``register(ExportFormat(...))``.

    Called once at start-up, synchronously. ``GET /api/v1/<plural>/export?format=<name>``
    and ``crmkit export --format <name>`` then stream the records through its
    ``render(records)``, a batch at a time. Core writes ``csv`` and ``jsonl`` for every
    entity; a format of an entity that is not enabled is ignored; a name taken twice for
    one entity is a start-up error naming both plugins.
    """


@hookspec
def register_bulk_actions(register: Callable[[BulkAction], None]) -> None:
    """Add actions to the bulk endpoint by calling ``register(BulkAction(...))``.

    Called once at start-up, synchronously, after every entity is registered. An action
    names its entity (or ``"*"`` for every entity), a struct of its parameters, the
    permissions it needs and an async ``apply`` that runs inside the bulk call's unit of
    work (an exception there rolls the whole call back). An action for an entity that is
    not registered is left out; a core action's name, or a name another plugin took for
    the same entity, is a start-up error naming both plugins.
    """


@hookspec
def search_text(
    runtime: Runtime, entity: str, record_ids: Sequence[Any]
) -> Awaitable[dict[Any, str]] | dict[Any, str] | None:
    """Return extra searchable text for records of ``entity``, by record id.

    Called when a record's search document is (re)built, possibly inside the write
    transaction; may return an awaitable. Return ``None`` or ``{}`` to add nothing.
    """


@hookspec
def before_save(context: SaveContext) -> Awaitable[None] | None:
    """Check (and normalise) a record before it is written; may return an awaitable.

    Called inside the write transaction, before the row changes, for every create,
    update and restore. ``context.values`` is the full new record and may be modified;
    raise ``ValidationFailed`` with field errors to veto: nothing is written and the
    client gets a 422. Any exception propagates and rolls the transaction back.
    """


@hookspec
def record_changed(runtime: Runtime, event: Event) -> Awaitable[None] | None:
    """React to a change inside its transaction (the activity log); may return an awaitable.

    Called after the row is written, before commit. An exception rolls back the change
    and the error reaches the client, so only do here what must be atomic with it.
    """


@hookspec
def after_commit(runtime: Runtime, event: Event) -> Awaitable[None] | None:
    """React to a committed change (webhooks, workflows); may return an awaitable.

    Called after commit, one implementation at a time. An exception is logged with the
    plugin's name and the other implementations still run; the client's request has
    already succeeded.
    """


@hookspec
def merge_records(
    runtime: Runtime, entity: str, target_id: Any, source_ids: Sequence[Any]
) -> Awaitable[Any] | Any:
    """Re-point this plugin's references from merged-away records to the surviving one.

    Called inside the merge transaction of ``entity`` (e.g. individuals' merge); may
    return an awaitable. Return JSON-able data describing what moved: it is stored with
    the merge and handed back to ``unmerge_records`` on undo. An exception aborts the
    whole merge.
    """


@hookspec
def unmerge_records(
    runtime: Runtime, entity: str, target_id: Any, source_ids: Sequence[Any], data: Any
) -> Awaitable[None] | None:
    """Undo what ``merge_records`` did, given the data it returned for this merge.

    Called inside the undo transaction; may return an awaitable. An exception aborts
    the undo.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add Click commands or groups to the ``crmkit`` CLI (``cli.add_command(...)``).

    Called when the CLI starts, before arguments are parsed.
    """
