"""Core tables: the tag index and API keys."""

from piccolo.columns import UUID, Serial, Timestamptz, Varchar

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table

ID = "0001_initial"
VERSION = "1.38.0"
DESCRIPTION = "tag index and API keys"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    create_table(
        manager,
        "RecordTag",
        "crmkit_record_tag",
        id=Serial(primary_key=True),
        entity=Varchar(length=100, null=False),
        record_id=UUID(null=False, index=True),
        tag=Varchar(length=200, null=False),
    )
    add_index(manager, "crmkit_record_tag", ["entity", "tag", "record_id"])
    create_table(
        manager,
        "ApiKey",
        "crmkit_api_key",
        id=UUID(primary_key=True),
        name=Varchar(length=200, null=False),
        role=Varchar(length=50, null=False, default="admin"),
        prefix=Varchar(length=16, null=False, unique=True, index=True),
        secret_hash=Varchar(length=64, null=False),
        created_at=Timestamptz(),
        expires_at=Timestamptz(null=True, default=None),
        revoked_at=Timestamptz(null=True, default=None),
        last_used_at=Timestamptz(null=True, default=None),
    )
    return manager
