"""``crmkit users``: add, list, set, remove and restore users by e-mail address."""

from __future__ import annotations

import pytest

from .output import Invoke, rows, table


@pytest.fixture
def migrated(invoke: Invoke, database: str) -> str:
    assert invoke("migrate").exit_code == 0
    return database


def test_add_list_set_remove_restore(invoke: Invoke, migrated: str) -> None:
    added = invoke("users", "add", "Kari@Example.com", "--name", "Kari Nordmann", "--role", "agent")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith(
        "added the user kari@example.com (Kari Nordmann, role agent, active); id "
    )
    assert invoke("users", "add", "ola@acme.no", "--name", "Ola").exit_code == 0

    listing = table(invoke("users", "list").stdout)
    assert listing["email"] == ["email", "name", "role", "status", "created", "id"]
    assert listing["kari@example.com"][1:4] == ["Kari Nordmann", "agent", "active"]
    assert listing["ola@acme.no"][1:4] == ["Ola", "viewer", "active"]
    assert [r[0] for r in rows(invoke("users", "list", "--role", "agent").stdout)[1:]] == [
        "kari@example.com"
    ]
    assert [r[0] for r in rows(invoke("users", "list", "-q", "ACME").stdout)[1:]] == ["ola@acme.no"]

    changed = invoke("users", "set", "KARI@example.com", "--role", "manager", "--inactive")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == (
        "changed the user kari@example.com (Kari Nordmann, role manager, inactive)\n"
    )
    inactive = rows(invoke("users", "list", "--inactive").stdout)[1:]
    assert [r[0] for r in inactive] == ["kari@example.com"]
    moved = invoke("users", "set", "kari@example.com", "--email", "kari@acme.no", "--active")
    assert "kari@acme.no (Kari Nordmann, role manager, active)" in moved.stdout

    removed = invoke("users", "remove", "ola@acme.no")
    assert removed.exit_code == 0, removed.output
    assert "crmkit users restore ola@acme.no" in removed.stdout
    assert list(table(invoke("users", "list").stdout)) == ["email", "kari@acme.no"]
    assert table(invoke("users", "list", "--deleted").stdout)["ola@acme.no"][3] == "deleted"
    restored = invoke("users", "restore", "ola@acme.no")
    assert restored.stdout == "restored the user ola@acme.no (Ola, role viewer, active)\n"


def test_errors_are_one_line(invoke: Invoke, migrated: str) -> None:
    invoke("users", "add", "kari@example.com", "--name", "Kari")
    taken = invoke("users", "add", "KARI@example.com", "--name", "Other")
    assert taken.exit_code == 1
    assert taken.stderr == (
        "Error: a user with the e-mail address kari@example.com exists already "
        "(a deleted one can be restored) (email: already used by another user)\n"
    )
    bad = invoke("users", "add", "nope", "--name", "X", "--role", "boss")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: 2 problems in the user (email: ")
    assert "role: no role 'boss'" in bad.stderr
    missing = invoke("users", "set", "nobody@example.com", "--name", "X")
    assert missing.stderr == "Error: no user with the e-mail address 'nobody@example.com'\n"
    nothing = invoke("users", "set", "kari@example.com")
    assert nothing.exit_code == 2
    assert "nothing to change" in nothing.stderr
    assert len(rows(invoke("users", "list").stdout)) == 2  # header and Kari


def test_the_last_admin_stays(invoke: Invoke, migrated: str) -> None:
    invoke("users", "add", "root@example.com", "--name", "Root", "--role", "admin")
    demoted = invoke("users", "set", "root@example.com", "--role", "viewer")
    assert demoted.exit_code == 1
    assert "root@example.com is the last admin" in demoted.stderr
    assert invoke("users", "remove", "root@example.com").exit_code == 1
    # an admin service key counts as an admin
    assert invoke("apikeys", "create", "--name", "ops", "--role", "admin").exit_code == 0
    assert invoke("users", "set", "root@example.com", "--role", "viewer").exit_code == 0


def test_list_without_users(invoke: Invoke, migrated: str) -> None:
    assert invoke("users", "list").stdout.startswith("no users (add one with")
