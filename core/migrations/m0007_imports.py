"""Core: import jobs and what each one wrote (API.md "Import and export")."""

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table
from piccolo.columns import JSONB, UUID, Integer, Serial, Text, Timestamptz, Varchar

ID = "0007_imports"
VERSION = "1.38.0"
DESCRIPTION = "import jobs and their items"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    create_table(
        manager,
        "ImportJob",
        "crmkit_import",
        id=UUID(primary_key=True),
        entity=Varchar(length=100, null=False),
        format=Varchar(length=20, null=False),
        # running, completed, rolled_back (atomic with errors), failed, reverted
        status=Varchar(length=20, null=False, default="running"),
        options=JSONB(default={}),
        rows=Integer(default=0, null=False),
        created=Integer(default=0, null=False),
        updated=Integer(default=0, null=False),
        skipped=Integer(default=0, null=False),
        failed=Integer(default=0, null=False),
        error_count=Integer(default=0, null=False),
        # the first errors (capped), and the columns the file had that were ignored
        errors=JSONB(default=[]),
        unknown_columns=JSONB(default=[]),
        detail=Text(null=True, default=None),
        actor=Varchar(length=200, null=False),
        actor_name=Varchar(length=200, null=True, default=None),
        created_at=Timestamptz(),
        finished_at=Timestamptz(null=True, default=None),
        reverted_at=Timestamptz(null=True, default=None),
        reverted_by=Varchar(length=200, null=True, default=None),
    )
    # Listing: newest first, by entity and status (keyset on created_at, id).
    add_index(manager, "crmkit_import", ["created_at", "id"])
    add_index(manager, "crmkit_import", ["entity", "status", "created_at"])
    create_table(
        manager,
        "ImportItem",
        "crmkit_import_item",
        id=Serial(primary_key=True),
        import_id=UUID(null=False),
        entity=Varchar(length=100, null=False),
        record_id=UUID(null=False),
        row=Integer(null=False),
        # created | updated; ``before`` holds an updated record's writable values
        action=Varchar(length=10, null=False),
        before=JSONB(null=True, default=None),
        # the record's version right after the import changed it (revert checks it)
        version=Integer(null=False),
    )
    add_index(manager, "crmkit_import_item", ["import_id", "id"])
    add_index(manager, "crmkit_import_item", ["record_id"])
    return manager
