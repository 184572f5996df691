"""``crmkit roles``: list built-in and custom roles, add and remove custom ones."""

from __future__ import annotations

import pytest

from .output import Invoke, rows, table


@pytest.fixture
def migrated(invoke: Invoke, database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals")  # an entity to grant actions on
    assert invoke("migrate").exit_code == 0
    return database


def test_add_list_remove(invoke: Invoke, migrated: str) -> None:
    listing = table(invoke("roles", "list").stdout)
    assert listing["name"] == ["name", "kind", "scope", "abilities", "grants"]
    assert listing["admin"][1:] == [
        "built-in", "all", "manage_fields,manage_users,hard_delete",
        "*:read,create,update,delete,bulk,import,export",
    ]  # fmt: skip
    assert listing["viewer"][1:] == ["built-in", "all", "-", "*:read"]

    added = invoke(
        "roles", "add", "sales",
        "--grant", "individual:update,read",
        "--grant", "individual:export",
        "--grant", "*:read",
        "--ability", "manage_fields",
        "--scope", "own",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout == "added the role 'sales': individual:read,update,export; *:read\n"
    assert table(invoke("roles", "list").stdout)["sales"][1:] == [
        "custom", "own", "manage_fields", "individual:read,update,export; *:read"
    ]  # fmt: skip

    removed = invoke("roles", "remove", "sales")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == "removed the role 'sales'\n"
    assert "sales" not in table(invoke("roles", "list").stdout)


def test_bad_roles_are_refused(invoke: Invoke, migrated: str) -> None:
    bad = invoke("roles", "add", "team", "--grant", "spaceship:read", "--grant", "*:fly")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: 2 problems in the role (grants.spaceship: not an entity")
    assert "grants.*[0]: not one of read, create" in bad.stderr
    malformed = invoke("roles", "add", "team", "--grant", "individual")
    assert malformed.exit_code == 2
    assert "is not ENTITY:ACTION" in malformed.stderr
    builtin = invoke("roles", "add", "admin")
    assert builtin.stderr == "Error: 1 problem in the role (name: is a built-in role)\n"
    assert invoke("roles", "remove", "viewer").stderr.startswith(
        "Error: 'viewer' is a built-in role"
    )
    assert invoke("roles", "remove", "ghost").stderr == "Error: no role 'ghost'\n"
    assert len(rows(invoke("roles", "list").stdout)) == 5  # header and the built-in four


def test_a_role_in_use_stays(invoke: Invoke, migrated: str) -> None:
    assert invoke("roles", "add", "sales", "--grant", "*:read").exit_code == 0
    assert (
        invoke("users", "add", "kari@example.com", "--name", "K", "--role", "sales").exit_code == 0
    )
    assert invoke("apikeys", "create", "--name", "svc", "--role", "sales").exit_code == 0
    result = invoke("roles", "remove", "sales")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: the role 'sales' is in use by 1 user and 1 API key; change them first"
    )
    assert "sales" in table(invoke("roles", "list").stdout)
