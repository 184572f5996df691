"""A third-party field type: a 1-5 star ``rating``, registered through the hook only."""

from __future__ import annotations

from typing import Any

from crmkit.core import FieldType, hookimpl

__version__ = "1.0.0"


class Rating(FieldType):
    name = "rating"
    label = "Rating (1-5 stars)"
    storage = "number"
    operators = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "isnull"})
    value_type = int

    def convert(self, value: Any, definition: Any = None) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError("expected a whole number of stars from 1 to 5")
        return value

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "maximum": 5}


@hookimpl
def register_field_types(register):
    register(Rating())
