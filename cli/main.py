"""The ``crmkit`` command: its group, one-line errors and the commands plugins add.

``main()`` loads the enabled plugins before parsing, so their ``register_commands``
hooks can add commands; when they cannot load, the core commands still work and the
reason is shown where a plugin command would have been (help, unknown command).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click
from crmkit.core.plugins import PluginHost
from crmkit.core.settings import load_settings

from .apikeys import apikeys
from .context import quiet_plugin_log
from .errors import describe, one_line
from .export import export
from .fields import fields
from .imports import import_command, imports
from .init import init
from .migrate import migrate
from .plugins import plugins
from .roles import roles
from .search import search
from .serve import serve
from .users import users

__all__ = ["CORE_COMMANDS", "CrmGroup", "add_plugin_commands", "create_cli", "main"]

CORE_COMMANDS: list[click.Command] = [
    init,
    migrate,
    serve,
    plugins,
    apikeys,
    fields,
    users,
    roles,
    export,
    search,
    import_command,
    imports,
]


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


class CrmGroup(click.Group):
    """A user's error becomes one line (``--diagnose``: the traceback); bugs keep theirs."""

    #: Why the plugins' commands could not be added (None when they were).
    plugin_error: str | None = None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = None if ctx.params.get("diagnose") else describe(exc)
            if message is None:  # click's own exceptions, --diagnose, and bugs
                raise
            raise click.ClickException(message) from exc

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            if self.plugin_error:
                _warn(f"plugin commands are unavailable: {self.plugin_error}")
            raise

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        if self.plugin_error:
            formatter.write_paragraph()
            formatter.write_text(f"Plugin commands are unavailable: {self.plugin_error}")


def _new_group() -> CrmGroup:
    @click.group(cls=CrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--database-url",
        metavar="URL",
        envvar="CRMKIT_DATABASE_URL",
        show_envvar=True,
        help="sqlite:///path or postgresql://user@host:port/db (default sqlite:///crmkit.db).",
    )
    @click.option(
        "--config",
        metavar="PATH",
        envvar="CRMKIT_CONFIG",
        show_envvar=True,
        help="The settings file (default ./crmkit.toml).",
    )
    @click.option(
        "--diagnose",
        is_flag=True,
        envvar="CRMKIT_DIAGNOSE",
        show_envvar=True,
        help="Show the traceback of an error instead of one line.",
    )
    @click.version_option(package_name="crmkit", prog_name="crmkit")
    def crmkit(database_url: str | None, config: str | None, diagnose: bool) -> None:
        """crmkit: a plugin-based, headless CRM.

        Settings come from CRMKIT_* environment variables over crmkit.toml.
        """
        # Through the environment, so plugin commands and uvicorn's workers see them too.
        if database_url:
            os.environ["CRMKIT_DATABASE_URL"] = database_url
        if config:
            os.environ["CRMKIT_CONFIG"] = config

    return crmkit  # type: ignore[return-value]


def _early_environ(args: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with ``--config`` of ``args`` applied (it decides the plugins)."""
    env = dict(environ)
    rest = iter(args)
    for arg in rest:
        if arg == "--config":
            env["CRMKIT_CONFIG"] = next(rest, "")
        elif arg.startswith("--config="):
            env["CRMKIT_CONFIG"] = arg.partition("=")[2]
        elif arg == "--database-url":
            next(rest, None)
        elif not arg.startswith("-"):
            break  # the command: its options are not ours
    return env


def add_plugin_commands(group: CrmGroup, args: Sequence[str] = ()) -> None:
    """Call each enabled plugin's ``register_commands(cli=group)``.

    A plugin that fails is reported on stderr and skipped; one cannot replace a command
    that core or an earlier plugin added.
    """
    try:
        with quiet_plugin_log():  # commands that load plugins report their failures
            host = PluginHost(load_settings(_early_environ(args, os.environ)).plugins)
    except Exception as exc:
        group.plugin_error = describe(exc) or f"{type(exc).__name__}: {one_line(exc)}"
        return
    for impl in host.hook.register_commands.get_hookimpls():  # registration (plugin) order
        before = dict(group.commands)
        try:
            impl.function(**{name: group for name in impl.argnames if name == "cli"})
        except Exception as exc:
            group.commands = before
            reason = describe(exc) or f"{type(exc).__name__}: {one_line(exc)}"
            _warn(f"plugin {impl.plugin_name!r} could not add its commands: {reason}")
            continue
        for name, command in before.items():
            if group.commands.get(name) is not command:
                group.commands[name] = command
                _warn(f"plugin {impl.plugin_name!r} cannot replace the {name!r} command")


def create_cli(args: Sequence[str] = (), *, with_plugins: bool = True) -> CrmGroup:
    """A fresh ``crmkit`` group: the core commands, plus those of the enabled plugins."""
    group = _new_group()
    for command in CORE_COMMANDS:
        group.add_command(command)
    if with_plugins:
        add_plugin_commands(group, args)
    return group


def main(args: Sequence[str] | None = None) -> None:
    """The ``crmkit`` console script."""
    argv = list(sys.argv[1:] if args is None else args)
    create_cli(argv).main(args=argv, prog_name="crmkit")
