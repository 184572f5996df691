"""Record owners: ``owner_id`` names an active user, filters, and scopes "own records"."""

from __future__ import annotations

import uuid

import httpx
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.roles import RoleCreate, create_role
from crmkit.core.users import UserCreate, create_user, delete_user


async def _user(runtime: Runtime, email: str, role: str = "agent") -> str:
    user = await create_user(runtime, UserCreate(name=email.split("@")[0], email=email, role=role))
    return str(user.id)


async def test_owner_must_be_an_active_user(runtime: Runtime, client: httpx.AsyncClient) -> None:
    owner = await _user(runtime, "ola@example.no")
    for plural, body in [
        ("individuals", {"first_name": "Kari", "last_name": "Nordmann"}),
        ("organizations", {"name": "Acme AS"}),
    ]:
        r = await client.post(f"/api/v1/{plural}", json={**body, "owner_id": str(uuid.uuid4())})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["owner_id"]
        r = await client.post(f"/api/v1/{plural}", json={**body, "owner_id": owner})
        assert r.status_code == 201, r.text
        assert r.json()["owner_id"] == owner
        listed = await client.get(f"/api/v1/{plural}", params={"owner_id": owner})
        assert [x["id"] for x in listed.json()["data"]] == [r.json()["id"]]
    # a record whose owner left stays writable; a new owner must be active
    person = (await client.get("/api/v1/individuals", params={"owner_id": owner})).json()["data"][0]
    await delete_user(runtime, owner)
    url = f"/api/v1/individuals/{person['id']}"
    r = await client.patch(url, json={"job_title": "CEO"})
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"owner_id": owner})
    assert r.status_code == 200  # unchanged value: not checked again
    other = await _user(runtime, "per@example.no")
    await delete_user(runtime, other)
    r = await client.patch(url, json={"owner_id": other})
    assert r.status_code == 422, r.text


async def test_own_scope_sees_owned_and_created_records(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await create_role(
        runtime,
        RoleCreate(
            name="rep",
            grants={"*": ["read", "create", "update"]},
            scope="own",
        ),
    )
    rep = await _user(runtime, "rep@example.no", role="rep")
    _, key = await create_key(runtime, name="rep key", user_id=rep)
    headers = {"Authorization": f"Bearer {key}"}
    owned = await client.post(
        "/api/v1/individuals", json={"first_name": "Owned", "last_name": "One", "owner_id": rep}
    )
    await client.post("/api/v1/individuals", json={"first_name": "Not", "last_name": "Mine"})
    created = await client.post(
        "/api/v1/individuals", json={"first_name": "Made", "last_name": "ByRep"}, headers=headers
    )
    assert created.status_code == 201, created.text
    listed = await client.get("/api/v1/individuals", headers=headers)
    assert {p["first_name"] for p in listed.json()["data"]} == {"Owned", "Made"}
    r = await client.get(f"/api/v1/individuals/{owned.json()['id']}", headers=headers)
    assert r.status_code == 200
    # handing the record to someone else takes it out of the rep's scope
    boss = await _user(runtime, "boss@example.no")
    r = await client.patch(f"/api/v1/individuals/{owned.json()['id']}", json={"owner_id": boss})
    assert r.status_code == 200
    r = await client.get(f"/api/v1/individuals/{owned.json()['id']}", headers=headers)
    assert r.status_code == 404
