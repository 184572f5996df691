"""``crmkit apikeys``: create (key alone on the last line), list (no secrets), revoke."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re

import pytest
from crmkit.core import Actor, Runtime, load_settings
from crmkit.core.apikeys import authenticate, flush_usage

from .output import KEY, Invoke, rows, table

TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


@pytest.fixture
def migrated(invoke: Invoke, database: str) -> str:
    assert invoke("migrate").exit_code == 0
    return database


def test_create_list_revoke(invoke: Invoke, migrated: str) -> None:
    created = invoke(
        "apikeys", "create", "--name", "zapier", "--role", "agent", "--expires", "2999-01-31"
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[-1]
    assert created.stdout == key + "\n"  # info went to stderr
    assert KEY.fullmatch(key)
    assert "role agent" in created.stderr
    prefix, secret = key.split("_", 2)[1:]

    listing = invoke("apikeys", "list")
    assert listing.exit_code == 0, listing.output
    header, row = rows(listing.stdout)
    assert header == [
        "id", "prefix", "name", "role", "created", "expires", "revoked", "last used", "user"
    ]  # fmt: skip
    key_id, row_prefix, name, role, created_at, expires, revoked, last_used, user = row
    assert (row_prefix, name, role, user) == (prefix, "zapier", "agent", "-")
    assert TIME.fullmatch(created_at)
    assert (expires, revoked, last_used) == ("2999-01-31 00:00", "-", "-")
    assert secret not in listing.output

    revoked_now = invoke("apikeys", "revoke", prefix)
    assert revoked_now.exit_code == 0, revoked_now.output
    assert revoked_now.stdout == f"revoked the API key 'zapier' (prefix {prefix})\n"
    assert TIME.fullmatch(table(invoke("apikeys", "list").stdout)[key_id][6])

    again = invoke("apikeys", "revoke", key_id.upper())  # by id, any case
    assert again.exit_code == 0
    assert "was revoked already" in again.stdout


def test_create_defaults_and_list_order(invoke: Invoke, migrated: str) -> None:
    first = invoke("apikeys", "create", "--name", "one")
    second = invoke("apikeys", "create", "--name", "two", "--role", "viewer")
    assert first.exit_code == second.exit_code == 0
    listing = rows(invoke("apikeys", "list").stdout)[1:]
    assert [(r[2], r[3], r[5]) for r in listing] == [("one", "admin", "-"), ("two", "viewer", "-")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expires", "2001-01-01"], "is not in the future"),
        (["--expires", "next tuesday"], "is not an ISO 8601 date"),
        (["--user", "kari@example.com", "--role", "agent"], "--role cannot be used with --user"),
    ],
)
def test_create_rejects_bad_options(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke("apikeys", "create", "--name", "x", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_create_rejects_a_blank_name(invoke: Invoke, migrated: str) -> None:
    result = invoke("apikeys", "create", "--name", "  ")
    assert result.exit_code == 1
    assert result.stderr == "Error: invalid API key (name: required)\n"


def test_list_and_revoke_without_keys(invoke: Invoke, migrated: str) -> None:
    assert invoke("apikeys", "list").stdout.startswith("no API keys")
    result = invoke("apikeys", "revoke", "abc")
    assert result.exit_code == 1
    assert result.stderr == "Error: no API key 'abc'\n"


# -- keys of users, custom roles, durations ---------------------------------------------


async def _use(db_url: str, key: str) -> Actor:
    """Authenticate with ``key`` as the API would, and wait for its use to be recorded."""
    settings = load_settings({"CRMKIT_CONFIG": os.devnull}, database_url=db_url, plugins=[])
    async with Runtime.create(settings) as runtime:
        actor = await authenticate(runtime, key)
        await flush_usage(runtime)
        return actor


def test_create_for_a_user(invoke: Invoke, migrated: str) -> None:
    added = invoke("users", "add", "kari@example.com", "--name", "Kari", "--role", "agent")
    assert added.exit_code == 0, added.output
    created = invoke("apikeys", "create", "--user", "KARI@example.com", "--expires", "30d")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert KEY.fullmatch(key)
    assert "(for kari@example.com, role agent, prefix" in created.stderr

    row = rows(invoke("apikeys", "list").stdout)[1]
    assert (row[2], row[3], row[8]) == ("kari@example.com", "agent", "kari@example.com")
    expires = dt.datetime.strptime(row[5], "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    in_30_days = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert abs(expires - in_30_days) < dt.timedelta(minutes=2)
    assert row[7] == "-"

    actor = asyncio.run(_use(migrated, key))
    assert (actor.kind, actor.name, actor.role) == ("user", "Kari", "agent")
    assert TIME.fullmatch(rows(invoke("apikeys", "list").stdout)[1][7])  # last used

    assert invoke("users", "set", "kari@example.com", "--role", "manager").exit_code == 0
    assert rows(invoke("apikeys", "list").stdout)[1][3] == "manager"  # the user's role, now
    assert asyncio.run(_use(migrated, key)).role == "manager"


def test_list_the_keys_of_one_user(invoke: Invoke, migrated: str) -> None:
    invoke("users", "add", "kari@example.com", "--name", "Kari")
    invoke("apikeys", "create", "--user", "kari@example.com", "--name", "laptop")
    invoke("apikeys", "create", "--name", "zapier")
    listing = rows(invoke("apikeys", "list", "--user", "kari@example.com").stdout)
    assert [r[2] for r in listing[1:]] == ["laptop"]
    assert len(rows(invoke("apikeys", "list").stdout)) == 3


def test_a_service_key_may_have_a_custom_role(invoke: Invoke, migrated: str) -> None:
    unknown = invoke("apikeys", "create", "--name", "svc", "--role", "sales")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("Error: invalid API key (role: no role 'sales'")
    assert invoke("roles", "add", "sales", "--grant", "*:read").exit_code == 0
    created = invoke("apikeys", "create", "--name", "svc", "--role", "sales")
    assert created.exit_code == 0, created.output
    assert asyncio.run(_use(migrated, created.stdout.strip())).role == "sales"


def test_create_needs_a_user_or_a_name(invoke: Invoke, migrated: str) -> None:
    result = invoke("apikeys", "create", "--role", "viewer")
    assert result.exit_code == 2
    assert "give --user EMAIL, or --name" in result.stderr
    result = invoke("apikeys", "create", "--user", "nobody@example.com")
    assert result.exit_code == 1
    assert result.stderr == "Error: no user with the e-mail address 'nobody@example.com'\n"
    invoke("users", "add", "gone@example.com", "--name", "Gone")
    invoke("users", "remove", "gone@example.com")
    result = invoke("apikeys", "create", "--user", "gone@example.com")
    assert result.exit_code == 1
    assert "user_id: the user gone@example.com is not active" in result.stderr
    assert invoke("apikeys", "list").stdout.startswith("no API keys")
