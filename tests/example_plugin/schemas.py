from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from crmkit.core import Schema


class VehicleFields(Schema):
    make: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    model: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    year: Annotated[int, msgspec.Meta(ge=1886, le=2100)] | None = None
    vin: Annotated[str, msgspec.Meta(max_length=17)] | None = None
    price: Decimal | None = None
    electric: bool = False
    registered_on: dt.date | None = None
    status: Literal["in_stock", "reserved", "sold"] = "in_stock"
    features: list[str] = []
