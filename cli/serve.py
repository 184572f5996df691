"""``crmkit serve``: the API under uvicorn (``create_app`` is called in each worker)."""

from __future__ import annotations

import importlib.util
import ipaddress

import click
from crmkit.core.errors import CrmError
from crmkit.core.migrate import Migrator
from crmkit.core.runtime import Runtime
from crmkit.core.settings import load_settings

from .context import with_runtime

__all__ = ["APP_FACTORY", "serve"]

APP_FACTORY = "crmkit.core.api.app:create_app"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _pending(runtime: Runtime) -> int:
    return sum(not m.applied for m in await Migrator(runtime).status())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, type=click.IntRange(0, 65535), show_default=True, help="Port."
)
@click.option(
    "--workers", default=1, type=click.IntRange(min=1), show_default=True, help="Processes."
)
@click.option("--reload", is_flag=True, help="Restart when the code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Start the API (uvicorn).

    The settings, plugins and database are checked first, so a mistake is one line
    here rather than a traceback in every worker.
    """
    if reload and workers > 1:
        raise click.UsageError("--reload runs one process: it cannot be combined with --workers")
    if importlib.util.find_spec(APP_FACTORY.partition(":")[0]) is None:
        raise CrmError(f"the API is not installed ({APP_FACTORY} is missing)")
    settings = load_settings()
    if not settings.auth:
        if not _loopback(host):
            raise CrmError(
                f"auth is off (CRMKIT_AUTH=false): refusing to listen on {host}; "
                "switch auth on, or serve on 127.0.0.1 for local experiments"
            )
        click.echo(
            "warning: auth is OFF (CRMKIT_AUTH=false): every request acts as an admin", err=True
        )
    pending = with_runtime(_pending)
    if pending:
        click.echo(f"warning: {pending} migration(s) not applied; run `crmkit migrate`", err=True)
    import uvicorn

    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, reload=reload)
