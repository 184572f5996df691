"""The ``user`` field type: a reference to an active user, checked once per write.

A value is a user id (UUID text). Each new or changed value must name a user that
exists, is active and is not deleted (all of a write's values in one query); a value a
write leaves alone is never re-checked, so deactivating a user breaks no record.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.custom_fields import validate
from crmkit.core.users import User, UserCreate, UserPatch, create_user, delete_user, update_user
from litestar import Litestar

DEFS = "/api/v1/custom-fields"
PEOPLE = "/api/v1/individuals"
NO_USER = "no active user with this id"


def fields(r: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def add_user(runtime: Runtime, name: str) -> User:
    return await create_user(
        runtime, UserCreate(name=name, email=f"{name.lower()}@example.com", role="agent")
    )


async def deactivate(runtime: Runtime, user: User) -> None:
    await update_user(runtime, user.id, UserPatch(active=False))


async def define(client: httpx.AsyncClient, key: str, **extra: Any) -> dict[str, Any]:
    body = {"entity": "individual", "key": key, "type": "user", **extra}
    r = await client.post(DEFS, json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def person(client: httpx.AsyncClient, name: str, custom: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(PEOPLE, json={"first_name": name, "last_name": "X", "custom": custom})
    assert r.status_code == 201, r.text
    return r.json()


async def count_people(runtime: Runtime) -> int:
    return int(await runtime.db.fetchval("SELECT COUNT(*) AS n FROM individual"))


@pytest.fixture
async def users(runtime: Runtime) -> dict[str, User]:
    return {name: await add_user(runtime, name) for name in ("Kari", "Ola", "Per")}


async def test_store_read_filter_and_sort(
    client: httpx.AsyncClient, app: Litestar, users: dict[str, User]
) -> None:
    await define(client, "account_manager", label="Account manager", filterable=True, sortable=True)
    kari, ola = str(users["Kari"].id), str(users["Ola"].id)
    ada = await person(client, "Ada", {"account_manager": kari.upper()})
    assert ada["custom"] == {"account_manager": kari}  # stored as lower-case UUID text
    bo = await person(client, "Bo", {"account_manager": ola.replace("-", "")})
    assert bo["custom"] == {"account_manager": ola}
    await person(client, "Cy", {})
    r = await client.get(f"{PEOPLE}/{ada['id']}")
    assert r.json()["custom"] == {"account_manager": kari}

    async def names(**params: str) -> list[str]:
        r = await client.get(PEOPLE, params=params)
        assert r.status_code == 200, r.text
        return [p["first_name"] for p in r.json()["data"]]

    assert await names(**{"custom.account_manager": kari}) == ["Ada"]
    assert await names(**{"custom.account_manager__in": f"{kari},{ola}", "sort": "first_name"}) == [
        "Ada",
        "Bo",
    ]
    assert await names(**{"custom.account_manager__ne": kari, "sort": "first_name"}) == [
        "Bo",
        "Cy",
    ]
    assert await names(**{"custom.account_manager__isnull": "true"}) == ["Cy"]
    ordered = [n for _, n in sorted([(kari, "Ada"), (ola, "Bo")])]
    assert await names(sort="custom.account_manager") == [*ordered, "Cy"]  # no value: last
    r = await client.get(PEOPLE, params={"custom.account_manager__contains": "abc"})
    assert r.status_code == 400  # not an operator of the type

    meta = (await client.get("/api/v1/meta/entities/individual")).json()
    field = next(f for f in meta["fields"] if f["key"] == "custom.account_manager")
    assert (field["type"], field["label"]) == ("user", "Account manager")
    assert field["schema"] == {"type": "string", "format": "uuid"}
    assert field["operators"] == ["eq", "in", "isnull", "ne", "nin"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        doc = (await anon.get("/schema/openapi.json")).json()
    prop = doc["components"]["schemas"]["Individual"]["properties"]["custom"]["properties"]
    text = str(prop["account_manager"])
    assert "'format': 'uuid'" in text and "'type': 'string'" in text


async def test_unknown_inactive_and_deleted_users_are_refused(
    runtime: Runtime, client: httpx.AsyncClient, users: dict[str, User]
) -> None:
    await define(client, "account_manager")
    await define(client, "backup")
    await deactivate(runtime, users["Ola"])
    await delete_user(runtime, users["Per"].id)
    before = await count_people(runtime)
    for value in (str(uuid.uuid4()), str(users["Ola"].id), str(users["Per"].id)):
        r = await client.post(
            PEOPLE,
            json={"first_name": "Di", "last_name": "X", "custom": {"account_manager": value}},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert fields(r) == {"custom.account_manager": NO_USER}
    r = await client.post(
        PEOPLE,
        json={
            "first_name": "Di",
            "last_name": "X",
            "custom": {"account_manager": "kari", "backup": str(uuid.uuid4()), "nope": 1},
        },
    )
    assert r.status_code == 422
    assert fields(r) == {  # every problem at once, the shape checked before the database
        "custom.account_manager": "expected a user id (a UUID)",
        "custom.backup": NO_USER,
        "custom.nope": "unknown custom field",
    }
    assert await count_people(runtime) == before  # nothing was written
    ada = await person(client, "Ada", {"account_manager": str(users["Kari"].id)})
    r = await client.patch(
        f"{PEOPLE}/{ada['id']}", json={"custom": {"account_manager": str(users["Ola"].id)}}
    )
    assert r.status_code == 422 and fields(r) == {"custom.account_manager": NO_USER}
    r = await client.get(f"{PEOPLE}/{ada['id']}")
    assert r.json()["custom"] == {"account_manager": str(users["Kari"].id)}


async def test_all_values_of_a_write_are_checked_in_one_call(
    runtime: Runtime,
    client: httpx.AsyncClient,
    users: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await define(client, "account_manager")
    await define(client, "backup")
    await define(client, "owner")
    check, message = validate.REFERENCE_CHECKS["user"]
    calls: list[set[str]] = []

    async def counted(rt: Runtime, ids: set[str]) -> set[str]:
        calls.append(set(ids))
        return await check(rt, ids)

    monkeypatch.setitem(validate.REFERENCE_CHECKS, "user", (counted, message))
    kari, ola = str(users["Kari"].id), str(users["Ola"].id)
    ada = await person(client, "Ada", {"account_manager": kari, "backup": ola, "owner": kari})
    assert calls == [{kari, ola}]  # one check (one query) for the three values
    calls.clear()
    r = await client.patch(f"{PEOPLE}/{ada['id']}", json={"job_title": "CTO"})
    assert r.status_code == 200, r.text
    assert calls == []  # nothing new: nothing checked
    custom = {"account_manager": kari, "backup": kari, "owner": kari}
    r = await client.patch(f"{PEOPLE}/{ada['id']}", json={"custom": custom})
    assert r.status_code == 200, r.text
    assert calls == [{kari}]  # only the changed value


async def test_an_unchanged_value_survives_the_users_deactivation(
    runtime: Runtime, client: httpx.AsyncClient, users: dict[str, User]
) -> None:
    await define(client, "account_manager", filterable=True)
    await define(client, "tier_owner")
    kari, ola = str(users["Kari"].id), str(users["Ola"].id)
    ada = await person(client, "Ada", {"account_manager": kari})
    url = f"{PEOPLE}/{ada['id']}"
    await deactivate(runtime, users["Kari"])

    r = await client.get(url)  # reads return the id as stored
    assert r.status_code == 200 and r.json()["custom"] == {"account_manager": kari}
    r = await client.patch(url, json={"job_title": "CTO"})  # another field
    assert r.status_code == 200, r.text
    assert r.json()["custom"] == {"account_manager": kari}
    # the same id sent back (any case) with another custom value changed
    r = await client.patch(
        url, json={"custom": {"account_manager": kari.upper(), "tier_owner": ola}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["custom"] == {"account_manager": kari, "tier_owner": ola}
    r = await client.get(PEOPLE, params={"custom.account_manager": kari})
    assert [p["id"] for p in r.json()["data"]] == [ada["id"]]
    # moving away from the inactive user works; moving back to them does not
    r = await client.patch(url, json={"custom": {"account_manager": ola}})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"custom": {"account_manager": kari}})
    assert r.status_code == 422 and fields(r) == {"custom.account_manager": NO_USER}
    # a new record cannot name the inactive user either
    r = await client.post(
        PEOPLE, json={"first_name": "Bo", "last_name": "X", "custom": {"account_manager": kari}}
    )
    assert r.status_code == 422 and fields(r) == {"custom.account_manager": NO_USER}


async def test_a_default_user_is_checked_on_create(
    runtime: Runtime, client: httpx.AsyncClient, users: dict[str, User]
) -> None:
    kari = str(users["Kari"].id)
    await define(client, "account_manager", default=kari.upper())
    made = await person(client, "Ada", {})
    assert made["custom"] == {"account_manager": kari}
    await deactivate(runtime, users["Kari"])
    r = await client.post(PEOPLE, json={"first_name": "Bo", "last_name": "X"})
    assert r.status_code == 422 and fields(r) == {"custom.account_manager": NO_USER}
    made = await person(client, "Bo", {"account_manager": str(users["Ola"].id)})
    assert made["custom"] == {"account_manager": str(users["Ola"].id)}
    r = await client.post(DEFS, json={"entity": "individual", "key": "x", "type": "user",
                                      "default": "someone"})  # fmt: skip
    assert r.status_code == 422 and fields(r) == {"default": "expected a user id (a UUID)"}


async def test_a_type_change_to_user_checks_the_users(
    runtime: Runtime, client: httpx.AsyncClient, users: dict[str, User]
) -> None:
    r = await client.post(DEFS, json={"entity": "individual", "key": "am", "type": "text"})
    definition = r.json()
    kari, ola, ghost = str(users["Kari"].id), str(users["Ola"].id), str(uuid.uuid4())
    await deactivate(runtime, users["Ola"])
    ids = {}
    for name, value in [("Ada", kari.upper()), ("Bo", ola), ("Cy", ghost), ("Di", "kari")]:
        ids[name] = (await person(client, name, {"am": value}))["id"]
    url = f"{DEFS}/{definition['id']}/change-type"
    r = await client.post(url, json={"type": "user"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["records"], report["convertible"], report["unconvertible"]) == (4, 1, 3)
    assert {f["record_id"]: f["message"] for f in report["failures"]} == {
        ids["Bo"]: NO_USER,
        ids["Cy"]: NO_USER,
        ids["Di"]: "expected a user id (a UUID)",
    }
    r = await client.post(url, json={"type": "user", "dry_run": False, "force": True})
    assert r.status_code == 200, r.text
    assert r.json()["set_aside"] == 3, r.json()
    assert (await client.get(f"{PEOPLE}/{ids['Ada']}")).json()["custom"] == {"am": kari}
    assert (await client.get(f"{PEOPLE}/{ids['Bo']}")).json()["custom"] == {}
    r = await client.get(f"{DEFS}/{definition['id']}/unconverted")
    aside = {e["record_id"]: (e["value"], e["message"]) for e in r.json()["data"]}
    assert aside == {
        ids["Bo"]: (ola, NO_USER),
        ids["Cy"]: (ghost, NO_USER),
        ids["Di"]: ("kari", "expected a user id (a UUID)"),
    }
