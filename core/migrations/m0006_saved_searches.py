"""Core: saved searches (API.md "Saved searches")."""

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table
from piccolo.columns import JSONB, UUID, Boolean, Timestamptz, Varchar

ID = "0006_saved_searches"
VERSION = "1.38.0"
DESCRIPTION = "saved searches"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    create_table(
        manager,
        "SavedSearch",
        "crmkit_saved_search",
        id=UUID(primary_key=True),
        entity=Varchar(length=100, null=False),
        name=Varchar(length=200, null=False),
        q=Varchar(length=1000, null=True, default=None),
        filters=JSONB(default=[]),
        sort=Varchar(length=500, null=True, default=None),
        owner_id=Varchar(length=200, null=False),
        owner_kind=Varchar(length=50, null=False),
        shared=Boolean(default=False, null=False),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
        deleted_at=Timestamptz(null=True, default=None),
    )
    # One live name per owner and entity; also the index of "my searches" listings.
    add_index(
        manager,
        "crmkit_saved_search",
        ["owner_id", "owner_kind", "entity", "name"],
        unique=True,
        where="deleted_at IS NULL",
    )
    # The shared ones, listed for everyone.
    add_index(manager, "crmkit_saved_search", ["shared", "entity"], where="deleted_at IS NULL")
    return manager
