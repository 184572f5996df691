"""Users: the people behind API keys (``crmkit_user``).

A user has a name, a unique e-mail address (validated with ``email-validator``, stored
lower-cased), a role (built-in or custom) and an ``active`` flag. Their API keys act
with the user's role and identity, read at every request: changing the role or
deactivating the user applies to every key of theirs at once. Deleting a user
deactivates them (``deleted_at`` set; their keys answer 401) and can be undone with
:func:`restore_user`; rows are never removed, so events keep naming a known user.

**Someone can always administer through the API.** Admins are the active admin users
plus the usable service keys with role ``admin`` (not revoked, not expired): those
keys are as much an administrator as a person is (``crmkit init`` makes one). A change
that would leave no admin at all (demoting, deactivating or deleting the last admin
user while no admin service key works) is a 409. Revoking a key is never refused (a
leaked key must always be revocable); the CLI acts as the system and can always make
a new admin key (``crmkit apikeys create --name N --role admin``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import sqlite3
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import msgspec
from email_validator import EmailNotValidError, validate_email

from .db.sql import QueryString, join, sql
from .errors import BadRequest, Conflict, FieldError, NotFound, ValidationFailed
from .roles import role_exists

if TYPE_CHECKING:
    from .events import SaveContext
    from .runtime import Runtime

__all__ = [
    "User",
    "UserCreate",
    "UserPage",
    "UserPatch",
    "active_user_ids",
    "check_owner_fields",
    "create_user",
    "delete_user",
    "find_user",
    "get_user",
    "list_users",
    "normalize_email",
    "restore_user",
    "update_user",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(max_length=320, description="stored lower-cased; unique")]
RoleName = Annotated[str, msgspec.Meta(description="a built-in or custom role")]


class User(msgspec.Struct, kw_only=True):
    """A user as the API shows it."""

    id: uuid.UUID
    name: str
    email: str
    role: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/users``."""

    name: Name
    email: Email
    role: RoleName = "viewer"
    active: bool = True


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PATCH /api/v1/users/{id}``: only what it names changes."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType = msgspec.UNSET
    role: RoleName | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class UserPage(msgspec.Struct, kw_only=True):
    data: list[User]
    next_cursor: str | None = None


_UNIQUE_ERRORS = (asyncpg.UniqueViolationError, sqlite3.IntegrityError)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        name=row["name"],
        email=row["email"],
        role=row["role"],
        active=bool(row["active"]),
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        deleted_at=_utc(row["deleted_at"]),
    )


def normalize_email(text: str) -> str:
    """The address as stored (checked, normalised, lower-cased); 422 naming ``email``."""
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(
            "not a valid e-mail address", errors=[FieldError("email", str(exc))]
        ) from None
    return checked.normalized.lower()


def _email_taken(email: str) -> Conflict:
    return Conflict(
        f"a user with the e-mail address {email} exists already (a deleted one can be restored)",
        errors=[FieldError("email", "already used by another user")],
    )


# -- reads ---------------------------------------------------------------------------


async def get_user(runtime: Runtime, user_id: uuid.UUID | str) -> User:
    try:
        ident = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound(f"no user {user_id!r}") from None
    row = await runtime.db.fetchrow(sql("SELECT * FROM crmkit_user WHERE id = {}", ident))
    if row is None:
        raise NotFound(f"no user {ident}")
    return _user(row)


async def find_user(runtime: Runtime, email: str) -> User:
    """The user with this e-mail address (any case); 404 when there is none."""
    try:
        address = normalize_email(email)
    except ValidationFailed:
        address = email.strip().lower()
    row = await runtime.db.fetchrow(sql("SELECT * FROM crmkit_user WHERE email = {}", address))
    if row is None:
        raise NotFound(f"no user with the e-mail address {email.strip()!r}")
    return _user(row)


def _cursor(email: str) -> str:
    return base64.urlsafe_b64encode(f"u:{email}".encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    """The address a cursor continues after (opaque to clients; ``u:`` marks ours)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("u:"):
        raise BadRequest("not a cursor from this API", errors=[FieldError("cursor", "invalid")])
    return text[2:]


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    runtime: Runtime,
    *,
    active: bool | None = None,
    role: str | None = None,
    q: str | None = None,
    include_deleted: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> UserPage:
    """Users by e-mail address, a page at a time; ``q`` matches name or address (any case)."""
    where: list[QueryString] = [sql("1 = 1")]
    if not include_deleted:
        where.append(sql("deleted_at IS NULL"))
    if active is not None:
        where.append(sql("active = {}", active))
    if role:
        where.append(sql("role = {}", role))
    if q and q.strip():
        pattern = _like(q.strip())
        where.append(
            sql("(lower(name) LIKE {} ESCAPE '\\' OR email LIKE {} ESCAPE '\\')", pattern, pattern)
        )
    if cursor:
        where.append(sql("email > {}", _after(cursor)))
    rows = await runtime.db.fetch(
        sql(
            "SELECT * FROM crmkit_user WHERE {} ORDER BY email LIMIT {}",
            join(where, " AND "),
            limit + 1,
        )
    )
    users = [_user(r) for r in rows[:limit]]
    more = len(rows) > limit
    return UserPage(data=users, next_cursor=_cursor(users[-1].email) if more else None)


# -- checks --------------------------------------------------------------------------


async def _check(runtime: Runtime, values: dict[str, Any]) -> dict[str, Any]:
    """Name, address and role of a create or patch; every problem at once (422)."""
    errors: list[FieldError] = []
    if "name" in values:
        values["name"] = values["name"].strip()
        if not values["name"]:
            errors.append(FieldError("name", "required"))
        elif len(values["name"]) > 200:
            errors.append(FieldError("name", "at most 200 characters"))
    if "email" in values:
        try:
            values["email"] = normalize_email(values["email"])
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    if "role" in values and not await role_exists(runtime, values["role"]):
        errors.append(FieldError("role", f"no role {values['role']!r}"))
    if errors:
        raise ValidationFailed(
            f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the user", errors=errors
        )
    return values


def _is_admin(user: User) -> bool:
    return user.role == "admin" and user.active and user.deleted_at is None


async def _keep_an_admin(runtime: Runtime, user: User) -> None:
    """409 unless an admin other than ``user`` remains (see the module docstring)."""
    db = runtime.db
    lock = " FOR UPDATE" if db.kind == "postgres" else ""  # SQLite: the write is IMMEDIATE
    rows = await db.fetch(
        sql(
            "SELECT id FROM crmkit_user WHERE role = 'admin' AND active = {} "
            f"AND deleted_at IS NULL{lock}",
            True,
        )
    )
    if any(r["id"] != user.id for r in rows):
        return
    now = _now()
    keys = await db.fetch(
        "SELECT expires_at FROM crmkit_api_key "
        "WHERE user_id IS NULL AND role = 'admin' AND revoked_at IS NULL"
    )
    if any(k["expires_at"] is None or _utc(k["expires_at"]) > now for k in keys):
        return
    raise Conflict(
        f"{user.email} is the last admin: make another user (or a service key) admin first",
        errors=[FieldError("role", "the last admin")],
    )


# -- writes --------------------------------------------------------------------------


async def create_user(runtime: Runtime, body: UserCreate) -> User:
    """A new user: 422 for a bad name, address or role; 409 naming ``email`` when taken."""
    values = await _check(runtime, msgspec.structs.asdict(body))
    db = runtime.db
    user_id = uuid.uuid4()
    now = _now()
    try:
        async with db.transaction():
            if await db.fetchrow(
                sql("SELECT id FROM crmkit_user WHERE email = {}", values["email"])
            ):
                raise _email_taken(values["email"])
            await db.execute(
                sql(
                    "INSERT INTO crmkit_user (id, name, email, role, active, created_at, "
                    "updated_at, deleted_at) VALUES ({}, {}, {}, {}, {}, {}, {}, NULL)",
                    user_id,
                    values["name"],
                    values["email"],
                    values["role"],
                    bool(values["active"]),
                    now,
                    now,
                )
            )
    except _UNIQUE_ERRORS:  # a concurrent create with the same address
        raise _email_taken(values["email"]) from None
    return await get_user(runtime, user_id)


async def _set(runtime: Runtime, user: User, values: dict[str, Any]) -> None:
    db = runtime.db
    sets = ", ".join(f"{k} = {{}}" for k in values)
    await db.execute(
        sql(
            f"UPDATE crmkit_user SET {sets}, updated_at = {{}} WHERE id = {{}}",
            *values.values(),
            _now(),
            user.id,
        )
    )
    if "role" in values:  # keys take their role from the user; the column is for display
        await db.execute(
            sql("UPDATE crmkit_api_key SET role = {} WHERE user_id = {}", values["role"], user.id)
        )


async def update_user(runtime: Runtime, user_id: uuid.UUID | str, patch: UserPatch) -> User:
    """Change what ``patch`` names; a new role or ``active`` applies to the user's keys at once."""
    values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    values = await _check(runtime, values)
    db = runtime.db
    try:
        async with db.transaction():
            user = await get_user(runtime, user_id)
            changed = {k: v for k, v in values.items() if getattr(user, k) != v}
            if not changed:
                return user
            if changed.get("active") and user.deleted_at is not None:
                raise Conflict(
                    f"{user.email} is deleted: restore the user instead",
                    errors=[FieldError("active", "the user is deleted")],
                )
            after = msgspec.structs.replace(user, **changed)
            if _is_admin(user) and not _is_admin(after):
                await _keep_an_admin(runtime, user)
            if "email" in changed and await db.fetchrow(
                sql("SELECT id FROM crmkit_user WHERE email = {}", changed["email"])
            ):
                raise _email_taken(changed["email"])
            await _set(runtime, user, changed)
    except _UNIQUE_ERRORS:
        raise _email_taken(values["email"]) from None
    return await get_user(runtime, user.id)


async def delete_user(runtime: Runtime, user_id: uuid.UUID | str) -> User:
    """Deactivate the user for good (undo with :func:`restore_user`); their keys stop working."""
    async with runtime.db.transaction():
        user = await get_user(runtime, user_id)
        if user.deleted_at is None:
            if _is_admin(user):
                await _keep_an_admin(runtime, user)
            await _set(runtime, user, {"active": False, "deleted_at": _now()})
    return await get_user(runtime, user.id)


async def restore_user(runtime: Runtime, user_id: uuid.UUID | str) -> User:
    """Undo a delete: the user is active again, and so are their keys (unless revoked)."""
    async with runtime.db.transaction():
        user = await get_user(runtime, user_id)
        if user.deleted_at is not None or not user.active:
            await _set(runtime, user, {"active": True, "deleted_at": None})
    return await get_user(runtime, user.id)


async def active_user_ids(runtime: Runtime, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` are active, undeleted users (one query)."""
    if not ids:
        return set()
    inner = join([sql("{}", i) for i in ids], ", ")
    rows = await runtime.db.fetch(
        sql(
            "SELECT id FROM crmkit_user WHERE id IN ({}) AND active AND deleted_at IS NULL",
            inner,
        )
    )
    return {r["id"] if isinstance(r["id"], uuid.UUID) else uuid.UUID(str(r["id"])) for r in rows}


async def check_owner_fields(context: SaveContext) -> None:
    """``before_save``: an entity's owner fields (``EntityType.owner_fields``) name active
    users. Only new or changed values are checked, so a record whose owner later left
    stays writable."""
    names = context.entity.owner_fields
    if not names or context.action == "restore":
        return
    old = context.old or {}
    wanted: dict[str, uuid.UUID] = {}
    for name in names:
        value = context.values.get(name)
        if value is None or value == old.get(name):
            continue
        wanted[name] = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    active = await active_user_ids(context.runtime, list(wanted.values()))
    errors = [
        FieldError(n, "no active user with this id") for n, v in wanted.items() if v not in active
    ]
    if errors:
        raise ValidationFailed("unknown owner", errors=errors)
