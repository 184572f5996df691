"""API keys: created once (the secret is shown once), stored as a SHA-256 hash.

A key reads ``crm_<prefix>_<secret>``; the prefix finds the row, the hash of the
whole key is compared in constant time. Keys are 190 random bits, so a fast hash is
the right tool (a slow password hash would only slow every request).

A key either belongs to a user (``user_id``) and acts as that user, with the user's
role as it is at each request, or is a *service key* with a role of its own (built-in
or custom). ``last_used_at`` is recorded at most once a minute per key, by a
short-lived task after authentication, so a read request never waits for a write
(SQLite serialises writers) and never fails because of one.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import uuid
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .access import BUILTIN_ROLES
from .db.sql import sql
from .errors import FieldError, NotFound, Unauthorized, ValidationFailed
from .events import Actor
from .roles import role_exists

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = [
    "ApiKeyInfo",
    "authenticate",
    "create_key",
    "flush_usage",
    "get_key",
    "list_keys",
    "revoke_key",
]

log = logging.getLogger("crmkit.apikeys")

#: The built-in roles (a service key may also have a custom role).
ROLES = tuple(BUILTIN_ROLES)
#: ``last_used_at`` is written again once it is older than this.
USAGE_INTERVAL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key without its secret. ``role`` is the user's current role for a user's key."""

    id: uuid.UUID
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    user_id: uuid.UUID | None = None
    user_email: str | None = None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


#: Every key with its user's address and current role (``u.*`` is NULL for service keys).
_SELECT = (
    "SELECT k.*, u.name AS user_name, u.email AS user_email, u.role AS user_role, "
    "u.active AS user_active, u.deleted_at AS user_deleted_at "
    "FROM crmkit_api_key k LEFT JOIN crmkit_user u ON u.id = k.user_id"
)


def _info(row: dict[str, Any]) -> ApiKeyInfo:
    user_id = _uuid(row.get("user_id"))
    return ApiKeyInfo(
        id=_uuid(row["id"]),  # type: ignore[arg-type]
        name=row["name"],
        role=(row.get("user_role") or row["role"]) if user_id else row["role"],
        prefix=row["prefix"],
        created_at=_aware(row["created_at"]),  # type: ignore[arg-type]
        expires_at=_aware(row["expires_at"]),
        revoked_at=_aware(row["revoked_at"]),
        last_used_at=_aware(row["last_used_at"]),
        user_id=user_id,
        user_email=row.get("user_email"),
    )


async def create_key(
    runtime: Runtime,
    *,
    name: str = "",
    role: str | None = None,
    expires_at: dt.datetime | None = None,
    user_id: uuid.UUID | str | None = None,
) -> tuple[ApiKeyInfo, str]:
    """Create a key; returns its info and the key itself (shown once, never stored).

    With ``user_id`` the key acts as that user (with the user's role, so ``role`` must
    not be given; ``name`` defaults to the user's address). Without, it is a service
    key with ``role`` (default ``admin``): a built-in or custom role.
    """
    from .users import get_user

    name = name.strip()
    errors = []
    owner = None
    if user_id is not None:
        try:
            owner = await get_user(runtime, user_id)
        except NotFound:
            errors.append(FieldError("user_id", f"no user {user_id}"))
        else:
            if owner.deleted_at is not None or not owner.active:
                errors.append(FieldError("user_id", f"the user {owner.email} is not active"))
            name = name or owner.email
        if role is not None:
            errors.append(FieldError("role", "a user's key acts with the user's role"))
    else:
        role = role or "admin"
        if not await role_exists(runtime, role):
            errors.append(FieldError("role", f"no role {role!r} (built-in: {', '.join(ROLES)})"))
    if not name:
        errors.append(FieldError("name", "required"))
    elif len(name) > 200:
        errors.append(FieldError("name", "at most 200 characters"))
    if errors:
        raise ValidationFailed("invalid API key", errors=errors)
    stored_role = owner.role if owner is not None else role
    prefix = secrets.token_hex(6)
    key = f"crm_{prefix}_{secrets.token_urlsafe(24)}"
    key_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                "INSERT INTO crmkit_api_key (id, name, role, prefix, secret_hash, created_at, "
                "expires_at, revoked_at, last_used_at, user_id) "
                "VALUES ({}, {}, {}, {}, {}, {}, {}, NULL, NULL, {})",
                key_id,
                name,
                stored_role,
                prefix,
                _hash(key),
                now,
                expires_at,
                owner.id if owner is not None else None,
            )
        )
    info = ApiKeyInfo(
        key_id,
        name,
        stored_role,  # type: ignore[arg-type]
        prefix,
        now,
        expires_at,
        None,
        None,
        owner.id if owner is not None else None,
        owner.email if owner is not None else None,
    )
    return info, key


async def list_keys(
    runtime: Runtime, *, user_id: uuid.UUID | str | None = None
) -> list[ApiKeyInfo]:
    """Every key (or those of one user), oldest first; revoked ones included."""
    if user_id is None:
        rows = await runtime.db.fetch(_SELECT + " ORDER BY k.created_at, k.id")
    else:
        rows = await runtime.db.fetch(
            sql(_SELECT + " WHERE k.user_id = {} ORDER BY k.created_at, k.id", _uuid(user_id))
        )
    return [_info(r) for r in rows]


async def get_key(runtime: Runtime, key_id: str) -> ApiKeyInfo:
    """A key by its id or prefix; 404 when there is none."""
    try:
        ident = uuid.UUID(key_id.strip())
    except ValueError:
        row = await runtime.db.fetchrow(sql(_SELECT + " WHERE k.prefix = {}", key_id.strip()))
    else:
        row = await runtime.db.fetchrow(sql(_SELECT + " WHERE k.id = {}", ident))
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return _info(row)


async def revoke_key(runtime: Runtime, key_id: str) -> ApiKeyInfo:
    """Revoke a key by id or prefix; a revoked key is refused with 401 from then on."""
    key = await get_key(runtime, key_id)
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                "UPDATE crmkit_api_key SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
                dt.datetime.now(dt.UTC),
                key.id,
            )
        )
    return await get_key(runtime, str(key.id))


# -- authentication --------------------------------------------------------------------


async def authenticate(runtime: Runtime, key: str | None) -> Actor:
    """The actor behind a key, or :class:`Unauthorized` (missing, unknown, revoked,
    expired, or its user inactive). A user's key acts as the user (``kind="user"``)."""
    if not key:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    parts = key.strip().split("_")
    if len(parts) < 3 or parts[0] != "crm":
        raise Unauthorized("invalid API key")
    row = await runtime.db.fetchrow(sql(_SELECT + " WHERE k.prefix = {}", parts[1]))
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(key.strip())):
        raise Unauthorized("invalid API key")
    info = _info(row)
    now = dt.datetime.now(dt.UTC)
    if info.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    if info.expires_at is not None and info.expires_at <= now:
        raise Unauthorized("this API key has expired")
    if info.user_id is not None:
        if row["user_name"] is None or not row["user_active"] or row["user_deleted_at"]:
            raise Unauthorized("the user of this API key is not active")
        actor = Actor(id=str(info.user_id), name=row["user_name"], role=info.role, kind="user")
    else:
        actor = Actor(id=str(info.id), name=info.name, role=info.role, kind="api_key")
    _note_use(runtime, info, now)
    return actor


@dataclass
class _Usage:
    """Per runtime: when each key's use was last scheduled for writing, and the writes."""

    scheduled: dict[uuid.UUID, dt.datetime] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


_usage: weakref.WeakKeyDictionary[Runtime, _Usage] = weakref.WeakKeyDictionary()


def _note_use(runtime: Runtime, info: ApiKeyInfo, now: dt.datetime) -> None:
    """Schedule ``last_used_at = now`` unless it (or a pending write) is recent enough."""
    if info.last_used_at is not None and now - info.last_used_at < USAGE_INTERVAL:
        return
    usage = _usage.setdefault(runtime, _Usage())
    scheduled = usage.scheduled.get(info.id)
    if scheduled is not None and now - scheduled < USAGE_INTERVAL:
        return
    usage.scheduled[info.id] = now
    # A fresh context: the write must not join a transaction the caller may be in.
    task = asyncio.get_running_loop().create_task(
        _record_use(runtime, info.id, now), context=contextvars.Context()
    )
    usage.tasks.add(task)
    task.add_done_callback(usage.tasks.discard)


async def _record_use(runtime: Runtime, key_id: uuid.UUID, when: dt.datetime) -> None:
    if not runtime.started:
        return
    try:
        async with runtime.db.transaction():
            await runtime.db.execute(
                sql("UPDATE crmkit_api_key SET last_used_at = {} WHERE id = {}", when, key_id)
            )
    except Exception as exc:  # best effort: a lost timestamp is retried on the next use
        log.info("could not record the use of API key %s: %s", key_id, exc)
        usage = _usage.get(runtime)
        if usage is not None:
            usage.scheduled.pop(key_id, None)


async def flush_usage(runtime: Runtime) -> None:
    """Wait for the pending ``last_used_at`` writes (before stopping a runtime, in tests)."""
    usage = _usage.get(runtime)
    loop = asyncio.get_running_loop()
    pending = [t for t in (usage.tasks if usage else ()) if t.get_loop() is loop]
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
