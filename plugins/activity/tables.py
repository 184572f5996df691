"""The activity log: one row per entry, and the records each entry concerns."""

from __future__ import annotations

from piccolo.columns import JSONB, UUID, Text, Timestamptz, Varchar
from piccolo.table import Table


class Activity(Table, tablename="activity"):
    id = UUID(primary_key=True)
    kind = Varchar(length=50, null=False)
    actor_id = Varchar(length=200, null=True, default=None)
    actor_name = Varchar(length=200, null=True, default=None)
    actor_kind = Varchar(length=50, null=True, default=None)
    source = Varchar(length=50, null=False, default="api")
    occurred_at = Timestamptz()
    created_at = Timestamptz()
    summary = Text(null=True, default=None)
    body = Text(null=True, default=None)
    data = JSONB(default={})
    records = JSONB(default=[])  # [{entity, id}], the same as its activity_record rows
    edited_at = Timestamptz(null=True, default=None)
    deleted_at = Timestamptz(null=True, default=None)


class ActivityRecord(Table, tablename="activity_record"):
    """A record an entry concerns (the timeline index; ``occurred_at`` copied for it)."""

    id = UUID(primary_key=True)
    activity_id = UUID(null=False)
    entity = Varchar(length=100, null=False)
    record_id = UUID(null=False)
    occurred_at = Timestamptz()
