"""``crmkit roles``: list the built-in and custom roles, add and remove custom ones.

The commands hand their values to ``crmkit.core.roles``, so the CLI and
``/api/v1/roles`` accept and refuse exactly the same roles.
"""

from __future__ import annotations

import click
from crmkit.core.access import ABILITIES, Role
from crmkit.core.roles import RoleCreate, create_role, delete_role, list_roles
from crmkit.core.runtime import Runtime

from .context import with_runtime
from .table import echo_table

__all__ = ["roles"]


def _grants(role: Role) -> str:
    return "; ".join(f"{subject}:{','.join(actions)}" for subject, actions in role.grants.items())


class Grant(click.ParamType):
    """``ENTITY:ACTION[,ACTION...]`` (``*`` for every entity the role does not name)."""

    name = "grant"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, list[str]]:
        if isinstance(value, tuple):
            return value
        subject, sep, actions = str(value).partition(":")
        names = [a.strip() for a in actions.split(",") if a.strip()]
        if not sep or not subject.strip() or not names:
            self.fail(f"{value!r} is not ENTITY:ACTION[,ACTION...] (e.g. individual:read,update)")
        return subject.strip(), names


@click.group()
def roles() -> None:
    """List roles; add and remove custom ones."""


@roles.command("list")
def list_() -> None:
    """The built-in roles, then the custom ones, with what each grants."""
    found = with_runtime(list_roles)
    echo_table(
        ["name", "kind", "scope", "abilities", "grants"],
        [
            (
                r.name,
                "built-in" if r.builtin else "custom",
                r.scope,
                ",".join(r.abilities) or "-",
                _grants(r) or "-",
            )
            for r in found
        ],
    )


@roles.command()
@click.argument("name")
@click.option(
    "--grant",
    "grants",
    type=Grant(),
    multiple=True,
    metavar="ENTITY:ACTIONS",
    help="Actions on an entity, e.g. individual:read,update or *:read (repeatable).",
)
@click.option(
    "--ability", "abilities", type=click.Choice(ABILITIES), multiple=True, help="(repeatable)"
)
@click.option(
    "--scope",
    type=click.Choice(["all", "own"]),
    default="all",
    show_default=True,
    help="own: only records the user owns, is assigned or created.",
)
@click.option("--label", default="", help="A display name (default: from NAME).")
@click.option("--description", default="", help="What the role is for.")
def add(
    name: str,
    grants: tuple[tuple[str, list[str]], ...],
    abilities: tuple[str, ...],
    scope: str,
    label: str,
    description: str,
) -> None:
    """Add a custom role NAME."""
    merged: dict[str, list[str]] = {}
    for subject, actions in grants:
        merged.setdefault(subject, []).extend(actions)
    body = RoleCreate(
        name=name,
        label=label,
        description=description,
        grants=merged,
        abilities=list(abilities),
        scope=scope,  # type: ignore[arg-type]
    )

    async def go(runtime: Runtime) -> Role:
        return await create_role(runtime, body)

    role = with_runtime(go)
    click.echo(f"added the role {role.name!r}: {_grants(role) or 'no grants'}")


@roles.command()
@click.argument("name")
def remove(name: str) -> None:
    """Delete a custom role that no user, key or field rule uses."""

    async def go(runtime: Runtime) -> Role:
        return await delete_role(runtime, name)

    with_runtime(go)
    click.echo(f"removed the role {name!r}")
