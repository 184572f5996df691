"""``crmkit apikeys``: create, list and revoke API keys (the secret is shown once)."""

from __future__ import annotations

import datetime as dt
import uuid

import click
from crmkit.core.apikeys import ROLES, ApiKeyInfo, create_key, list_keys, revoke_key
from crmkit.core.runtime import Runtime

from .context import with_runtime
from .table import echo_table, fmt_time

__all__ = ["apikeys"]


class Expiry(click.ParamType):
    """An ISO 8601 date or time in the future; a date alone means 00:00 UTC, naive means UTC."""

    name = "iso-date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            when = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2030-01-31)", param, ctx)
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
        if when <= dt.datetime.now(dt.UTC):
            self.fail(f"{value!r} is not in the future", param, ctx)
        return when


@click.group()
def apikeys() -> None:
    """Create, list and revoke API keys."""


@apikeys.command()
@click.option("--name", required=True, help="What the key is for (shown in listings).")
@click.option(
    "--role", type=click.Choice(ROLES), default="admin", show_default=True, help="Its permissions."
)
@click.option(
    "--expires",
    type=Expiry(),
    metavar="ISO-DATE",
    help="When it stops working: an ISO 8601 date or time, UTC unless it says (2030-01-31).",
)
def create(name: str, role: str, expires: dt.datetime | None) -> None:
    """Create a key and print it alone on the last line (it is never shown again)."""

    async def go(runtime: Runtime) -> tuple[ApiKeyInfo, str]:
        return await create_key(runtime, name=name, role=role, expires_at=expires)

    info, key = with_runtime(go)
    expiry = f", expires {fmt_time(info.expires_at)} UTC" if info.expires_at else ""
    click.echo(
        f"created the API key {info.name!r} (role {info.role}, prefix {info.prefix}{expiry}); "
        "it is shown only this once:",
        err=True,
    )
    click.echo(key)


@apikeys.command("list")
def list_() -> None:
    """List the keys (never their secrets); times are UTC."""
    keys = with_runtime(list_keys)
    if not keys:
        click.echo("no API keys (create one with `crmkit apikeys create`)")
        return
    echo_table(
        ["id", "prefix", "name", "role", "created", "expires", "revoked", "last used"],
        [
            (
                k.id,
                k.prefix,
                k.name,
                k.role,
                fmt_time(k.created_at),
                fmt_time(k.expires_at),
                fmt_time(k.revoked_at),
                fmt_time(k.last_used_at),
            )
            for k in keys
        ],
    )


def _normalise(ident: str) -> str:
    ident = ident.strip()
    try:
        return str(uuid.UUID(ident))
    except ValueError:
        return ident


@apikeys.command()
@click.argument("key_id", metavar="ID_OR_PREFIX")
def revoke(key_id: str) -> None:
    """Revoke a key by its id or prefix; it is refused from then on."""
    ident = _normalise(key_id)

    async def go(runtime: Runtime) -> tuple[ApiKeyInfo, bool]:
        known = next((k for k in await list_keys(runtime) if ident in (str(k.id), k.prefix)), None)
        if known is not None and known.revoked_at is not None:
            return known, False
        return await revoke_key(runtime, ident), True

    info, changed = with_runtime(go)
    if changed:
        click.echo(f"revoked the API key {info.name!r} (prefix {info.prefix})")
    else:
        click.echo(
            f"the API key {info.name!r} (prefix {info.prefix}) was revoked already, "
            f"on {fmt_time(info.revoked_at)} UTC"
        )
