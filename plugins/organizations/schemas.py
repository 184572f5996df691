"""The organisation record and the link bodies, as the API sees them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec
from crmkit.core import Schema
from crmkit.plugins.individuals.schemas import Address, Email, Phone

__all__ = [
    "LinkCreate",
    "LinkPatch",
    "OrganizationFields",
    "OrganizationLink",
]

Role = Annotated[str, msgspec.Meta(max_length=100)]
Notes = Annotated[str, msgspec.Meta(max_length=5000)]


class OrganizationFields(Schema):
    """Writable fields of an organisation (tags and custom are added by the core)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    legal_name: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    org_number: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    website: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    domain: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    industry: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    type: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    emails: Annotated[list[Email], msgspec.Meta(max_length=50)] = []
    phones: Annotated[list[Phone], msgspec.Meta(max_length=50)] = []
    addresses: Annotated[list[Address], msgspec.Meta(max_length=50)] = []
    #: The user who owns the account (an active user's id).
    owner_id: uuid.UUID | None = None


class OrganizationLink(msgspec.Struct, kw_only=True):
    """One current link of an individual, as the read-only ``organizations`` field shows it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    role: str | None = None
    primary: bool = False
    start_date: dt.date | None = None
    end_date: dt.date | None = None


class LinkCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Link an individual to an organisation.

    The person's first current link becomes primary; ``primary: true`` moves it here.
    """

    organization_id: uuid.UUID
    role: Role | None = None
    primary: bool = False
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    notes: Notes | None = None


class LinkPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Change a link; set ``end_date`` to end it (it stays as history)."""

    role: Role | msgspec.UnsetType | None = msgspec.UNSET
    primary: bool | msgspec.UnsetType = msgspec.UNSET
    start_date: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    end_date: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    notes: Notes | msgspec.UnsetType | None = msgspec.UNSET
