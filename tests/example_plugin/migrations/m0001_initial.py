from piccolo.columns import JSONB, UUID, Boolean, Date, Integer, Numeric, Serial, Varchar

from crmkit.core import MigrationManager, add_index, create_table, entity_columns

ID = "0001_initial"
DESCRIPTION = "vehicles and their log"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="example", description=DESCRIPTION)
    create_table(
        manager,
        "Vehicle",
        "example_vehicle",
        **entity_columns(),
        make=Varchar(length=100),
        model=Varchar(length=100, null=True, default=None),
        year=Integer(null=True, default=None),
        vin=Varchar(length=17, null=True, default=None),
        price=Numeric(digits=(12, 2), null=True, default=None),
        electric=Boolean(default=False),
        registered_on=Date(null=True, default=None),
        status=Varchar(length=20, default="in_stock"),
        features=JSONB(default=[]),
    )
    add_index(manager, "example_vehicle", ["year"])
    add_index(manager, "example_vehicle", ["status", "created_at"])
    create_table(
        manager,
        "VehicleLog",
        "example_vehicle_log",
        id=Serial(primary_key=True),
        vehicle_id=UUID(index=True),
        action=Varchar(length=20),
        fields=Varchar(length=1000),
    )
    return manager
