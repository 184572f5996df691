"""``crmkit users``: list, add, change, remove and restore users (by e-mail address).

The commands hand their values to ``crmkit.core.users``, so the CLI and
``/api/v1/users`` accept and refuse exactly the same things.
"""

from __future__ import annotations

import click
from crmkit.core.runtime import Runtime
from crmkit.core.users import (
    User,
    UserCreate,
    UserPatch,
    create_user,
    delete_user,
    find_user,
    list_users,
    restore_user,
    update_user,
)

from .context import with_runtime
from .table import echo_table, fmt_time

__all__ = ["users"]


def _status(user: User) -> str:
    if user.deleted_at is not None:
        return "deleted"
    return "active" if user.active else "inactive"


def _describe(user: User) -> str:
    return f"{user.email} ({user.name}, role {user.role}, {_status(user)})"


@click.group()
def users() -> None:
    """List, add, change and remove the people who use the API."""


@users.command("list")
@click.option("--role", help="Only users with this role.")
@click.option("--active/--inactive", default=None, help="Only active (or inactive) users.")
@click.option("--deleted", is_flag=True, help="Include deleted users.")
@click.option("-q", "query", metavar="TEXT", help="Only users whose name or address contains it.")
def list_(role: str | None, active: bool | None, deleted: bool, query: str | None) -> None:
    """List users by e-mail address; times are UTC."""

    async def go(runtime: Runtime) -> list[User]:
        found: list[User] = []
        cursor = None
        while True:
            page = await list_users(
                runtime,
                active=active,
                role=role,
                q=query,
                include_deleted=deleted,
                limit=500,
                cursor=cursor,
            )
            found.extend(page.data)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    found = with_runtime(go)
    if not found:
        click.echo("no users (add one with `crmkit users add EMAIL --name NAME --role ROLE`)")
        return
    echo_table(
        ["email", "name", "role", "status", "created", "id"],
        [(u.email, u.name, u.role, _status(u), fmt_time(u.created_at), u.id) for u in found],
    )


@users.command()
@click.argument("email")
@click.option("--name", required=True, help="The person's name.")
@click.option("--role", default="viewer", show_default=True, help="A built-in or custom role.")
@click.option("--inactive", is_flag=True, help="Add the user deactivated.")
def add(email: str, name: str, role: str, inactive: bool) -> None:
    """Add a user; give them a key with `crmkit apikeys create --user EMAIL`."""

    async def go(runtime: Runtime) -> User:
        body = UserCreate(name=name, email=email, role=role, active=not inactive)
        return await create_user(runtime, body)

    user = with_runtime(go)
    click.echo(f"added the user {_describe(user)}; id {user.id}")


@users.command("set")
@click.argument("email")
@click.option("--name", help="A new name.")
@click.option("--email", "new_email", metavar="ADDRESS", help="A new e-mail address.")
@click.option("--role", help="A new role (their keys take it at once).")
@click.option("--active/--inactive", default=None, help="Activate or deactivate the user.")
def set_(
    email: str, name: str | None, new_email: str | None, role: str | None, active: bool | None
) -> None:
    """Change a user's name, address, role or status."""
    changes = {"name": name, "email": new_email, "role": role, "active": active}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise click.UsageError("nothing to change: give --name, --email, --role or --active")

    async def go(runtime: Runtime) -> User:
        user = await find_user(runtime, email)
        return await update_user(runtime, user.id, UserPatch(**changes))

    click.echo(f"changed the user {_describe(with_runtime(go))}")


@users.command()
@click.argument("email")
def remove(email: str) -> None:
    """Deactivate a user for good: their keys stop working (`restore` undoes it)."""

    async def go(runtime: Runtime) -> User:
        return await delete_user(runtime, (await find_user(runtime, email)).id)

    user = with_runtime(go)
    click.echo(
        f"removed the user {user.email}: their API keys stop working "
        f"(`crmkit users restore {user.email}` undoes it)"
    )


@users.command()
@click.argument("email")
def restore(email: str) -> None:
    """Undo `remove`: the user and their (unrevoked) keys work again."""

    async def go(runtime: Runtime) -> User:
        return await restore_user(runtime, (await find_user(runtime, email)).id)

    click.echo(f"restored the user {_describe(with_runtime(go))}")
