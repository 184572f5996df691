from piccolo.columns import JSONB, UUID, Text, Timestamptz, Varchar

from crmkit.core import MigrationManager, add_index, create_table

ID = "0001_initial"
DESCRIPTION = "activity entries and the records they concern"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="activity", description=DESCRIPTION)
    create_table(
        manager,
        "Activity",
        "activity",
        id=UUID(primary_key=True),
        kind=Varchar(length=50, null=False),
        actor_id=Varchar(length=200, null=True, default=None),
        actor_name=Varchar(length=200, null=True, default=None),
        actor_kind=Varchar(length=50, null=True, default=None),
        source=Varchar(length=50, null=False, default="api"),
        occurred_at=Timestamptz(),
        created_at=Timestamptz(),
        summary=Text(null=True, default=None),
        body=Text(null=True, default=None),
        data=JSONB(default={}),
        records=JSONB(default=[]),
        edited_at=Timestamptz(null=True, default=None),
        deleted_at=Timestamptz(null=True, default=None),
    )
    create_table(
        manager,
        "ActivityRecord",
        "activity_record",
        id=UUID(primary_key=True),
        activity_id=UUID(null=False),
        entity=Varchar(length=100, null=False),
        record_id=UUID(null=False),
        occurred_at=Timestamptz(),
    )
    add_index(manager, "activity", ["kind"])
    add_index(manager, "activity", ["actor_id"])
    add_index(manager, "activity", ["occurred_at"])
    add_index(manager, "activity_record", ["activity_id"])
    add_index(
        manager, "activity_record", ["entity", "record_id", "occurred_at DESC", "activity_id"]
    )
    return manager
