"""Piccolo tables: the base every entity table extends, and core's own tables."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

__all__ = ["ApiKey", "CustomField", "EntityTable", "RecordTag"]


class EntityTable(Table):
    """Columns every entity has (API.md "Records"). Subclass it for an entity's table.

    ``tags`` and ``custom`` are JSON documents (JSONB on PostgreSQL); tags are mirrored
    into :class:`RecordTag` so tag filters are index-backed on both engines.
    """

    id = UUID(primary_key=True)
    version = Integer(default=1, null=False)
    created_at = Timestamptz(index=True)
    updated_at = Timestamptz(index=True)
    deleted_at = Timestamptz(null=True, default=None, index=True)
    created_by = Varchar(length=200, null=True, default=None)
    updated_by = Varchar(length=200, null=True, default=None)
    tags = JSONB(default=[])
    custom = JSONB(default={})


class RecordTag(Table, tablename="crmkit_record_tag"):
    """One tag on one record of any entity: the index behind ``?tag=``."""

    entity = Varchar(length=100, null=False)
    record_id = UUID(null=False, index=True)
    tag = Varchar(length=200, null=False)
    # (entity, tag, record_id) is indexed by core's migration 0001.


class ApiKey(Table, tablename="crmkit_api_key"):
    """An API key. Only a SHA-256 hash of the secret is stored; ``prefix`` finds the row."""

    id = UUID(primary_key=True)
    name = Varchar(length=200, null=False)
    role = Varchar(length=50, null=False, default="admin")
    prefix = Varchar(length=16, null=False, unique=True, index=True)
    secret_hash = Varchar(length=64, null=False)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class CustomField(Table, tablename="crmkit_custom_field"):
    """A custom-field definition (``crmkit.core.custom_fields``); keys are never reused."""

    id = UUID(primary_key=True)
    entity = Varchar(length=100, null=False)
    key = Varchar(length=63, null=False)
    label = Varchar(length=200, null=False)
    type = Varchar(length=100, null=False)
    required = Boolean(default=False, null=False)
    default_value = JSONB(null=True, default=None)
    options = JSONB(default=[])
    validation = JSONB(default={})
    filterable = Boolean(default=False, null=False)
    sortable = Boolean(default=False, null=False)
    read_roles = JSONB(default=[])
    write_roles = JSONB(default=[])
    archived_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    version = Integer(default=1, null=False)
    # (entity, key) is unique: core's migration 0002.


CORE_TABLES: list[type[Table]] = [RecordTag, ApiKey, CustomField]
