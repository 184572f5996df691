"""The user who owns the organization (record scope "own records" and assignment)."""

from crmkit.core import MigrationManager, add_index, run_sql

ID = "0002_owner"
DESCRIPTION = "organization.owner_id: the owning user"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="organizations", description=DESCRIPTION)
    run_sql(
        manager,
        ["ALTER TABLE organization ADD COLUMN owner_id UUID NULL"],
        ["ALTER TABLE organization DROP COLUMN owner_id"],
    )
    add_index(manager, "organization", ["owner_id"])
    return manager
