"""Custom fields: definitions as data, built-in field types, validation of ``custom``."""

from .definitions import CustomFields, Definition
from .types import BUILTIN_FIELD_TYPES, CURRENCY_CODES

__all__ = ["BUILTIN_FIELD_TYPES", "CURRENCY_CODES", "CustomFields", "Definition"]
