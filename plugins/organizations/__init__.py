"""Organisations: companies and other bodies, and the roles people have in them.

Adds the ``organization`` entity. With the individuals plugin enabled too, it also adds
links of individuals to organisations (role, period, one primary per person, history
kept), the ``organizations`` field and filters on individuals, the people of an
organisation, and tabs on both; without it, those parts are simply not there (routes,
tabs, the extension) and the hooks about people do nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from crmkit.core import (
    EntityType,
    Event,
    FieldChange,
    RecordRef,
    Runtime,
    SaveContext,
    ValidationFailed,
    hookimpl,
    sql,
)
from crmkit.plugins.individuals.normalize import Config
from piccolo.conf.apps import AppConfig

from .extension import EXTENSION, TABS
from .links import LINK_TABLE, announce, bump_version, decode, event_value, repair_primary
from .merging import merge_links, unmerge_links
from .normalize import normalise
from .schemas import OrganizationFields
from .tables import IndividualOrganization, Organization

__version__ = "0.1.0"
requires: tuple[str, ...] = ()
after: tuple[str, ...] = ("individuals",)  # people and links, when that plugin is enabled

__all__ = ["ORGANIZATION"]

ORGANIZATION = EntityType(
    name="organization",
    plural="organizations",
    title="Organization",
    description="A company or other body that people belong to, with its contact details.",
    table=Organization,
    schema=OrganizationFields,
    searchable=("name", "legal_name", "org_number", "domain", "industry"),
    default_sort=("name",),
    display=lambda r: r.get("name") or "",
    owner_fields=("owner_id",),
)


def _with_people(runtime: Runtime) -> bool:
    """Whether the ``individual`` entity is registered (its plugin is enabled)."""
    return "individual" in runtime.plugins.entities


def _config(runtime: Runtime) -> tuple[Config, tuple[str, ...] | None]:
    own = runtime.settings.plugin_settings("organizations")
    people = runtime.settings.plugin_settings("individuals")
    region = (
        own.get("default_region") or people.get("default_region") or runtime.settings.default_region
    )
    types = own.get("types")
    return Config(default_region=str(region), types=()), tuple(types) if types else None


@hookimpl
def register_entity_types(register: Any) -> None:
    register(ORGANIZATION)


@hookimpl
def register_entity_extensions(register: Any) -> None:
    register(EXTENSION)


@hookimpl
def register_transfer_columns(register: Any) -> None:
    from .transfer import COLUMNS

    register(COLUMNS)


@hookimpl
def piccolo_app() -> AppConfig:
    return AppConfig(
        app_name="organizations",
        migrations_folder_path=str(Path(__file__).parent / "migrations"),
        table_classes=[Organization, IndividualOrganization],
    )


@hookimpl
def before_save(context: SaveContext) -> None:
    if context.entity.name != "organization" or context.action == "restore":
        return
    config, types = _config(context.runtime)
    errors = normalise(context.values, context.old, config, types)
    if errors:
        n = len(errors)
        raise ValidationFailed(
            f"{n} problem{'s' if n != 1 else ''} in the organization", errors=errors
        )


@hookimpl
async def record_changed(runtime: Runtime, event: Event) -> None:
    """A record removed for good takes its links with it (announced on the other side)."""
    if event.action != "hard_delete" or event.entity not in ("individual", "organization"):
        return
    if not _with_people(runtime):
        return  # no people, no links to keep in step (and no individual table to read)
    column = "individual_id" if event.entity == "individual" else "organization_id"
    rows = await runtime.db.fetch(
        sql(f"SELECT * FROM {LINK_TABLE} WHERE {column} = {{}}", event.record_id)
    )
    if not rows:
        return
    await runtime.db.execute(
        sql(f"DELETE FROM {LINK_TABLE} WHERE {column} = {{}}", event.record_id)
    )
    gone = event.record or {}
    links = [decode(r) for r in rows]
    if event.entity == "organization":
        for individual_id in dict.fromkeys(x["individual_id"] for x in links):
            await repair_primary(runtime, individual_id)
            await bump_version(runtime, individual_id, event.actor, event.occurred_at)
    for link in links:
        if event.entity == "organization":
            person = await runtime.records("individual").fetch_row(
                link["individual_id"], include_deleted=True
            )
            link["organization_name"] = gone.get("name")
            await announce(
                runtime,
                "unlink",
                person=person,
                organization=None,
                organization_id=link["organization_id"],
                old=link,
                new=None,
                actor=event.actor,
                source=event.source,
                person_summary=(
                    f"unlinked: {gone.get('name') or 'the organisation'} was removed for good"
                ),
                organization_summary="",
                data={"link_id": str(link["id"])},
            )
        else:
            organization = await runtime.records("organization").fetch_row(
                link["organization_id"], include_deleted=True
            )
            link["organization_name"] = organization["name"]
            name = " ".join(filter(None, [gone.get("first_name"), gone.get("last_name")]))
            await runtime.emit(
                Event(
                    entity="organization",
                    record_id=link["organization_id"],
                    action="unlink",
                    actor=event.actor,
                    source=event.source,
                    changes=[FieldChange("people", event_value(link), None)],
                    related=[RecordRef("individual", link["individual_id"])],
                    summary=f"{name or 'a person'} unlinked: removed for good",
                    data={"link_id": str(link["id"]), "individual_id": str(link["individual_id"])},
                )
            )


@hookimpl
def route_handlers(runtime: Runtime) -> list[Any]:
    if not _with_people(runtime):
        return []  # the routes are all about links of people (the entity's own are core's)
    from .routes import handlers

    return handlers()


@hookimpl
def register_tabs(register: Any) -> None:
    # The people tab names the individual entity it needs (the host leaves it out
    # without); the organisations tab is on individuals, so it is only where they are.
    for tab in TABS:
        register(tab)


@hookimpl
def register_bulk_actions(register: Any) -> None:
    """Link and unlink individuals in bulk (left out when individuals are not enabled)."""
    from .bulk import BULK_ACTIONS

    for action in BULK_ACTIONS:
        register(action)


@hookimpl
def register_commands(cli: Any) -> None:
    """``crmkit demo`` belongs to the individuals plugin; without it, say so in one line."""
    if "demo" in cli.commands:  # individuals (loaded first, see ``after``) added it
        return
    cli.add_command(_demo_needs_individuals)


@click.command(
    "demo",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
def _demo_needs_individuals() -> None:
    """Demo data (needs the individuals plugin)."""
    raise click.ClickException(
        "demo needs the individuals plugin, which is not enabled "
        "(`crmkit plugins enable individuals`)"
    )


@hookimpl
async def merge_records(runtime: Runtime, entity: str, target_id: Any, source_ids: Any) -> Any:
    if entity != "individual" or not _with_people(runtime):
        return None
    return await merge_links(runtime, target_id, list(source_ids))


@hookimpl
async def unmerge_records(
    runtime: Runtime, entity: str, target_id: Any, source_ids: Any, data: Any
) -> None:
    if entity != "individual" or not _with_people(runtime):
        return
    await unmerge_links(runtime, target_id, list(source_ids), data)
