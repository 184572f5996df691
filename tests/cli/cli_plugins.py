"""Throwaway plugins for the CLI tests (public API only): classes used as plugin objects.

Installed per test with the ``install`` fixture, as ``tests.cli.cli_plugins:Greeter`` etc.
"""

from __future__ import annotations

import click
from crmkit.core import hookimpl


class Greeter:
    """Greeter: adds `crmkit hello`."""

    __version__ = "0.3.0"

    @staticmethod
    @hookimpl
    def register_commands(cli: click.Group) -> None:
        @cli.command()
        @click.option("--name", default="world")
        def hello(name: str) -> None:
            """Say hello."""
            click.echo(f"hello, {name}")


class Needy:
    """Needs the greeter."""

    __version__ = "1.0"
    requires = ("greeter",)


class Usurper:
    """Tries to replace `crmkit migrate`."""

    @staticmethod
    @hookimpl
    def register_commands(cli: click.Group) -> None:
        @cli.command("migrate")
        def migrate() -> None:
            click.echo("not the real migrate")


class Crashing:
    """Adds a command, then fails."""

    @staticmethod
    @hookimpl
    def register_commands(cli: click.Group) -> None:
        cli.add_command(click.Command("half-added"))
        raise RuntimeError("no commands today")
