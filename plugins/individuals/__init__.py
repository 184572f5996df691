"""Individuals: people, their contact details, data quality, duplicates and merges."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from crmkit.core import (
    Conflict,
    EntityType,
    Event,
    FieldError,
    Filter,
    Runtime,
    SaveContext,
    ValidationFailed,
    hookimpl,
    sql,
)
from piccolo.conf.apps import AppConfig

from .duplicates import BLOCKING_SCORE, find_candidates
from .normalize import DEFAULT_TYPES, Config, name_key, normalise, normalise_email, normalise_phone
from .schemas import IndividualFields
from .tables import Individual, IndividualEmail, IndividualMerge, IndividualPhone

__version__ = "0.1.0"
requires: tuple[str, ...] = ()

__all__ = ["INDIVIDUAL"]


def _email_filter(runtime: Runtime, op: str, value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    try:
        normalised = [normalise_email(v) for v in values]
    except ValueError:
        normalised = [v.strip().lower() for v in values]
    inner = sql(", ".join("{}" for _ in normalised), *normalised)
    return sql("t.id IN (SELECT individual_id FROM individual_email WHERE address IN ({}))", inner)


def _phone_filter(runtime: Runtime, op: str, value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    region = config(runtime)[0].default_region
    normalised = []
    for v in values:
        try:
            normalised.append(normalise_phone(v, region))
        except ValueError:
            normalised.append(v.strip())
    inner = sql(", ".join("{}" for _ in normalised), *normalised)
    return sql("t.id IN (SELECT individual_id FROM individual_phone WHERE number IN ({}))", inner)


def _domain_filter(runtime: Runtime, op: str, value: Any) -> Any:
    return sql(
        "t.id IN (SELECT individual_id FROM individual_email WHERE domain = {})",
        value.strip().lower().lstrip("@"),
    )


INDIVIDUAL = EntityType(
    name="individual",
    plural="individuals",
    title="Individual",
    description="A person: contact details, preferences and classification.",
    table=Individual,
    schema=IndividualFields,
    searchable=(
        "first_name",
        "last_name",
        "emails",
        "phones",
        "addresses",
        "job_title",
        "department",
        "notes",
    ),
    filters={
        "email": Filter(
            _email_filter,
            frozenset({"eq", "in"}),
            description="any of the emails",
            reveals=("emails",),
        ),
        "phone": Filter(
            _phone_filter,
            frozenset({"eq", "in"}),
            description="any of the phones (E.164 or local)",
            reveals=("phones",),
        ),
        "email_domain": Filter(
            _domain_filter, description="an email at this domain", reveals=("emails",)
        ),
    },
    derived_from={"primary_email": ("emails",), "name_key": ("first_name", "last_name")},
    owner_fields=("owner_id",),
    read_only={"merged_into": UUID | None},
    default_sort=("last_name", "first_name"),
    display=lambda r: " ".join(filter(None, [r.get("first_name"), r.get("last_name")])),
)


def config(runtime: Runtime) -> tuple[Config, set[str]]:
    settings = runtime.settings.plugin_settings("individuals")
    region = str(settings.get("default_region") or runtime.settings.default_region)
    types = tuple(settings.get("types") or DEFAULT_TYPES)
    default_type = str(
        settings.get("default_type") or ("contact" if "contact" in types else types[0])
    )
    return (
        Config(default_region=region, types=types, default_type=default_type),
        set(settings.get("disabled_rules") or []),
    )


@hookimpl
def register_entity_types(register: Any) -> None:
    register(INDIVIDUAL)


@hookimpl
def register_export_formats(register: Any) -> None:
    from .formats import VCF

    register(VCF)


@hookimpl
def piccolo_app() -> AppConfig:
    return AppConfig(
        app_name="individuals",
        migrations_folder_path=str(Path(__file__).parent / "migrations"),
        table_classes=[Individual, IndividualEmail, IndividualPhone, IndividualMerge],
    )


@hookimpl
async def before_save(context: SaveContext) -> None:
    if context.entity.name != "individual" or context.action == "restore":
        return
    values = context.values
    cfg, disabled = config(context.runtime)
    errors = normalise(values, cfg, disabled)
    # a name of blanks only ("\r", "  ") is no name: required fields stay required
    for name in ("first_name", "last_name"):
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            if not any(e.field == name for e in errors):
                errors.append(FieldError(name, "required: must not be blank"))
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the individual",
            errors=errors,
        )
    emails = values.get("emails") or []
    values["primary_email"] = next((e["address"] for e in emails if e.get("primary")), None)
    values["name_key"] = name_key(values.get("first_name"), values.get("last_name"))
    if context.data.get("skip_duplicate_check"):
        return
    old = context.old or {}
    relevant = ("emails", "phones", "first_name", "last_name")
    if context.action == "update" and all(old.get(f) == values.get(f) for f in relevant):
        return
    candidates = await find_candidates(context.runtime, values, exclude=old.get("id"), limit=10)
    blocking = [c for c in candidates if c.score >= BLOCKING_SCORE]
    if blocking:
        raise Conflict(
            f"{len(blocking)} likely duplicate{'s' if len(blocking) != 1 else ''}; send "
            "X-Skip-Duplicate-Check: true (or ?allow_duplicates=true) to save anyway",
            extra={
                "duplicates": [
                    {
                        "id": str(c.id),
                        "score": c.score,
                        "reasons": c.reasons,
                        "first_name": c.first_name,
                        "last_name": c.last_name,
                    }
                    for c in blocking
                ]
            },
        )


async def _sync_contact_index(runtime: Runtime, record: dict[str, Any]) -> None:
    """Keep individual_email and individual_phone equal to the record's lists."""
    rid = record["id"]
    db = runtime.db
    await db.execute(sql("DELETE FROM individual_email WHERE individual_id = {}", rid))
    await db.execute(sql("DELETE FROM individual_phone WHERE individual_id = {}", rid))
    emails = [e["address"] for e in record.get("emails") or []]
    if emails:
        rows = sql(
            ", ".join("({}, {}, {})" for _ in emails),
            *[v for a in emails for v in (rid, a, a.split("@", 1)[-1])],
        )
        await db.execute(
            sql("INSERT INTO individual_email (individual_id, address, domain) VALUES {}", rows)
        )
    phones = [p["number"] for p in record.get("phones") or []]
    if phones:
        rows = sql(", ".join("({}, {})" for _ in phones), *[v for n in phones for v in (rid, n)])
        await db.execute(
            sql("INSERT INTO individual_phone (individual_id, number) VALUES {}", rows)
        )


@hookimpl
async def record_changed(runtime: Runtime, event: Event) -> None:
    if event.entity != "individual" or event.record is None:
        return
    if event.action == "create" or any(c.field in ("emails", "phones") for c in event.changes):
        await _sync_contact_index(runtime, event.record)
    elif event.action == "hard_delete":
        await runtime.db.execute(
            sql("DELETE FROM individual_email WHERE individual_id = {}", event.record_id)
        )
        await runtime.db.execute(
            sql("DELETE FROM individual_phone WHERE individual_id = {}", event.record_id)
        )


@hookimpl
def route_handlers(runtime: Runtime) -> list[Any]:
    from .routes import handlers

    return handlers()


@hookimpl
def register_commands(cli: Any) -> None:
    from .demo import demo_command

    cli.add_command(demo_command)
