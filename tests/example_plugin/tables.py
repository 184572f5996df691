from crmkit.core import EntityTable
from piccolo.columns import JSONB, UUID, Boolean, Date, Integer, Numeric, Serial, Varchar
from piccolo.table import Table


class Vehicle(EntityTable, tablename="example_vehicle"):
    make = Varchar(length=100)
    model = Varchar(length=100, null=True, default=None)
    year = Integer(null=True, default=None)
    vin = Varchar(length=17, null=True, default=None)
    price = Numeric(digits=(12, 2), null=True, default=None)
    electric = Boolean(default=False)
    registered_on = Date(null=True, default=None)
    status = Varchar(length=20, default="in_stock")
    features = JSONB(default=[])


class VehicleLog(Table, tablename="example_vehicle_log"):
    id = Serial(primary_key=True)
    vehicle_id = UUID(index=True)
    action = Varchar(length=20)
    fields = Varchar(length=1000)
