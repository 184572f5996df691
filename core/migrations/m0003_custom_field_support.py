"""Core: multi-select mirror, set-aside values of type changes, the definitions' generation."""

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table, run_sql
from piccolo.columns import JSONB, UUID, BigInt, Serial, Text, Timestamptz, Varchar

ID = "0003_custom_field_support"
VERSION = "1.38.0"
DESCRIPTION = "multi-select value index, unconverted values, custom-field generation"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    # One row per (record, list-valued custom field, selected value): the index behind
    # ``custom.<key>__in/nin/contains`` (JSON arrays cannot be indexed on SQLite).
    create_table(
        manager,
        "CustomValue",
        "crmkit_custom_value",
        id=Serial(primary_key=True),
        entity=Varchar(length=100, null=False),
        key=Varchar(length=63, null=False),
        value=Text(null=False),
        record_id=UUID(null=False, index=True),
    )
    add_index(manager, "crmkit_custom_value", ["entity", "key", "value", "record_id"])
    # Values a forced type change could not convert: moved here, never lost.
    create_table(
        manager,
        "CustomUnconverted",
        "crmkit_custom_unconverted",
        id=UUID(primary_key=True),
        definition_id=UUID(null=False, index=True),
        entity=Varchar(length=100, null=False),
        key=Varchar(length=63, null=False),
        record_id=UUID(null=False, index=True),
        value=JSONB(null=True, default=None),
        type_from=Varchar(length=100, null=False),
        type_to=Varchar(length=100, null=False),
        message=Text(null=False),
        created_at=Timestamptz(),
    )
    # Small shared settings of the core; ``custom_fields_generation`` is bumped in the
    # transaction of every definition change so other processes notice it.
    create_table(
        manager,
        "Meta",
        "crmkit_meta",
        key=Varchar(length=100, primary_key=True),
        value=BigInt(default=0, null=False),
    )
    run_sql(
        manager, ["INSERT INTO crmkit_meta (key, value) VALUES ('custom_fields_generation', 1)"]
    )
    return manager
