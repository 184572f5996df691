"""``crmkit init``: migrate a new (or existing) database and print a first admin API key."""

from __future__ import annotations

import click
from crmkit.core.apikeys import ApiKeyInfo, create_key, list_keys
from crmkit.core.migrate import Migrator
from crmkit.core.runtime import Runtime

from .context import with_runtime
from .migrate import apply_forwards

__all__ = ["init"]


async def _first_key(runtime: Runtime) -> tuple[int, tuple[ApiKeyInfo, str] | None]:
    """``(existing key count, None)``, or ``(0, new admin key)`` when there is none yet."""
    async with runtime.db.transaction():  # two concurrent inits make one key
        if runtime.db.kind == "postgres":
            await runtime.db.execute("LOCK TABLE crmkit_api_key IN SHARE ROW EXCLUSIVE MODE")
        keys = await list_keys(runtime)
        if keys:
            return len(keys), None
        return 0, await create_key(runtime, name="admin", role="admin")


@click.command()
def init() -> None:
    """Create the database, run every migration and print a first admin API key.

    The key is printed alone on the last line, once; when keys exist already, no new
    one is made (use `crmkit apikeys create`).
    """

    async def go(runtime: Runtime) -> tuple[int, tuple[ApiKeyInfo, str] | None]:
        await apply_forwards(Migrator(runtime))
        return await _first_key(runtime)

    existing, created = with_runtime(go, create=True)
    if created is None:
        plural = "s exist" if existing > 1 else " exists"
        click.echo(f"{existing} API key{plural} already; no new key created (see `crmkit apikeys`)")
        return
    info, key = created
    click.echo(
        f"created the API key {info.name!r} (role {info.role}, prefix {info.prefix}); "
        "it is shown only this once:",
        err=True,
    )
    click.echo(key)
