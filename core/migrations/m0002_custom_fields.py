"""Core: custom-field definitions."""

from piccolo.columns import JSONB, UUID, Boolean, Integer, Timestamptz, Varchar

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table

ID = "0002_custom_fields"
VERSION = "1.38.0"
DESCRIPTION = "custom-field definitions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    create_table(
        manager,
        "CustomField",
        "crmkit_custom_field",
        id=UUID(primary_key=True),
        entity=Varchar(length=100, null=False),
        key=Varchar(length=63, null=False),
        label=Varchar(length=200, null=False),
        type=Varchar(length=100, null=False),
        required=Boolean(default=False, null=False),
        default_value=JSONB(null=True, default=None),
        options=JSONB(default=[]),
        validation=JSONB(default={}),
        filterable=Boolean(default=False, null=False),
        sortable=Boolean(default=False, null=False),
        read_roles=JSONB(default=[]),
        write_roles=JSONB(default=[]),
        archived_at=Timestamptz(null=True, default=None),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
        version=Integer(default=1, null=False),
    )
    add_index(manager, "crmkit_custom_field", ["entity", "key"], unique=True)
    return manager
