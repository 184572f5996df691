"""``crmkit apikeys``: create (key alone on the last line), list (no secrets), revoke."""

from __future__ import annotations

import re

import pytest

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
        "id", "prefix", "name", "role", "created", "expires", "revoked", "last used"
    ]  # fmt: skip
    key_id, row_prefix, name, role, created_at, expires, revoked, last_used = row
    assert (row_prefix, name, role) == (prefix, "zapier", "agent")
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
        (["--role", "boss"], "'boss' is not one of"),
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
