from piccolo.columns import JSONB, UUID, Boolean, Date, Text, Timestamptz, Varchar

from crmkit.core import MigrationManager, add_index, create_table, entity_columns, run_sql

ID = "0001_initial"
DESCRIPTION = "organisations and the links of individuals to them"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="organizations", description=DESCRIPTION)
    create_table(
        manager,
        "Organization",
        "organization",
        **entity_columns(),
        name=Varchar(length=200),
        legal_name=Varchar(length=300, null=True, default=None),
        org_number=Varchar(length=50, null=True, default=None),
        website=Varchar(length=500, null=True, default=None),
        domain=Varchar(length=255, null=True, default=None),
        industry=Varchar(length=100, null=True, default=None),
        type=Varchar(length=50, null=True, default=None),
        emails=JSONB(default=[]),
        phones=JSONB(default=[]),
        addresses=JSONB(default=[]),
    )
    for columns in (["name"], ["org_number"], ["domain"], ["type", "created_at"], ["industry"]):
        add_index(manager, "organization", columns)
    create_table(
        manager,
        "IndividualOrganization",
        "individual_organization",
        id=UUID(primary_key=True),
        individual_id=UUID(null=False),
        organization_id=UUID(null=False),
        role=Varchar(length=100, null=True, default=None),
        primary=Boolean(default=False, null=False),
        start_date=Date(null=True, default=None),
        end_date=Date(null=True, default=None),
        notes=Text(null=True, default=None),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
    )
    add_index(manager, "individual_organization", ["individual_id"])
    add_index(manager, "individual_organization", ["organization_id", "end_date"])
    add_index(manager, "individual_organization", ["role"])
    # At most one primary link per person (the plugin keeps exactly one among the current).
    run_sql(
        manager,
        [
            "CREATE UNIQUE INDEX IF NOT EXISTS individual_organization_one_primary_idx "
            'ON individual_organization (individual_id) WHERE "primary"'
        ],
        ["DROP INDEX IF EXISTS individual_organization_one_primary_idx"],
    )
    return manager
