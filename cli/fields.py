"""``crmkit fields``: custom-field definitions from the command line.

Each command builds the body ``/api/v1/custom-fields`` takes and hands it to the
``runtime.custom_fields`` service, so the CLI and the API accept and refuse exactly the
same definitions (the service checks them; nothing is validated twice here).
"""

from __future__ import annotations

from typing import IO, Any

import click
import msgspec
from click.core import ParameterSource
from crmkit.core.custom_fields import Definition
from crmkit.core.custom_fields.coerce import as_text
from crmkit.core.custom_fields.missing import MissingPage, missing_page
from crmkit.core.custom_fields.type_change import TypeChange, TypeChangeReport, change_type
from crmkit.core.errors import Conflict, CrmError, FieldError, NotFound, ValidationFailed
from crmkit.core.events import SYSTEM
from crmkit.core.plugins import PluginHost
from crmkit.core.runtime import Runtime
from crmkit.core.settings import load_settings

from .context import with_runtime
from .table import echo_table, fmt_time, yes_no

__all__ = ["fields"]


def _value(text: str) -> Any:
    """A JSON value from the command line; text that is not JSON is taken as a string."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _name(d: Definition) -> str:
    return f"{d.entity}.{d.key}"


async def _entity(runtime: Runtime, name: str) -> str:
    """The entity ``name`` means: its name, or its plural (``individuals``).

    An entity whose plugin is disabled still counts when it has definitions.
    """
    entities = runtime.plugins.entities
    if name in entities or name in await runtime.custom_fields.ensure():
        return name
    found = runtime.plugins.entity_by_plural(name)
    if found is not None:
        return found.name
    known = ", ".join(entities.names()) or "none: enable a plugin that has entities"
    raise NotFound(f"no entity {name!r} (entities: {known})")


def _entity_or_same(runtime: Runtime, name: str) -> str:
    """An entity's plural as its name; anything else unchanged, for the service to judge."""
    found = runtime.plugins.entity_by_plural(name)
    return found.name if found is not None and name not in runtime.plugins.entities else name


async def _find(runtime: Runtime, entity: str, key: str) -> Definition:
    """The definition of ``entity`` and ``key``, archived or not."""
    name = await _entity(runtime, entity)
    found = (await runtime.custom_fields.ensure()).get(name, {}).get(key)
    if found is None:
        raise NotFound(f"{name} has no custom field {key!r} (see `crmkit fields list {name}`)")
    return found


@click.group()
def fields() -> None:
    """List, add, archive, restore and retype custom fields; list the field types."""


# -- list ------------------------------------------------------------------------------


@fields.command("list")
@click.argument("entity", required=False)
@click.option("--archived", is_flag=True, help="Include archived fields.")
@click.option("--json", "as_json", is_flag=True, help="One definition per line, as the API has it.")
def list_(entity: str | None, archived: bool, as_json: bool) -> None:
    """The custom fields (of ENTITY), in the order they were added."""

    async def go(runtime: Runtime) -> list[Definition]:
        name = await _entity(runtime, entity) if entity else None
        return await runtime.custom_fields.list(name, archived=archived)

    found = with_runtime(go)
    if as_json:
        for d in found:
            click.echo(msgspec.json.encode(d).decode())
        return
    if not found:
        where = f"{entity} has" if entity else "there are"
        click.echo(f"{where} no custom fields (add one with `crmkit fields add`)")
        return
    echo_table(
        ["entity", "key", "label", "type", "required", "filterable", "sortable", "archived"],
        [
            (
                d.entity,
                d.key,
                d.label,
                d.type,
                yes_no(d.required),
                yes_no(d.filterable),
                yes_no(d.sortable),
                fmt_time(d.archived_at),
            )
            for d in found
        ],
    )


# -- add -------------------------------------------------------------------------------


def _body(params: dict[str, Any]) -> dict[str, Any]:
    """The API body for the options of ``crmkit fields add`` (only those given)."""
    body: dict[str, Any] = {"entity": params["entity"], "key": params["key"]}
    body["type"] = params["type_"]
    if params["label"] is not None:
        body["label"] = params["label"]
    for flag in ("required", "filterable", "sortable"):
        if params[flag]:
            body[flag] = True
    if params["default"] is not None:
        body["default"] = _value(params["default"])
    if params["options"]:
        body["options"] = list(params["options"])
    rules = {
        "min": None if params["min_"] is None else _value(params["min_"]),
        "max": None if params["max_"] is None else _value(params["max_"]),
        "min_length": params["min_length"],
        "max_length": params["max_length"],
        "pattern": params["pattern"],
        "max_selections": params["max_selections"],
    }
    rules = {name: value for name, value in rules.items() if value is not None}
    if rules:
        body["validation"] = rules
    for name, option in (("read_roles", "read_roles"), ("write_roles", "write_roles")):
        if params[option]:
            body[name] = list(params[option])
    return body


def _bodies(source: IO[str], entity: str | None) -> list[dict[str, Any]]:
    """The definitions of a JSON file: one object or an array of them.

    ``entity`` fills in the entity of those that do not name one.
    """
    try:
        data = msgspec.json.decode(source.read())
    except msgspec.DecodeError as exc:
        raise click.BadParameter(
            f"{source.name}: not JSON: {exc}", param_hint="--from-json"
        ) from None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        raise click.BadParameter(
            f"{source.name}: expected a definition object or an array of them",
            param_hint="--from-json",
        )
    if entity is not None:
        items = [{"entity": entity, **item} for item in items]
    return items


def _located(exc: CrmError, where: str) -> list[FieldError]:
    """The problems of ``exc``, each field prefixed by the definition's place in the file."""
    return [FieldError(f"{where}.{e.field}", e.message) for e in exc.errors] or [
        FieldError(where, exc.detail)
    ]


async def _create_all(runtime: Runtime, bodies: list[dict[str, Any]]) -> list[Definition]:
    """Create every definition in one transaction: all of them, or none.

    A definition the service refuses (invalid, or its key taken) does not stop the
    others from being tried, so every problem of a file is reported at once.
    """
    service = runtime.custom_fields
    made: list[Definition] = []
    problems: list[FieldError] = []
    try:
        async with runtime.db.transaction():
            for i, body in enumerate(bodies):
                try:
                    made.append(await service.create(body))
                except (ValidationFailed, Conflict) as exc:  # raised before any failed SQL
                    if len(bodies) == 1:
                        raise
                    problems += _located(exc, f"[{i}]")
            if problems:  # rolls back the definitions made so far
                raise ValidationFailed(
                    f"invalid custom field definitions; none of the {len(bodies)} was added",
                    errors=problems,
                )
    finally:
        service.invalidate()
    return made


@fields.command()
@click.argument("entity", required=False)
@click.argument("key", required=False)
@click.option(
    "--type",
    "type_",
    metavar="TYPE",
    help="The field type (see `crmkit fields types`): text, number, select, ...",
)
@click.option("--label", help="Shown in UIs (default: from the key, budget_eur -> Budget eur).")
@click.option("--required", is_flag=True, help="A record must have a value.")
@click.option(
    "--default",
    metavar="JSON",
    help="The value of new records: a JSON value ('12', '\"12\"', '[\"a\"]'); text that is "
    "not JSON is taken as a string.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="VALUE",
    help="A choice of a select or multi_select field (repeat it).",
)
@click.option("--min", "min_", metavar="N", help="Smallest number, or earliest date (YYYY-MM-DD).")
@click.option("--max", "max_", metavar="N", help="Largest number, or latest date (YYYY-MM-DD).")
@click.option("--min-length", type=int, metavar="N", help="Shortest text.")
@click.option("--max-length", type=int, metavar="N", help="Longest text.")
@click.option("--pattern", metavar="RE", help="A regular expression text values must match.")
@click.option("--max-selections", type=int, metavar="N", help="Most choices of a multi_select.")
@click.option("--filterable", is_flag=True, help="Index it for filters (custom.KEY__op=).")
@click.option("--sortable", is_flag=True, help="Index it for sorting (sort=custom.KEY).")
@click.option(
    "--read-role",
    "read_roles",
    multiple=True,
    metavar="ROLE",
    help="A role that may read it (repeat).",
)
@click.option(
    "--write-role",
    "write_roles",
    multiple=True,
    metavar="ROLE",
    help="A role that may write it (repeat).",
)
@click.option(
    "--from-json",
    "source",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE|-",
    help="Add the definitions of a JSON file (- for stdin): one API body or an array of "
    "them, all or none; ENTITY fills in a missing entity. Takes no other option.",
)
@click.pass_context
def add(ctx: click.Context, source: IO[str] | None, **params: Any) -> None:
    """Add the custom field KEY to ENTITY (or every definition of --from-json).

    \b
    crmkit fields add individual budget --type number --min 0 --filterable --sortable
    crmkit fields add individual tier --type select --option gold --option silver
    crmkit fields add --from-json fields.json
    """
    if source is not None:
        given = [
            p.opts[0]
            for p in ctx.command.params
            if p.name not in ("entity", "key", "source")
            and ctx.get_parameter_source(p.name or "") is ParameterSource.COMMANDLINE
        ]
        if params["key"] is not None:
            given.insert(0, "KEY")
        if given:
            raise click.UsageError(
                f"--from-json takes no KEY or other options ({', '.join(given)})"
            )
        bodies = _bodies(source, params["entity"])
    else:
        missing = [n for n in ("entity", "key") if params[n] is None]
        if missing:
            raise click.UsageError(f"missing {' and '.join(n.upper() for n in missing)}")
        if params["type_"] is None:
            raise click.UsageError("missing --type (see `crmkit fields types`)")
        bodies = [_body(params)]

    async def go(runtime: Runtime) -> list[Definition]:
        for body in bodies:
            if isinstance(body.get("entity"), str):
                body["entity"] = _entity_or_same(runtime, body["entity"])
        return await _create_all(runtime, bodies)

    for d in with_runtime(go):
        click.echo(f"added the custom field {_name(d)} ({d.type}, id {d.id})")


# -- remove, restore ---------------------------------------------------------------------


@fields.command()
@click.argument("entity")
@click.argument("key")
def remove(entity: str, key: str) -> None:
    """Archive a custom field: its values are kept, and come back with `restore`.

    Like DELETE /api/v1/custom-fields/{id}: the key stays taken, records keep their
    values (which writes can no longer change), and the field leaves listings.
    """

    async def go(runtime: Runtime) -> tuple[Definition, bool]:
        found = await _find(runtime, entity, key)
        if found.archived:
            return found, False
        return await runtime.custom_fields.set_archived(found.id, True), True

    d, changed = with_runtime(go)
    if changed:
        click.echo(
            f"archived the custom field {_name(d)}; records keep its values "
            f"(`crmkit fields restore {d.entity} {d.key}` brings it back)"
        )
    else:
        click.echo(
            f"the custom field {_name(d)} was archived already, on {fmt_time(d.archived_at)} UTC"
        )


@fields.command()
@click.argument("entity")
@click.argument("key")
def restore(entity: str, key: str) -> None:
    """Restore an archived custom field, with the values records kept."""

    async def go(runtime: Runtime) -> tuple[Definition, bool]:
        found = await _find(runtime, entity, key)
        if not found.archived:
            return found, False
        return await runtime.custom_fields.set_archived(found.id, False), True

    d, changed = with_runtime(go)
    if changed:
        click.echo(f"restored the custom field {_name(d)}, with the values records kept")
    else:
        click.echo(f"the custom field {_name(d)} is not archived")


# -- change-type, missing -----------------------------------------------------------------


def _short(value: Any, width: int = 40) -> str:
    text = as_text(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def _echo_report(report: TypeChangeReport) -> None:
    """The counts, then the first values that cannot be converted (a table)."""
    click.echo(f"records with a value: {report.records} (soft-deleted ones included)")
    click.echo(f"convertible:          {report.convertible} ({report.changed} change their form)")
    click.echo(f"unconvertible:        {report.unconvertible}")
    if report.failures:
        shown = len(report.failures)
        more = f", the first {shown}" if shown < report.unconvertible else ""
        click.echo(f"values that cannot be converted{more}:")
        echo_table(
            ["record", "value", "reason"],
            [(f.record_id, _short(f.value), f.message) for f in report.failures],
        )


@fields.command("change-type")
@click.argument("entity")
@click.argument("key")
@click.option(
    "--type", "type_", required=True, metavar="TYPE", help="The new type (`crmkit fields types`)."
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="VALUE",
    help="A choice of the new select or multi_select type (repeat it; default: the old ones).",
)
@click.option(
    "--default",
    metavar="JSON",
    help="A new default ('null' for none; default: the old one, converted).",
)
@click.option("--apply", is_flag=True, help="Apply the change (without it: a dry run).")
@click.option(
    "--force",
    is_flag=True,
    help="With --apply: move the values that cannot be converted aside instead of refusing.",
)
def change_type_(
    entity: str,
    key: str,
    type_: str,
    options: tuple[str, ...],
    default: str | None,
    apply: bool,
    force: bool,
) -> None:
    """Change the type of the custom field KEY of ENTITY, converting every value.

    Like POST /api/v1/custom-fields/{id}/change-type: a dry run by default, which
    reports how many values convert and the first that do not. --apply converts them
    all in one transaction; it is refused (nothing changes) while some values cannot
    be converted, unless --force moves those aside: they leave the records and are
    listed by GET /api/v1/custom-fields/{id}/unconverted.

    \b
    crmkit fields change-type individual nps --type integer
    crmkit fields change-type individual nps --type integer --apply
    """
    if force and not apply:
        raise click.UsageError("--force only applies with --apply")
    body: dict[str, Any] = {"type": type_, "dry_run": not apply, "force": force}
    if options:
        body["options"] = list(options)
    if default is not None:
        body["default"] = _value(default)
    change = msgspec.convert(body, TypeChange)

    async def go(runtime: Runtime) -> tuple[Definition, TypeChangeReport, bool]:
        found = await _find(runtime, entity, key)
        try:
            report = await change_type(runtime, found.id, change, actor=SYSTEM, source="cli")
        except Conflict as exc:  # values cannot be converted: the report comes with it
            if not any(e.field == "force" for e in exc.errors):
                raise
            return found, msgspec.convert(exc.extra, TypeChangeReport), False
        return found, report, True

    d, report, done = with_runtime(go)
    name, change_to = _name(d), f"{report.type_from} to {report.type_to}"
    if not apply:
        click.echo(f"dry run: {name} from {change_to}; nothing was changed")
        _echo_report(report)
        if report.unconvertible:
            click.echo("fix those values, or run it again with --apply --force to move them aside")
        else:
            click.echo("run it again with --apply to apply it")
        return
    _echo_report(report)
    if not done:
        raise click.ClickException(
            f"{report.unconvertible} value(s) of {name} cannot be converted to "
            f"{report.type_to}; nothing was changed: fix them, or add --force to move "
            "them aside"
        )
    click.echo(f"changed {name} from {change_to}")
    if report.set_aside:
        click.echo(
            f"moved {report.set_aside} value(s) aside: GET /api/v1/custom-fields/{d.id}/"
            "unconverted lists them"
        )


@fields.command()
@click.argument("entity")
@click.argument("key")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many record ids to print.",
)
def missing(entity: str, key: str, limit: int) -> None:
    """Live records of ENTITY without a value for the custom field KEY.

    After making a field required (which changes no record): how many records lack
    it, and the first ids, to fill in. GET /api/v1/custom-fields/{id}/missing pages
    through all of them.
    """

    async def go(runtime: Runtime) -> tuple[Definition, MissingPage]:
        found = await _find(runtime, entity, key)
        return found, await missing_page(runtime, found, limit=limit)

    d, page = with_runtime(go)
    if not page.total:
        click.echo(f"every live {d.entity} record has a value for {_name(d)}")
        return
    click.echo(f"{page.total} live {d.entity} record(s) have no value for {_name(d)}:")
    for record_id in page.data:
        click.echo(str(record_id))
    if page.total > len(page.data):
        click.echo(
            f"... and {page.total - len(page.data)} more "
            f"(GET /api/v1/custom-fields/{d.id}/missing lists them all)"
        )


# -- types -------------------------------------------------------------------------------


@fields.command()
@click.option("--json", "as_json", is_flag=True, help="One type per line.")
def types(as_json: bool) -> None:
    """The field types --type accepts, those of the enabled plugins included.

    The operators are the filter operators a field of the type declares
    (custom.KEY__op=VALUE); no database is needed.
    """
    registry = PluginHost(load_settings().plugins).field_types
    found = [
        {
            "name": t.name,
            "label": t.label,
            "storage": t.storage,
            "operators": sorted(t.operators),
            "plugin": registry.owner(t.name),
        }
        for t in registry
    ]
    if as_json:
        for item in found:
            click.echo(msgspec.json.encode(item).decode())
        return
    echo_table(
        ["name", "label", "storage", "operators", "plugin"],
        [
            (*(t[k] for k in ("name", "label", "storage")), " ".join(t["operators"]), t["plugin"])
            for t in found
        ],
    )
