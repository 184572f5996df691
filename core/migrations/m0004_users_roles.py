"""Core: users, custom roles, field permissions of built-in fields, keys owned by users."""

from piccolo.columns import JSONB, UUID, Boolean, Timestamptz, Varchar

from crmkit.core.migrations.helpers import MigrationManager, add_index, create_table, run_sql

ID = "0004_users_roles"
VERSION = "1.38.0"
DESCRIPTION = "users, roles, field permissions"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    create_table(
        manager,
        "User",
        "crmkit_user",
        id=UUID(primary_key=True),
        name=Varchar(length=200, null=False),
        email=Varchar(length=320, null=False),
        role=Varchar(length=50, null=False, default="viewer"),
        active=Boolean(default=True, null=False),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
        deleted_at=Timestamptz(null=True, default=None),
    )
    # Emails are unique case-insensitively (stored lower-cased).
    add_index(manager, "crmkit_user", ["email"], unique=True)
    create_table(
        manager,
        "Role",
        "crmkit_role",
        name=Varchar(length=50, primary_key=True),
        label=Varchar(length=200, null=False, default=""),
        description=Varchar(length=1000, null=False, default=""),
        grants=JSONB(default={}),
        abilities=JSONB(default=[]),
        scope=Varchar(length=10, null=False, default="all"),
        created_at=Timestamptz(),
        updated_at=Timestamptz(),
    )
    create_table(
        manager,
        "FieldPermission",
        "crmkit_field_permission",
        entity=Varchar(length=100, null=False),
        field=Varchar(length=100, null=False),
        read_roles=JSONB(default=[]),
        write_roles=JSONB(default=[]),
        updated_at=Timestamptz(),
    )
    add_index(manager, "crmkit_field_permission", ["entity", "field"], unique=True)
    run_sql(
        manager,
        ["ALTER TABLE crmkit_api_key ADD COLUMN user_id UUID NULL"],
        ["ALTER TABLE crmkit_api_key DROP COLUMN user_id"],
    )
    add_index(manager, "crmkit_api_key", ["user_id"])
    return manager
