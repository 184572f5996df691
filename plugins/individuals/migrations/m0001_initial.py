from piccolo.columns import JSONB, UUID, Date, Serial, Text, Timestamptz, Varchar

from crmkit.core import MigrationManager, add_index, create_table, entity_columns

ID = "0001_initial"
DESCRIPTION = "individuals, their email and phone indexes, merges"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="individuals", description=DESCRIPTION)
    create_table(
        manager,
        "Individual",
        "individual",
        **entity_columns(),
        first_name=Varchar(length=100),
        last_name=Varchar(length=100),
        middle_name=Varchar(length=100, null=True, default=None),
        salutation=Varchar(length=30, null=True, default=None),
        emails=JSONB(default=[]),
        phones=JSONB(default=[]),
        addresses=JSONB(default=[]),
        preferred_contact_method=Varchar(length=10, null=True, default=None),
        timezone=Varchar(length=64, null=True, default=None),
        language=Varchar(length=10, null=True, default=None),
        job_title=Varchar(length=200, null=True, default=None),
        department=Varchar(length=200, null=True, default=None),
        notes=Text(null=True, default=None),
        type=Varchar(length=50, default="contact"),
        status=Varchar(length=10, default="active"),
        birthday=Date(null=True, default=None),
        primary_email=Varchar(length=320, null=True, default=None),
        name_key=Varchar(length=250, null=True, default=None),
        merged_into=UUID(null=True, default=None),
    )
    for columns in (
        ["last_name", "first_name"],
        ["first_name"],
        ["type", "created_at"],
        ["status"],
        ["name_key"],
        ["primary_email"],
        ["job_title"],
        ["birthday"],
    ):
        add_index(manager, "individual", columns)
    create_table(
        manager,
        "IndividualEmail",
        "individual_email",
        id=Serial(primary_key=True),
        individual_id=UUID(null=False),
        address=Varchar(length=320, null=False),
        domain=Varchar(length=255, null=False),
    )
    add_index(manager, "individual_email", ["address", "individual_id"])
    add_index(manager, "individual_email", ["domain"])
    add_index(manager, "individual_email", ["individual_id"])
    create_table(
        manager,
        "IndividualPhone",
        "individual_phone",
        id=Serial(primary_key=True),
        individual_id=UUID(null=False),
        number=Varchar(length=20, null=False),
    )
    add_index(manager, "individual_phone", ["number", "individual_id"])
    add_index(manager, "individual_phone", ["individual_id"])
    create_table(
        manager,
        "IndividualMerge",
        "individual_merge",
        id=UUID(primary_key=True),
        target_id=UUID(null=False),
        source_ids=JSONB(default=[]),
        snapshot=JSONB(default={}),
        actor=Varchar(length=200, null=True, default=None),
        created_at=Timestamptz(),
        undone_at=Timestamptz(null=True, default=None),
    )
    add_index(manager, "individual_merge", ["target_id"])
    return manager
