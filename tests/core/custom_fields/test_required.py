"""Making a field required reports the records without a value and breaks none of them."""

from __future__ import annotations

from typing import Any

import httpx
from crmkit.core import Runtime

DEFS = "/api/v1/custom-fields"
URL = "/api/v1/vehicles"


def fields(r: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def make(client: httpx.AsyncClient, label: str, custom: dict[str, Any]) -> str:
    r = await client.post(URL, json={"make": label, "custom": custom})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_required_later_reports_and_keeps_records_working(
    client: httpx.AsyncClient,
) -> None:
    d = (await client.post(DEFS, json={"entity": "vehicle", "key": "grade", "type": "text"})).json()
    r = await client.post(DEFS, json={"entity": "vehicle", "key": "lvl", "type": "integer"})
    assert r.status_code == 201 and "x-missing-count" not in r.headers
    without = [await make(client, f"w{i}", {}) for i in range(3)]
    graded = await make(client, "g", {"grade": "A"})
    assert (await client.delete(f"{URL}/{without[2]}")).status_code == 204  # not counted

    r = await client.patch(f"{DEFS}/{d['id']}", json={"required": True})
    assert r.status_code == 200, r.text
    assert r.json()["required"] is True
    assert r.headers["x-missing-count"] == "2"
    r = await client.patch(f"{DEFS}/{d['id']}", json={"label": "Grade"})
    assert r.status_code == 200 and "x-missing-count" not in r.headers  # only when it becomes so

    # records without it stay readable and updatable (other fields, other custom values)
    rid = without[0]
    assert (await client.get(f"{URL}/{rid}")).status_code == 200
    r = await client.patch(f"{URL}/{rid}", json={"model": "V70"})
    assert r.status_code == 200, r.text
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"lvl": 3}})
    assert r.status_code == 200 and r.json()["custom"] == {"lvl": 3}
    # ... but setting it to null, or removing it where it is set, is refused
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"grade": None, "lvl": 3}})
    assert r.status_code == 422 and fields(r) == {"custom.grade": "required"}
    r = await client.patch(f"{URL}/{graded}", json={"custom": {"lvl": 1}})
    assert r.status_code == 422 and fields(r) == {"custom.grade": "required"}
    r = await client.post(URL, json={"make": "new"})
    assert r.status_code == 422 and fields(r) == {"custom.grade": "required"}
    # filling it in takes the record off the list
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"grade": "B", "lvl": 3}})
    assert r.status_code == 200
    r = await client.get(f"{DEFS}/{d['id']}/missing")
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [without[1]], "total": 1, "next_cursor": None}


async def test_missing_is_keyset_paged(client: httpx.AsyncClient) -> None:
    ids = sorted([await make(client, f"m{i}", {}) for i in range(5)])
    r = await client.post(
        DEFS, json={"entity": "vehicle", "key": "vat", "type": "text", "required": True}
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-missing-count"] == "5"  # created required over existing records
    url = f"{DEFS}/{r.json()['id']}/missing"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(url, params=params)).json()
        assert page["total"] == 5 and len(page["data"]) <= 2
        seen += page["data"]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids
    assert (await client.get(url, params={"cursor": "nope"})).status_code == 400
    assert (await client.get(url, params={"limit": 0})).status_code == 400
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await client.get(f"{DEFS}/{missing}/missing")).status_code == 404


async def test_the_header_is_in_the_openapi_document(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    patch = doc["paths"]["/api/v1/custom-fields/{definition_id}"]["patch"]
    assert "X-Missing-Count" in patch["responses"]["200"]["headers"]
    assert "missing" in patch["description"]
    assert "/api/v1/custom-fields/{definition_id}/missing" in doc["paths"]
    change = doc["paths"]["/api/v1/custom-fields/{definition_id}/change-type"]["post"]
    assert "dry_run" in change["description"]
