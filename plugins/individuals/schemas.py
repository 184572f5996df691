"""The individual record as the API sees it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from crmkit.core import Schema

__all__ = [
    "Address",
    "ContactMethod",
    "Email",
    "IndividualFields",
    "Phone",
]

Short = Annotated[str, msgspec.Meta(max_length=100)]
Label = Annotated[str, msgspec.Meta(max_length=50)]
AddressType = Literal["work", "home", "postal", "other"]
ContactMethod = Literal["email", "phone", "sms", "mail", "none"]


class Email(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
    label: Label | None = None
    primary: bool = False


class Phone(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    label: Label | None = None
    primary: bool = False


class Address(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: AddressType = "work"
    street: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    street2: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    city: Short | None = None
    region: Short | None = None
    country: Short | None = None
    primary: bool = False


class IndividualFields(Schema):
    """Writable fields of an individual (tags and custom are added by the core)."""

    first_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    last_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    middle_name: Short | None = None
    salutation: Annotated[str, msgspec.Meta(max_length=30)] | None = None
    emails: Annotated[list[Email], msgspec.Meta(max_length=50)] = []
    phones: Annotated[list[Phone], msgspec.Meta(max_length=50)] = []
    addresses: Annotated[list[Address], msgspec.Meta(max_length=50)] = []
    preferred_contact_method: ContactMethod | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    job_title: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    department: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=20000)] | None = None
    #: One of the configured types; absent or null means the configured default type.
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    status: Literal["active", "inactive"] = "active"
    birthday: dt.date | None = None
    #: The user who owns the contact (an active user's id).
    owner_id: uuid.UUID | None = None
