"""``crmkit apikeys``: create, list and revoke API keys (the secret is shown once)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import click
from crmkit.core.apikeys import ApiKeyInfo, create_key, list_keys, revoke_key
from crmkit.core.runtime import Runtime
from crmkit.core.users import find_user

from .context import with_runtime
from .table import echo_table, fmt_time

__all__ = ["apikeys"]


_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class Expiry(click.ParamType):
    """A time in the future: an ISO 8601 date or time (a date alone means 00:00 UTC, naive
    means UTC) or a duration from now (``12h``, ``30d``, ``2w``)."""

    name = "iso-date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        duration = _DURATION.match(text.lower())
        if duration:
            count, unit = int(duration.group(1)), _UNITS[duration.group(2)]
            when = dt.datetime.now(dt.UTC) + dt.timedelta(**{unit: count})
        else:
            try:
                when = dt.datetime.fromisoformat(text)
            except ValueError:
                self.fail(
                    f"{value!r} is not an ISO 8601 date or time (e.g. 2030-01-31) "
                    "nor a duration (12h, 30d, 2w)",
                    param,
                    ctx,
                )
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
        if when <= dt.datetime.now(dt.UTC):
            self.fail(f"{value!r} is not in the future", param, ctx)
        return when


@click.group()
def apikeys() -> None:
    """Create, list and revoke API keys."""


@apikeys.command()
@click.option(
    "--user",
    "email",
    metavar="EMAIL",
    help="The user the key acts as (with the user's role, which may change later).",
)
@click.option("--name", help="What the key is for (default for a user's key: the address).")
@click.option(
    "--role",
    help="The role of a service key (not with --user): built-in or custom.  [default: admin]",
)
@click.option(
    "--expires",
    type=Expiry(),
    metavar="DATE|DURATION",
    help="When it stops working: an ISO 8601 date or time, UTC unless it says (2030-01-31), "
    "or a duration from now (30d, 12h, 2w).",
)
def create(
    email: str | None, name: str | None, role: str | None, expires: dt.datetime | None
) -> None:
    """Create a key and print it alone on the last line (it is never shown again).

    Either a user's key (--user EMAIL) or a service key (--name N --role R).
    """
    if email is not None and role is not None:
        raise click.UsageError("--role cannot be used with --user: the key takes the user's role")
    if email is None and name is None:
        raise click.UsageError("give --user EMAIL, or --name for a service key")

    async def go(runtime: Runtime) -> tuple[ApiKeyInfo, str]:
        if email is not None:
            user = await find_user(runtime, email)
            return await create_key(runtime, name=name or "", expires_at=expires, user_id=user.id)
        return await create_key(runtime, name=name or "", role=role or "admin", expires_at=expires)

    info, key = with_runtime(go)
    expiry = f", expires {fmt_time(info.expires_at)} UTC" if info.expires_at else ""
    owner = f"for {info.user_email}, " if info.user_email else ""
    click.echo(
        f"created the API key {info.name!r} ({owner}role {info.role}, prefix {info.prefix}"
        f"{expiry}); it is shown only this once:",
        err=True,
    )
    click.echo(key)


@apikeys.command("list")
@click.option("--user", "email", metavar="EMAIL", help="Only the keys of this user.")
def list_(email: str | None) -> None:
    """List the keys (never their secrets); times are UTC. A user's key shows the user's
    current role; ``user`` is ``-`` for a service key."""

    async def go(runtime: Runtime) -> list[ApiKeyInfo]:
        if email is None:
            return await list_keys(runtime)
        return await list_keys(runtime, user_id=(await find_user(runtime, email)).id)

    keys = with_runtime(go)
    if not keys:
        click.echo("no API keys (create one with `crmkit apikeys create`)")
        return
    echo_table(
        ["id", "prefix", "name", "role", "created", "expires", "revoked", "last used", "user"],
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
                k.user_email or "-",
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
