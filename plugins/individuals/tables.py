"""Piccolo tables of the individuals plugin."""

from crmkit.core import EntityTable
from piccolo.columns import JSONB, UUID, Date, Text, Timestamptz, Varchar
from piccolo.table import Table

__all__ = ["Individual", "IndividualEmail", "IndividualMerge", "IndividualPhone"]


class Individual(EntityTable, tablename="individual"):
    first_name = Varchar(length=100)
    last_name = Varchar(length=100)
    middle_name = Varchar(length=100, null=True, default=None)
    salutation = Varchar(length=30, null=True, default=None)
    emails = JSONB(default=[])
    phones = JSONB(default=[])
    addresses = JSONB(default=[])
    preferred_contact_method = Varchar(length=10, null=True, default=None)
    timezone = Varchar(length=64, null=True, default=None)
    language = Varchar(length=10, null=True, default=None)
    job_title = Varchar(length=200, null=True, default=None)
    department = Varchar(length=200, null=True, default=None)
    owner_id = UUID(null=True, default=None, index=True)  # migration 0002
    notes = Text(null=True, default=None)
    type = Varchar(length=50, default="contact")
    status = Varchar(length=10, default="active")
    birthday = Date(null=True, default=None)
    # Derived, maintained by the plugin: for sorting, duplicates and merges.
    primary_email = Varchar(length=320, null=True, default=None)
    name_key = Varchar(length=250, null=True, default=None)
    merged_into = UUID(null=True, default=None)


class IndividualEmail(Table, tablename="individual_email"):
    """Every normalised email of every individual: the index behind ``?email=``."""

    individual_id = UUID(null=False)
    address = Varchar(length=320, null=False)
    domain = Varchar(length=255, null=False)


class IndividualPhone(Table, tablename="individual_phone"):
    """Every E.164 phone of every individual: the index behind ``?phone=``."""

    individual_id = UUID(null=False)
    number = Varchar(length=20, null=False)


class IndividualMerge(Table, tablename="individual_merge"):
    """A merge, with what is needed to undo it exactly."""

    id = UUID(primary_key=True)
    target_id = UUID(null=False)
    source_ids = JSONB(default=[])
    snapshot = JSONB(default={})
    actor = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()
    undone_at = Timestamptz(null=True, default=None)
