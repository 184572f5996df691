"""The built-in custom-field types, registered through ``register_field_types`` by core."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import Any, ClassVar

from ..fields import ORDERED_OPERATORS, FieldType

__all__ = ["BUILTIN_FIELD_TYPES", "CURRENCY_CODES"]

_EQUALITY = frozenset({"eq", "ne", "in", "nin", "isnull"})
_TEXT = ORDERED_OPERATORS | {"contains", "icontains", "startswith"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{3,40}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}(-?)[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}$", re.I)

#: ISO 4217 active codes.
CURRENCY_CODES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)


def _rule(definition: Any, name: str) -> Any:
    rules = getattr(definition, "validation", None) or {}
    return rules.get(name)


def _check_length(value: str, definition: Any) -> None:
    low, high = _rule(definition, "min_length"), _rule(definition, "max_length")
    if low is not None and len(value) < low:
        raise ValueError(f"must be at least {low} characters long")
    if high is not None and len(value) > high:
        raise ValueError(f"must be at most {high} characters long")
    pattern = _rule(definition, "pattern")
    if pattern and not re.search(pattern, value):
        raise ValueError(f"must match the pattern {pattern}")


def _check_range(value: decimal.Decimal, definition: Any) -> None:
    low, high = _rule(definition, "min"), _rule(definition, "max")
    if low is not None and value < decimal.Decimal(str(low)):
        raise ValueError(f"must be at least {low}")
    if high is not None and value > decimal.Decimal(str(high)):
        raise ValueError(f"must be at most {high}")


class Text(FieldType):
    name = "text"
    label = "Text"
    storage = "text"
    operators = _TEXT
    value_type = str
    max_length: ClassVar[int] = 1000

    def convert(self, value: Any, definition: Any = None) -> Any:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if len(value) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters long")
        self.check(value)
        _check_length(value, definition)
        return value

    def check(self, value: str) -> None:
        """Format checks of a text subtype (email, phone, url)."""

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.max_length}


class LongText(Text):
    name = "long_text"
    label = "Long text"
    max_length = 100_000


class Email(Text):
    name = "email"
    label = "Email address"
    max_length = 320

    def check(self, value: str) -> None:
        if not _EMAIL.match(value):
            raise ValueError("not a valid email address")

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "format": "email"}


class Phone(Text):
    name = "phone"
    label = "Phone number"
    max_length = 40

    def check(self, value: str) -> None:
        if not _PHONE.match(value) or sum(c.isdigit() for c in value) < 3:
            raise ValueError("not a valid phone number")


class Url(Text):
    name = "url"
    label = "URL"
    max_length = 2000

    def check(self, value: str) -> None:
        if not _URL.match(value):
            raise ValueError("not a valid http(s) URL")

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "format": "uri"}


class Number(FieldType):
    """A decimal number, stored as a JSON number so it compares as a number."""

    name = "number"
    label = "Number"
    storage = "number"
    value_type = decimal.Decimal

    def convert(self, value: Any, definition: Any = None) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal | str):
            raise ValueError("expected a number")
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("expected a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        if number.adjusted() >= 15:
            raise ValueError("must be less than 10^15 in absolute value")
        if number.adjusted() < -20:
            number = decimal.Decimal(0)
        _check_range(number, definition)
        return number

    def to_storage(self, value: Any) -> Any:
        number = decimal.Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "number"}


class Integer(Number):
    name = "integer"
    label = "Integer"
    value_type = int

    def convert(self, value: Any, definition: Any = None) -> Any:
        number = super().convert(value, definition)
        if number != number.to_integral_value():
            raise ValueError("expected a whole number")
        return int(number)

    def to_storage(self, value: Any) -> Any:
        return int(value)

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "integer"}


class Date(FieldType):
    name = "date"
    label = "Date"
    storage = "date"
    value_type = dt.date

    def convert(self, value: Any, definition: Any = None) -> Any:
        if isinstance(value, dt.datetime) or not isinstance(value, str | dt.date):
            raise ValueError("expected an ISO 8601 date (YYYY-MM-DD)")
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("expected an ISO 8601 date (YYYY-MM-DD)") from None
        low, high = _rule(definition, "min"), _rule(definition, "max")
        if low is not None and value < dt.date.fromisoformat(str(low)):
            raise ValueError(f"must be on or after {low}")
        if high is not None and value > dt.date.fromisoformat(str(high)):
            raise ValueError(f"must be on or before {high}")
        return value

    def to_storage(self, value: Any) -> Any:
        return value.isoformat()

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


class DateTime(FieldType):
    """A moment, stored in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (sorts as text)."""

    name = "datetime"
    label = "Date and time"
    storage = "datetime"
    operators = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "isnull"})
    value_type = dt.datetime

    def convert(self, value: Any, definition: Any = None) -> Any:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("expected an ISO 8601 date-time") from None
        if not isinstance(value, dt.datetime):
            raise ValueError("expected an ISO 8601 date-time")
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("date-time out of range") from None

    def to_storage(self, value: Any) -> Any:
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


class Boolean(FieldType):
    name = "boolean"
    label = "Checkbox"
    storage = "boolean"
    operators = frozenset({"eq", "ne", "isnull"})
    value_type = bool

    def convert(self, value: Any, definition: Any = None) -> Any:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "boolean"}


def _options(definition: Any) -> list[str]:
    return [
        str(o.get("value") if isinstance(o, dict) else o)
        for o in (getattr(definition, "options", None) or [])
    ]


class Select(FieldType):
    name = "select"
    label = "Dropdown"
    storage = "text"
    operators = _EQUALITY
    value_type = str
    needs_options: ClassVar[bool] = True

    def convert(self, value: Any, definition: Any = None) -> Any:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        allowed = _options(definition)
        if definition is not None and value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return value

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        allowed = _options(definition)
        return {"type": "string", "enum": allowed} if allowed else {"type": "string"}


class MultiSelect(FieldType):
    name = "multi_select"
    label = "Multiple choice"
    storage = "array"
    #: ``in``: any of; ``nin``: none of; ``contains``: has this one (index-backed).
    operators = frozenset({"in", "nin", "contains", "isnull"})
    value_type = str
    needs_options: ClassVar[bool] = True

    def convert(self, value: Any, definition: Any = None) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("expected a list of strings")
        allowed = _options(definition)
        out: list[str] = []
        for item in value:
            if definition is not None and item not in allowed:
                raise ValueError(f"{item!r} is not one of: {', '.join(allowed)}")
            if item not in out:
                out.append(item)
        limit = _rule(definition, "max_selections")
        if limit is not None and len(out) > limit:
            raise ValueError(f"at most {limit} selections")
        return out

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        allowed = _options(definition)
        items = {"type": "string", "enum": allowed} if allowed else {"type": "string"}
        return {"type": "array", "items": items, "uniqueItems": True}


class Currency(FieldType):
    """``{"amount": "12.50", "code": "EUR"}``; filters and sorts compare the amount."""

    name = "currency"
    label = "Money amount"
    storage = "number"
    storage_path = "amount"
    value_type = dict

    def convert(self, value: Any, definition: Any = None) -> Any:
        if not isinstance(value, dict) or set(value) != {"amount", "code"}:
            raise ValueError('expected {"amount": number, "code": ISO 4217 code}')
        code = value["code"]
        if not isinstance(code, str) or code.upper() not in CURRENCY_CODES:
            raise ValueError(f"{code!r} is not an ISO 4217 currency code")
        amount = Number().convert(value["amount"], definition)
        return {"amount": amount, "code": code.upper()}

    def to_storage(self, value: Any) -> Any:
        return {"amount": Number().to_storage(value["amount"]), "code": value["code"]}

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
            "required": ["amount", "code"],
            "additionalProperties": False,
        }


class User(FieldType):
    """A reference to a user (``crmkit_user``): the id, stored as lower-case UUID text.

    ``convert`` checks the shape only; that the user exists, is active and is not
    deleted is checked by ``validate.py`` for every new or changed value of a write, in
    one query (``references``). A value is never re-checked when it does not change, so
    deactivating a user later breaks no record: reads return the id as stored.
    """

    name = "user"
    label = "User"
    storage = "text"
    operators = _EQUALITY
    value_type = str
    references = "user"

    def convert(self, value: Any, definition: Any = None) -> Any:
        if isinstance(value, uuid.UUID):
            return str(value)
        if not isinstance(value, str) or not _UUID.match(value.strip()):
            raise ValueError("expected a user id (a UUID)")
        return str(uuid.UUID(value.strip()))

    def openapi_schema(self, definition: Any = None) -> dict[str, Any]:
        return {"type": "string", "format": "uuid"}


BUILTIN_FIELD_TYPES: list[FieldType] = [
    Text(),
    LongText(),
    Number(),
    Integer(),
    Date(),
    DateTime(),
    Boolean(),
    Select(),
    MultiSelect(),
    Email(),
    Phone(),
    Url(),
    Currency(),
    User(),
]
