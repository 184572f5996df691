"""Custom-field definitions through the API, on both engines."""

from __future__ import annotations

import httpx

URL = "/api/v1/custom-fields"


def fields(r: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def test_create_read_list(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "entity": "vehicle",
            "key": "budget",
            "label": "Budget",
            "type": "number",
            "validation": {"min": 0},
            "filterable": True,
            "read_roles": ["admin"],
        },
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == f"{URL}/{made['id']}"
    assert r.headers["etag"] == '"1"'
    assert made["key"] == "budget" and made["type"] == "number" and made["version"] == 1
    assert made["validation"] == {"min": 0} and made["filterable"] is True
    assert made["read_roles"] == ["admin"] and made["write_roles"] == []
    assert made["archived_at"] is None and made["default"] is None
    got = (await client.get(f"{URL}/{made['id']}")).json()
    assert got == made
    listed = (await client.get(URL)).json()["data"]
    assert [d["key"] for d in listed] == ["budget"]
    assert (await client.get(URL, params={"entity": "individual"})).json()["data"] == []


async def test_options_default_and_label(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "entity": "vehicle",
            "key": "fuel",
            "type": "select",
            "options": ["petrol", {"value": "ev", "label": "Electric"}],
            "default": "ev",
        },
    )
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["label"] == "Fuel"
    assert d["options"] == [
        {"value": "petrol", "label": "petrol"},
        {"value": "ev", "label": "Electric"},
    ]
    assert d["default"] == "ev"


async def test_every_problem_is_reported(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "entity": "spaceship",
            "key": "Bad-Key",
            "type": "hologram",
            "required": "yes",
            "read_roles": "admin",
            "validation": {"min": "x", "colour": 1},
            "bogus": 1,
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert set(fields(r)) == {
        "entity", "key", "type", "required", "read_roles", "validation.colour",
        "validation.min", "bogus",
    }  # fmt: skip
    r = await client.post(
        URL,
        json={
            "entity": "vehicle",
            "key": "n",
            "type": "integer",
            "default": "abc",
            "validation": {"min": 5, "max": 1, "pattern": "x"},
        },
    )
    assert r.status_code == 422
    assert set(fields(r)) == {"validation.min", "validation.pattern"}
    r = await client.post(
        URL, json={"entity": "vehicle", "key": "n", "type": "integer", "default": "abc"}
    )
    assert set(fields(r)) == {"default"}
    r = await client.post(URL, json={"entity": "vehicle", "key": "s", "type": "select"})
    assert set(fields(r)) == {"options"}
    r = await client.post(
        URL, json={"entity": "vehicle", "key": "p", "type": "text", "validation": {"pattern": "("}}
    )
    assert set(fields(r)) == {"validation.pattern"}
    assert (await client.post(URL, json=[1])).status_code == 400


async def test_keys_are_never_reused(client: httpx.AsyncClient) -> None:
    body = {"entity": "vehicle", "key": "colour", "type": "text"}
    first = (await client.post(URL, json=body)).json()
    r = await client.post(URL, json=body)
    assert r.status_code == 409 and fields(r) == {"key": "already used (keys are never reused)"}
    assert (await client.delete(f"{URL}/{first['id']}")).status_code == 200
    r = await client.post(URL, json={**body, "type": "number"})
    assert r.status_code == 409  # archived keys stay taken
    other = await client.post(URL, json={**body, "entity": "individual"})
    assert other.status_code == 201  # unique per entity only


async def test_patch_archive_restore(client: httpx.AsyncClient) -> None:
    d = (await client.post(URL, json={"entity": "vehicle", "key": "km", "type": "integer"})).json()
    url = f"{URL}/{d['id']}"
    r = await client.patch(url, json={"label": "Mileage", "validation": {"max": 10}})
    assert r.status_code == 200, r.text
    assert (r.json()["label"], r.json()["version"], r.json()["validation"]) == (
        "Mileage",
        2,
        {"max": 10},
    )
    r = await client.patch(url, json={"type": "text", "key": "other", "entity": "individual"})
    assert r.status_code == 422 and set(fields(r)) == {"type", "key", "entity"}
    r = await client.patch(url, json={"label": "x"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    archived = (await client.delete(url)).json()
    assert archived["archived_at"] is not None
    assert (await client.get(URL)).json()["data"] == []
    listed = (await client.get(URL, params={"include_archived": "true"})).json()["data"]
    assert [x["key"] for x in listed] == ["km"]
    restored = (await client.post(f"{url}/restore")).json()
    assert restored["archived_at"] is None and restored["label"] == "Mileage"
    assert [x["key"] for x in (await client.get(URL)).json()["data"]] == ["km"]
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await client.get(f"{URL}/{missing}")).status_code == 404
    assert (await client.patch(f"{URL}/{missing}", json={})).status_code == 404


async def test_third_party_types_need_the_hook(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"entity": "vehicle", "key": "stars", "type": "rating"})
    assert r.status_code == 422 and "type" in fields(r)
