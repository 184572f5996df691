"""API keys: created once (the secret is shown once), stored as a SHA-256 hash.

A key reads ``crm_<prefix>_<secret>``; the prefix finds the row, the hash of the
whole key is compared in constant time. Keys are 190 random bits, so a fast hash is
the right tool (a slow password hash would only slow every request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .db.sql import sql
from .errors import FieldError, NotFound, Unauthorized, ValidationFailed
from .events import Actor

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["ApiKeyInfo", "authenticate", "create_key", "list_keys", "revoke_key"]

ROLES = ("admin", "manager", "agent", "viewer")


@dataclass(frozen=True)
class ApiKeyInfo:
    id: uuid.UUID
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    runtime: Runtime, *, name: str, role: str = "admin", expires_at: dt.datetime | None = None
) -> tuple[ApiKeyInfo, str]:
    """Create a key; returns its info and the key itself (shown once, never stored)."""
    name = name.strip()
    errors = []
    if not name:
        errors.append(FieldError("name", "required"))
    if role not in ROLES:
        errors.append(FieldError("role", f"must be one of {', '.join(ROLES)}"))
    if errors:
        raise ValidationFailed("invalid API key", errors=errors)
    prefix = secrets.token_hex(6)
    key = f"crm_{prefix}_{secrets.token_urlsafe(24)}"
    key_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                "INSERT INTO crmkit_api_key (id, name, role, prefix, secret_hash, created_at, "
                "expires_at, revoked_at, last_used_at) VALUES ({}, {}, {}, {}, {}, {}, {}, NULL, NULL)",
                key_id,
                name,
                role,
                prefix,
                _hash(key),
                now,
                expires_at,
            )
        )
    info = ApiKeyInfo(key_id, name, role, prefix, now, expires_at, None, None)
    return info, key


def _info(row: dict) -> ApiKeyInfo:
    def aware(value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    return ApiKeyInfo(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        name=row["name"],
        role=row["role"],
        prefix=row["prefix"],
        created_at=aware(row["created_at"]),  # type: ignore[arg-type]
        expires_at=aware(row["expires_at"]),
        revoked_at=aware(row["revoked_at"]),
        last_used_at=aware(row["last_used_at"]),
    )


async def list_keys(runtime: Runtime) -> list[ApiKeyInfo]:
    rows = await runtime.db.fetch(sql("SELECT * FROM crmkit_api_key ORDER BY created_at, id"))
    return [_info(r) for r in rows]


async def revoke_key(runtime: Runtime, key_id: str) -> ApiKeyInfo:
    """Revoke a key by id or prefix; a revoked key is refused with 401 from then on."""
    keys = await list_keys(runtime)
    match = [k for k in keys if str(k.id) == key_id or k.prefix == key_id]
    if not match:
        raise NotFound(f"no API key {key_id!r}")
    key = match[0]
    async with runtime.db.transaction():
        await runtime.db.execute(
            sql(
                "UPDATE crmkit_api_key SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
                dt.datetime.now(dt.UTC),
                key.id,
            )
        )
    return (await _by_prefix(runtime, key.prefix)) or key


async def _by_prefix(runtime: Runtime, prefix: str) -> ApiKeyInfo | None:
    row = await runtime.db.fetchrow(sql("SELECT * FROM crmkit_api_key WHERE prefix = {}", prefix))
    return _info(row) if row else None


async def authenticate(runtime: Runtime, key: str | None) -> Actor:
    """The actor behind a key, or :class:`Unauthorized` (missing, unknown, revoked, expired)."""
    if not key:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or X-API-Key)")
    parts = key.strip().split("_")
    if len(parts) < 3 or parts[0] != "crm":
        raise Unauthorized("invalid API key")
    row = await runtime.db.fetchrow(sql("SELECT * FROM crmkit_api_key WHERE prefix = {}", parts[1]))
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(key.strip())):
        raise Unauthorized("invalid API key")
    info = _info(row)
    now = dt.datetime.now(dt.UTC)
    if info.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    if info.expires_at is not None and info.expires_at <= now:
        raise Unauthorized("this API key has expired")
    return Actor(id=str(info.id), name=info.name, role=info.role, kind="api_key")
