"""The user who owns the individual (record scope "own records" and assignment)."""

from crmkit.core import MigrationManager, add_index, run_sql

ID = "0002_owner"
DESCRIPTION = "individual.owner_id: the owning user"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="individuals", description=DESCRIPTION)
    run_sql(
        manager,
        ["ALTER TABLE individual ADD COLUMN owner_id UUID NULL"],
        ["ALTER TABLE individual DROP COLUMN owner_id"],
    )
    add_index(manager, "individual", ["owner_id"])
    return manager
