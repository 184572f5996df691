"""``/api/v1/users``, ``/roles``, ``/field-permissions`` and ``/api-keys`` over real HTTP, on
both engines: a user's key acts as the user, keys that must stop working answer 401, and
``last_used_at`` is recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key, flush_usage, get_key

PROBLEM = "application/problem+json"


@pytest.fixture
def enabled() -> list[str]:
    return ["individuals", "activity"]


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status`` naming exactly ``fields`` (when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"]
    if fields:
        assert [e["field"] for e in body.get("errors", [])] == list(fields), body
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def add_user(
    client: httpx.AsyncClient, email: str, role: str = "agent", name: str = "Kari"
) -> dict[str, Any]:
    r = await client.post("/api/v1/users", json={"name": name, "email": email, "role": role})
    assert r.status_code == 201, r.text
    return r.json()


async def key_of(client: httpx.AsyncClient, user: dict[str, Any], **body: Any) -> str:
    r = await client.post("/api/v1/api-keys", json={"user_id": user["id"], **body})
    assert r.status_code == 201, r.text
    return r.json()["key"]


# -- users ---------------------------------------------------------------------------------


async def test_users_crud(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/users", json={"name": "Kari Nordmann", "email": "Kari@Example.com"}
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert r.headers["location"] == f"/api/v1/users/{user['id']}"
    assert (user["email"], user["role"], user["active"], user["deleted_at"]) == (
        "kari@example.com",
        "viewer",
        True,
        None,
    )
    assert (await client.get(r.headers["location"])).json() == user

    r = await client.patch(f"/api/v1/users/{user['id']}", json={"role": "manager"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "manager"
    await add_user(client, "ola@acme.no", name="Ola")
    r = await client.get("/api/v1/users", params={"q": "acme"})
    assert [u["email"] for u in r.json()["data"]] == ["ola@acme.no"]
    r = await client.get("/api/v1/users", params={"role": "manager", "active": "true"})
    assert [u["email"] for u in r.json()["data"]] == ["kari@example.com"]

    r = await client.delete(f"/api/v1/users/{user['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["deleted_at"]
    listed = (await client.get("/api/v1/users")).json()
    assert [u["email"] for u in listed["data"]] == ["ola@acme.no"]
    assert listed["next_cursor"] is None
    listed = (await client.get("/api/v1/users", params={"include_deleted": "true"})).json()
    assert len(listed["data"]) == 2
    r = await client.post(f"/api/v1/users/{user['id']}/restore")
    assert r.status_code == 200 and r.json()["active"] is True and not r.json()["deleted_at"]

    problem(await client.get("/api/v1/users/00000000-0000-0000-0000-000000000000"), 404)
    problem(await client.get("/api/v1/users", params={"cursor": "%%%"}), 400, "cursor")


async def test_user_bodies_are_checked(client: httpx.AsyncClient) -> None:
    await add_user(client, "kari@example.com")
    body = problem(
        await client.post("/api/v1/users", json={"name": "K", "email": "KARI@example.com"}),
        409,
        "email",
    )
    assert "kari@example.com" in body["detail"]
    problem(
        await client.post("/api/v1/users", json={"name": " ", "email": "x", "role": "boss"}),
        422,
        "name",
        "email",
        "role",
    )
    problem(
        await client.post("/api/v1/users", json={"email": "a@example.com", "admin": True}),
        422,
        "admin",
        "name",
    )
    problem(await client.post("/api/v1/users", content=b"{", headers={}), 400)
    listed = (await client.get("/api/v1/users")).json()["data"]
    assert [u["email"] for u in listed] == ["kari@example.com"]  # nothing else was written


# -- a user's key is the user --------------------------------------------------------------


async def test_a_users_key_is_the_actor_of_events_and_activity(
    client: httpx.AsyncClient,
) -> None:
    user = await add_user(client, "kari@example.com", role="agent", name="Kari Nordmann")
    key = await key_of(client, user)
    headers = {**bearer(key), "X-Skip-Duplicate-Check": "true"}
    r = await client.post(
        "/api/v1/individuals", json={"first_name": "Ola", "last_name": "Hansen"}, headers=headers
    )
    assert r.status_code == 201, r.text
    person = r.json()
    assert person["created_by"] == person["updated_by"] == f"user:{user['id']}"

    r = await client.get(f"/api/v1/individuals/{person['id']}/activity")
    assert r.status_code == 200, r.text
    (entry,) = r.json()["data"]
    assert entry["actor"] == {
        "id": user["id"],
        "name": "Kari Nordmann",
        "kind": "user",
        "label": f"user:{user['id']}",
    }
    # A new name shows on the next change: the key reads its user at every request.
    await client.patch(f"/api/v1/users/{user['id']}", json={"name": "Kari N"})
    r = await client.patch(
        f"/api/v1/individuals/{person['id']}", json={"job_title": "CEO"}, headers=headers
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/individuals/{person['id']}/activity")
    assert r.json()["data"][0]["actor"]["name"] == "Kari N"


async def test_me(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await add_user(client, "kari@example.com", role="agent")
    r = await client.get("/api/v1/users/me", headers=bearer(await key_of(client, user)))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["actor"] == {"id": user["id"], "name": "Kari", "role": "agent", "kind": "user"}
    assert me["user"]["email"] == "kari@example.com"
    assert me["role"]["name"] == "agent" and me["role"]["builtin"] is True
    assert me["grants"]["individual"] == ["read", "create", "update", "delete"]
    assert me["abilities"] == []

    me = (await client.get("/api/v1/users/me")).json()  # the fixture's admin service key
    assert me["actor"]["kind"] == "api_key" and me["user"] is None
    assert me["abilities"] == ["manage_fields", "manage_users", "hard_delete"]
    assert me["grants"]["individual"] == [
        "read", "create", "update", "delete", "bulk", "import", "export"
    ]  # fmt: skip


# -- keys that stop working ----------------------------------------------------------------


async def test_keys_stop_working(client: httpx.AsyncClient, runtime: Runtime) -> None:
    kari = await add_user(client, "kari@example.com")
    key = await key_of(client, kari)
    assert (await client.get("/api/v1/users/me", headers=bearer(key))).status_code == 200

    await client.patch(f"/api/v1/users/{kari['id']}", json={"active": False})
    body = problem(await client.get("/api/v1/users/me", headers=bearer(key)), 401)
    assert "not active" in body["detail"]
    await client.patch(f"/api/v1/users/{kari['id']}", json={"active": True})
    assert (await client.get("/api/v1/users/me", headers=bearer(key))).status_code == 200
    await client.delete(f"/api/v1/users/{kari['id']}")
    problem(await client.get("/api/v1/users/me", headers=bearer(key)), 401)
    await client.post(f"/api/v1/users/{kari['id']}/restore")
    assert (await client.get("/api/v1/users/me", headers=bearer(key))).status_code == 200

    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    _, expired = await create_key(runtime, name="old", role="admin", expires_at=past)
    assert (
        "expired"
        in problem(await client.get("/api/v1/users/me", headers=bearer(expired)), 401)["detail"]
    )

    r = await client.post("/api/v1/api-keys", json={"name": "svc", "role": "viewer"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["key"].startswith(f"crm_{created['prefix']}_")
    assert created["user_id"] is None and created["role"] == "viewer"
    assert r.headers["location"] == f"/api/v1/api-keys/{created['id']}"
    assert "key" not in (await client.get(r.headers["location"])).json()
    r = await client.delete(f"/api/v1/api-keys/{created['id']}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    body = problem(await client.get("/api/v1/users/me", headers=bearer(created["key"])), 401)
    assert "revoked" in body["detail"]
    problem(await client.delete("/api/v1/api-keys/00000000-0000-0000-0000-000000000000"), 404)


async def test_last_used_at_is_recorded_at_most_once_a_minute(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    info, key = await create_key(runtime, name="fresh", role="viewer")
    assert info.last_used_at is None
    before = dt.datetime.now(dt.UTC)
    assert (await client.get("/api/v1/users/me", headers=bearer(key))).status_code == 200
    await flush_usage(runtime)
    first = (await get_key(runtime, str(info.id))).last_used_at
    assert first is not None and before <= first <= dt.datetime.now(dt.UTC)
    assert (await client.get("/api/v1/users/me", headers=bearer(key))).status_code == 200
    await flush_usage(runtime)
    assert (await get_key(runtime, str(info.id))).last_used_at == first  # not a write per request
    listed = (await client.get("/api/v1/api-keys")).json()["data"]
    assert next(k for k in listed if k["id"] == str(info.id))["last_used_at"] is not None


# -- own keys, and handing out no more than one has -------------------------------------


async def test_everyone_manages_their_own_keys(client: httpx.AsyncClient) -> None:
    kari = await add_user(client, "kari@example.com", role="agent")
    key = await key_of(client, kari)
    as_kari = bearer(key)

    r = await client.post("/api/v1/api-keys", json={"name": "laptop"}, headers=as_kari)
    assert r.status_code == 201, r.text
    laptop = r.json()
    assert (laptop["user_id"], laptop["role"], laptop["name"]) == (kari["id"], "agent", "laptop")
    mine = (await client.get("/api/v1/api-keys", headers=as_kari)).json()["data"]
    assert {k["name"] for k in mine} == {"kari@example.com", "laptop"}
    everyone = (await client.get("/api/v1/api-keys")).json()["data"]
    assert {k["name"] for k in everyone} == {"tests", "kari@example.com", "laptop"}
    only = (await client.get("/api/v1/api-keys", params={"user_id": kari["id"]})).json()["data"]
    assert {k["name"] for k in only} == {"kari@example.com", "laptop"}

    admin_key = next(k for k in everyone if k["name"] == "tests")
    problem(await client.delete(f"/api/v1/api-keys/{admin_key['id']}", headers=as_kari), 403)
    problem(
        await client.post("/api/v1/api-keys", json={"name": "x", "role": "agent"}, headers=as_kari),
        403,
    )
    r = await client.delete(f"/api/v1/api-keys/{laptop['id']}", headers=as_kari)
    assert r.status_code == 200 and r.json()["revoked_at"]
    problem(await client.get("/api/v1/users/me", headers=bearer(laptop["key"])), 401)


async def test_key_bodies_are_checked(client: httpx.AsyncClient) -> None:
    kari = await add_user(client, "kari@example.com")
    problem(await client.post("/api/v1/api-keys", json={"name": "x"}), 422, "role")
    problem(
        await client.post("/api/v1/api-keys", json={"user_id": kari["id"], "role": "admin"}),
        422,
        "role",
    )
    problem(await client.post("/api/v1/api-keys", json={"name": "x", "role": "boss"}), 422, "role")
    problem(
        await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"},
        ),
        422,
        "expires_at",
    )
    problem(await client.post("/api/v1/api-keys", json={"name": "x", "scopes": []}), 422, "scopes")
    assert len((await client.get("/api/v1/api-keys")).json()["data"]) == 1  # the fixture's


async def test_manage_users_alone_does_not_make_an_admin(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/roles",
        json={"name": "hr", "grants": {"*": ["read"]}, "abilities": ["manage_users"]},
    )
    assert r.status_code == 201, r.text
    hr = await add_user(client, "hr@example.com", role="hr")
    root = await add_user(client, "root@example.com", role="admin")
    as_hr = bearer(await key_of(client, hr))

    r = await client.post(
        "/api/v1/users", json={"name": "V", "email": "v@example.com"}, headers=as_hr
    )
    assert r.status_code == 201, r.text
    problem(
        await client.post(
            "/api/v1/users",
            json={"name": "A", "email": "a@example.com", "role": "admin"},
            headers=as_hr,
        ),
        403,
        "role",
    )
    problem(
        await client.patch(f"/api/v1/users/{hr['id']}", json={"role": "admin"}, headers=as_hr),
        403,
        "role",
    )
    problem(await client.delete(f"/api/v1/users/{root['id']}", headers=as_hr), 403, "role")
    problem(
        await client.post(
            "/api/v1/roles", json={"name": "x", "abilities": ["hard_delete"]}, headers=as_hr
        ),
        403,
        "abilities",
    )
    problem(
        await client.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=as_hr),
        403,
        "role",
    )
    assert (await client.get(f"/api/v1/users/{root['id']}")).json()["role"] == "admin"


async def test_the_last_admin_stays(client: httpx.AsyncClient) -> None:
    root = await add_user(client, "root@example.com", role="admin")
    tests_key = (await client.get("/api/v1/api-keys")).json()["data"][0]
    # The fixture's admin service key counts as an admin ...
    assert (
        await client.patch(f"/api/v1/users/{root['id']}", json={"role": "agent"})
    ).status_code == 200
    assert (
        await client.patch(f"/api/v1/users/{root['id']}", json={"role": "admin"})
    ).status_code == 200
    root_key = await key_of(client, root)
    # ... until it is revoked (revoking is never refused); then root is the last admin.
    assert (await client.delete(f"/api/v1/api-keys/{tests_key['id']}")).status_code == 200
    as_root = bearer(root_key)
    body = problem(
        await client.patch(f"/api/v1/users/{root['id']}", json={"role": "agent"}, headers=as_root),
        409,
        "role",
    )
    assert "last admin" in body["detail"]
    problem(await client.delete(f"/api/v1/users/{root['id']}", headers=as_root), 409)


# -- roles and field permissions -------------------------------------------------------------


async def test_roles(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/roles",
        json={"name": "sales", "grants": {"individual": ["read", "update"]}, "scope": "own"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/roles/sales"
    assert r.json() == {
        "name": "sales",
        "label": "Sales",
        "description": "",
        "grants": {"individual": ["read", "update"]},
        "abilities": [],
        "scope": "own",
        "builtin": False,
    }
    listed = (await client.get("/api/v1/roles")).json()["data"]
    assert [(x["name"], x["builtin"]) for x in listed] == [
        ("admin", True), ("manager", True), ("agent", True), ("viewer", True), ("sales", False)
    ]  # fmt: skip
    problem(await client.post("/api/v1/roles", json={"name": "sales"}), 409, "name")
    problem(
        await client.post(
            "/api/v1/roles",
            json={"name": "x", "grants": {"ticket": ["read"], "*": ["fly"]}, "abilities": ["god"]},
        ),
        422,
        "grants.ticket",
        "grants.*[0]",
        "abilities[0]",
    )
    problem(await client.post("/api/v1/roles", json={"name": "Bad Name"}), 422, "name")
    problem(await client.post("/api/v1/roles", json={"name": "x", "scope": "some"}), 422, "scope")
    problem(await client.patch("/api/v1/roles/admin", json={"label": "Boss"}), 409, "name")
    problem(await client.delete("/api/v1/roles/viewer"), 409, "name")

    r = await client.patch("/api/v1/roles/sales", json={"abilities": ["manage_fields"]})
    assert r.status_code == 200 and r.json()["abilities"] == ["manage_fields"]
    assert r.json()["grants"] == {"individual": ["read", "update"]}
    problem(await client.patch("/api/v1/roles/sales", json={"name": "other"}), 422, "name")

    user = await add_user(client, "kari@example.com", role="sales")
    body = problem(await client.delete("/api/v1/roles/sales"), 409, "name")
    assert (body["users"], body["api_keys"]) == (1, 0)
    assert "1 user" in body["detail"]
    await client.patch(f"/api/v1/users/{user['id']}", json={"role": "viewer"})
    r = await client.delete("/api/v1/roles/sales")
    assert r.status_code == 204, r.text
    problem(await client.get("/api/v1/roles/sales"), 404)


async def test_field_permissions(client: httpx.AsyncClient) -> None:
    url = "/api/v1/field-permissions"
    r = await client.put(f"{url}/individual/birthday", json={"read_roles": ["manager"]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "entity": "individual",
        "field": "birthday",
        "read_roles": ["manager"],
        "write_roles": [],
    }
    await client.put(f"{url}/individual/job_title", json={"write_roles": ["manager", "agent"]})
    everything = (await client.get(url)).json()["data"]
    assert [(x["entity"], x["field"]) for x in everything] == [
        ("individual", "birthday"),
        ("individual", "job_title"),
    ]
    assert (await client.get(f"{url}/individual")).json()["data"] == everything
    problem(await client.get(f"{url}/spaceship"), 404)

    problem(
        await client.put(f"{url}/individual/birthday", json={"read_roles": ["ghost"]}),
        422,
        "read_roles[0]",
    )
    problem(
        await client.put(f"{url}/individual/shoe_size", json={"read_roles": ["agent"]}),
        422,
        "field",
    )
    problem(await client.put(f"{url}/individual/birthday", json={"roles": []}), 422, "roles")
    problem(await client.put(f"{url}/spaceship/x", json={}), 404)

    r = await client.put(f"{url}/individual/birthday", json={"read_roles": [], "write_roles": []})
    assert r.status_code == 200, r.text
    assert [x["field"] for x in (await client.get(url)).json()["data"]] == ["job_title"]


async def test_the_openapi_document_describes_the_bodies(anon: httpx.AsyncClient) -> None:
    doc = (await anon.get("/schema/openapi.json")).json()
    paths = doc["paths"]
    for path in (
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/users/{user_id}",
        "/api/v1/roles/{name}",
        "/api/v1/field-permissions/{entity}/{field}",
        "/api/v1/api-keys/{key_id}",
    ):
        assert path in paths, path
    create = paths["/api/v1/users"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "email"}
    assert {"403", "409", "422"} <= set(create["responses"])
