"""Piccolo tables of the organizations plugin."""

from crmkit.core import EntityTable
from piccolo.columns import JSONB, UUID, Boolean, Date, Text, Timestamptz, Varchar
from piccolo.table import Table

__all__ = ["IndividualOrganization", "Organization"]


class Organization(EntityTable, tablename="organization"):
    name = Varchar(length=200)
    legal_name = Varchar(length=300, null=True, default=None)
    org_number = Varchar(length=50, null=True, default=None)
    website = Varchar(length=500, null=True, default=None)
    domain = Varchar(length=255, null=True, default=None)
    industry = Varchar(length=100, null=True, default=None)
    type = Varchar(length=50, null=True, default=None)
    emails = JSONB(default=[])
    phones = JSONB(default=[])
    addresses = JSONB(default=[])
    owner_id = UUID(null=True, default=None, index=True)  # migration 0002


class IndividualOrganization(Table, tablename="individual_organization"):
    """A person's link to an organisation: a role over a period.

    A link is *current* while ``end_date`` is empty or still ahead; an ended link stays
    as history. Among a person's current links exactly one is ``primary`` (``primary``
    is an SQL keyword: quote it in raw SQL).
    """

    id = UUID(primary_key=True)
    individual_id = UUID(null=False)
    organization_id = UUID(null=False)
    role = Varchar(length=100, null=True, default=None)
    primary = Boolean(default=False, null=False)
    start_date = Date(null=True, default=None)
    end_date = Date(null=True, default=None)
    notes = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
