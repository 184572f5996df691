"""Custom-field types: the interface a field type implements (registered through a hook)."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

__all__ = ["FieldType"]

#: Operators every comparable type supports; types narrow or widen this.
ORDERED_OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "isnull"})


class FieldType:
    """A custom-field type. Subclass it and register an instance with ``register_field_types``.

    ``value_type`` is the msgspec type a value must convert to; ``storage`` says how the
    value compares in SQL (``text``, ``number``, ``date``, ``datetime``, ``boolean`` or
    ``array``) so filters and sorts compare numbers as numbers on both engines.
    """

    name: ClassVar[str]
    label: ClassVar[str] = ""
    storage: ClassVar[str] = "text"
    operators: ClassVar[frozenset[str]] = ORDERED_OPERATORS
    value_type: ClassVar[Any] = str
    #: What a value points at (``"user"``), or ``None``. Each new or changed value of a
    #: write is then checked to exist, all of them in one query, by the check registered
    #: under that name (``crmkit.core.custom_fields.validate.reference_check``).
    references: ClassVar[str | None] = None

    def convert(self, value: Any, definition: Any = None) -> Any:
        """Convert and check one value; raise ``ValueError`` with a message when it is not valid."""
        try:
            return msgspec.convert(value, self.value_type, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc).split(" - at ")[0]) from exc

    def to_storage(self, value: Any) -> Any:
        """The JSON form stored in the ``custom`` column."""
        return msgspec.to_builtins(value)

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        """The JSON schema of one value, for the run-time OpenAPI document."""
        return msgspec.json.schema(self.value_type)
