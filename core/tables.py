"""Piccolo tables: the base every entity table extends, and core's own tables."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

__all__ = [
    "ApiKey",
    "CustomField",
    "EntityTable",
    "FieldPermission",
    "ImportItem",
    "ImportJob",
    "RecordTag",
    "Role",
    "SavedSearch",
    "User",
]


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
    #: The user the key acts for (``None``: a service key with its own role); migration 0004.
    user_id = UUID(null=True, default=None, index=True)


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


class User(Table, tablename="crmkit_user"):
    """A person using the API; their keys act with their role (``crmkit.core.users``)."""

    id = UUID(primary_key=True)
    name = Varchar(length=200, null=False)
    email = Varchar(length=320, null=False)  # lower-cased, unique: migration 0004
    role = Varchar(length=50, null=False, default="viewer")
    active = Boolean(default=True, null=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class Role(Table, tablename="crmkit_role"):
    """A custom role (the built-in ones live in code: ``crmkit.core.access``)."""

    name = Varchar(length=50, primary_key=True)
    label = Varchar(length=200, null=False, default="")
    description = Varchar(length=1000, null=False, default="")
    grants = JSONB(default={})
    abilities = JSONB(default=[])
    scope = Varchar(length=10, null=False, default="all")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class FieldPermission(Table, tablename="crmkit_field_permission"):
    """Who may read and write one built-in field of an entity (custom fields carry their own)."""

    entity = Varchar(length=100, null=False)
    field = Varchar(length=100, null=False)
    read_roles = JSONB(default=[])
    write_roles = JSONB(default=[])
    updated_at = Timestamptz()


class SavedSearch(Table, tablename="crmkit_saved_search"):
    """A stored list query of one entity (``crmkit.core.saved_searches``), private to its
    owner (an actor: ``owner_kind`` and ``owner_id``) or shared with everyone."""

    id = UUID(primary_key=True)
    entity = Varchar(length=100, null=False)
    name = Varchar(length=200, null=False)
    q = Varchar(length=1000, null=True, default=None)
    #: ``[[param, value], ...]``: list query parameters other than q/sort/limit/cursor/count.
    filters = JSONB(default=[])
    sort = Varchar(length=500, null=True, default=None)
    owner_id = Varchar(length=200, null=False)
    owner_kind = Varchar(length=50, null=False)
    shared = Boolean(default=False, null=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)
    # (owner_id, owner_kind, entity, name) unique among live rows: core's migration 0006.


class ImportJob(Table, tablename="crmkit_import"):
    """One import of a file (``crmkit.core.transfer.imports``): options, counts, the first
    errors; ``status`` is running, completed, rolled_back, failed or reverted."""

    id = UUID(primary_key=True)
    entity = Varchar(length=100, null=False)
    format = Varchar(length=20, null=False)
    status = Varchar(length=20, null=False, default="running")
    options = JSONB(default={})
    rows = Integer(default=0, null=False)
    created = Integer(default=0, null=False)
    updated = Integer(default=0, null=False)
    skipped = Integer(default=0, null=False)
    failed = Integer(default=0, null=False)
    error_count = Integer(default=0, null=False)
    errors = JSONB(default=[])
    unknown_columns = JSONB(default=[])
    detail = Text(null=True, default=None)
    actor = Varchar(length=200, null=False)
    actor_name = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    reverted_at = Timestamptz(null=True, default=None)
    reverted_by = Varchar(length=200, null=True, default=None)


class ImportItem(Table, tablename="crmkit_import_item"):
    """A record an import created or updated (``before``: an updated one's old values)."""

    id = Serial(primary_key=True)
    import_id = UUID(null=False)
    entity = Varchar(length=100, null=False)
    record_id = UUID(null=False)
    row = Integer(null=False)
    action = Varchar(length=10, null=False)
    before = JSONB(null=True, default=None)
    version = Integer(null=False)
    # (import_id, id) and (record_id) are indexed by core's migration 0007.


CORE_TABLES: list[type[Table]] = [
    RecordTag,
    ApiKey,
    CustomField,
    User,
    Role,
    FieldPermission,
    SavedSearch,
    ImportJob,
    ImportItem,
]
