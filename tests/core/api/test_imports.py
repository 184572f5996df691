"""``POST /api/v1/<plural>/import`` and ``/api/v1/imports``: bodies, formats, limits,
permissions, jobs and their revert over HTTP, on both engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from crmkit.core import Runtime
from crmkit.core.apikeys import create_key
from crmkit.core.roles import FieldRuleBody, RoleCreate, create_role, put_field_rule

DATA = Path(__file__).parents[1] / "transfer" / "data"
URL = "/api/v1/individuals/import"
PROBLEM = "application/problem+json"
CSV = "first_name,last_name,email_1,job_title\nÅse,Ødegård,ase@fjord.no,Sjef\nBjørn,,b@x.no,\n"


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    named = [e["field"] for e in body.get("errors", [])]
    for field in fields:
        assert field in named, (field, body)
    return body


async def key_for(runtime: Runtime, role: str, **grants: list[str]) -> dict[str, str]:
    """Headers of a key with a built-in role, or a new custom role with ``grants``."""
    if grants:
        await create_role(runtime, RoleCreate(name=role, grants=grants))
    _, key = await create_key(runtime, name=role, role=role)
    return {"Authorization": f"Bearer {key}"}


async def names(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/api/v1/individuals", params={"limit": 100})
    assert r.status_code == 200, r.text
    return sorted(f"{p['first_name']} {p['last_name']}" for p in r.json()["data"])


async def test_a_csv_body_is_imported_as_a_job(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, content=CSV.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert r.headers["location"] == f"/api/v1/imports/{report['id']}"
    assert {k: report[k] for k in ("status", "rows", "created", "updated", "skipped")} == {
        "status": "completed",
        "rows": 2,
        "created": 1,
        "updated": 0,
        "skipped": 0,
    }
    assert report["errors"] == [{"row": 2, "field": "last_name", "message": "required"}]
    assert await names(client) == ["Åse Ødegård"]
    job = (await client.get(r.headers["location"])).json()
    assert (job["status"], job["created"], job["failed"], job["entity"]) == (
        "completed",
        1,
        1,
        "individual",
    )
    assert job["errors"] == report["errors"] and job["finished_at"] is not None


async def test_formats_come_from_the_media_type_the_name_or_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    jsonl = '{"first_name": "Zoë", "last_name": "Ærø"}\n'
    r = await client.post(URL, content=jsonl, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 201 and r.json()["format"] == "jsonl", r.text
    vcf = (DATA / "contacts_v4.vcf").read_bytes()
    r = await client.post(URL, content=vcf, headers={"Content-Type": "text/vcard"})
    assert r.status_code == 201 and (r.json()["format"], r.json()["created"]) == ("vcf", 2), r.text
    # multipart: the file part's name tells the format; mapping as a form field
    google = (DATA / "google_contacts.csv").read_bytes()
    r = await client.post(
        URL,
        files={"file": ("contacts.csv", google, "application/octet-stream")},
        data={"mapping": json.dumps({"Labels": None}), "preset": "google"},
    )
    assert r.status_code == 201, r.text
    # Zoë is in the vCards already (the same email): skipped
    assert (r.json()["format"], r.json()["created"], r.json()["skipped"]) == ("csv", 3, 1)
    assert r.json()["unknown_columns"] == []
    job = (await client.get(f"/api/v1/imports/{r.json()['id']}")).json()
    assert job["options"]["mapping"] == {"Labels": None}
    assert job["options"]["filename"] == "contacts.csv"
    r = await client.post(
        f"{URL}?format=csv",
        content="first_name,last_name\nOla,Nordmann\n",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 201, r.text
    problem(
        await client.post(URL, content=b"x", headers={"Content-Type": "application/pdf"}),
        415,
        "format",
    )
    problem(await client.post(URL, files={"mapping": (None, b"{}")}), 400, "file")


async def test_bad_requests_are_problems_and_write_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    csv = {"Content-Type": "text/csv"}
    problem(await client.post(f"{URL}?mapping=nope", content=CSV, headers=csv), 400, "mapping")
    problem(
        await client.post(f"{URL}?mapping=" + json.dumps({"a": "shoe"}), content=CSV, headers=csv),
        400,
        "mapping.a",
    )
    problem(await client.post(f"{URL}?on_duplicate=merge", content=CSV, headers=csv), 400)
    problem(await client.post(f"{URL}?preset=apple", content=CSV, headers=csv), 400, "preset")
    problem(await client.post(URL, content=b"", headers=csv), 400, "body")
    problem(await client.post(URL, content=CSV.encode("cp1252"), headers=csv), 400, "encoding")
    runtime.settings.max_upload_size = 40
    body = problem(await client.post(URL, content=CSV, headers=csv), 413, "body")
    assert "max_upload_size" in body["detail"]
    problem(await client.post(URL, files={"file": ("a.csv", CSV.encode())}), 413)

    async def chunked() -> Any:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b"first_name,last_name\n"

    r = await client.post(URL, content=chunked(), headers=csv)
    assert "content-length" not in r.request.headers
    problem(r, 413, "body")
    runtime.settings.max_upload_size = 50_000_000
    assert await names(client) == []
    assert (await client.get("/api/v1/imports")).json()["data"] == []


async def test_a_dry_run_answers_200_without_a_job(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{URL}?dry_run=true", content=CSV, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"], r.json()["created"]) == (None, "dry_run", 1)
    assert "location" not in r.headers
    assert await names(client) == []


async def test_atomic_says_it_rolled_back(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{URL}?atomic=true", content=CSV, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["created"], len(r.json()["errors"])) == (
        "rolled_back",
        0,
        1,
    )
    assert await names(client) == []


# -- permissions -------------------------------------------------------------------------------


async def test_who_may_import(client: httpx.AsyncClient, runtime: Runtime) -> None:
    csv = {"Content-Type": "text/csv"}
    viewer = await key_for(runtime, "viewer")
    agent = await key_for(runtime, "agent")  # create and update, but no import
    clerk = await key_for(runtime, "clerk", individual=["read", "create", "import"])
    manager = await key_for(runtime, "manager")
    for headers in (viewer, agent):
        body = problem(await client.post(URL, content=CSV, headers={**csv, **headers}), 403)
        assert body["required"] == "individual:import"
    body = problem(
        await client.post(f"{URL}?on_duplicate=update", content=CSV, headers={**csv, **clerk}),
        403,
    )
    assert body["required"] == "individual:update"
    r = await client.post(URL, content=CSV, headers={**csv, **clerk})
    assert r.status_code == 201, r.text
    # A column the role may not write: a 403 up front naming it, nothing written.
    await put_field_rule(runtime, "individual", "job_title", FieldRuleBody(write_roles=["manager"]))
    other = CSV.replace("Åse,Ødegård,ase@fjord.no", "Ola,Nordmann,ola@x.no")
    body = problem(
        await client.post(URL, content=other, headers={**csv, **clerk}), 403, "job_title"
    )
    assert await names(client) == ["Åse Ødegård"]
    ignored = json.dumps({"job_title": None})  # ignoring the column is allowed
    r = await client.post(f"{URL}?mapping={ignored}", content=other, headers={**csv, **clerk})
    assert r.status_code == 201 and r.json()["created"] == 1, r.text
    r = await client.post(
        URL,
        content=other.replace("Ola,Nordmann,ola@", "Kari,Holm,kari@"),
        headers={**csv, **manager},
    )
    assert r.status_code == 201 and r.json()["created"] == 1, r.text
    # Jobs: the clerk sees the imports of what it may import; a viewer none.
    listed = (await client.get("/api/v1/imports", headers=clerk)).json()["data"]
    assert len(listed) == 3
    assert (await client.get("/api/v1/imports", headers=viewer)).json()["data"] == []
    problem(await client.get(f"/api/v1/imports/{listed[0]['id']}", headers=viewer), 404)
    problem(await client.post(f"/api/v1/imports/{listed[0]['id']}/revert", headers=viewer), 404)


async def test_a_row_refused_half_way_leaves_nothing_behind(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """The ``organization`` column creates organisations; a role that may not is refused on
    that row after its person was created: the savepoint takes the person back too."""
    clerk = await key_for(
        runtime, "clerk", individual=["read", "create", "import"], organization=["read"]
    )
    r = await client.post("/api/v1/organizations", json={"name": "Fjordkraft AS"})
    assert r.status_code == 201, r.text
    data = (
        "first_name,last_name,organization\n"
        "Åse,Ødegård,Fjordkraft AS\n"
        "Bjørn,Næss,Ny Bedrift AS\n"
        "Zoë,Ærø,\n"
    )
    r = await client.post(URL, content=data, headers={"Content-Type": "text/csv", **clerk})
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["failed"]) == (2, 1)
    assert [e["row"] for e in r.json()["errors"]] == [2]
    assert await names(client) == ["Zoë Ærø", "Åse Ødegård"]
    orgs = (await client.get("/api/v1/organizations")).json()["data"]
    assert [o["name"] for o in orgs] == ["Fjordkraft AS"]
    ase = next(
        p
        for p in (await client.get("/api/v1/individuals")).json()["data"]
        if p["first_name"] == "Åse"
    )
    assert [o["name"] for o in ase["organizations"]] == ["Fjordkraft AS"]


# -- jobs and revert -------------------------------------------------------------------------


async def test_jobs_list_filter_page_and_revert(client: httpx.AsyncClient) -> None:
    csv = {"Content-Type": "text/csv"}
    ids = []
    for name in ("Åse", "Bjørn", "Zoë"):
        r = await client.post(URL, content=f"first_name,last_name\n{name},Test\n", headers=csv)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    page = (await client.get("/api/v1/imports", params={"limit": 2})).json()
    assert [j["id"] for j in page["data"]] == [ids[2], ids[1]]
    assert all(j["errors"] == [] for j in page["data"])
    rest = (
        await client.get("/api/v1/imports", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and rest["next_cursor"] is None
    r = await client.get("/api/v1/imports", params={"entity": "individuals", "status": "completed"})
    assert len(r.json()["data"]) == 3
    problem(await client.get("/api/v1/imports", params={"entity": "ships"}), 400, "entity")
    problem(await client.get("/api/v1/imports", params={"status": "asleep"}), 400, "status")
    problem(await client.get("/api/v1/imports", params={"cursor": "nonsense"}), 400, "cursor")
    problem(await client.get("/api/v1/imports/00000000-0000-0000-0000-000000000000"), 404)

    r = await client.post(f"/api/v1/imports/{ids[1]}/revert")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["deleted"]) == ("reverted", 1)
    assert await names(client) == ["Zoë Test", "Åse Test"]
    problem(await client.post(f"/api/v1/imports/{ids[1]}/revert"), 409)
    reverted = (await client.get("/api/v1/imports", params={"status": "reverted"})).json()["data"]
    assert [j["id"] for j in reverted] == [ids[1]] and reverted[0]["reverted_at"]

    zoe = next(
        p
        for p in (await client.get("/api/v1/individuals")).json()["data"]
        if p["first_name"] == "Zoë"
    )
    r = await client.patch(f"/api/v1/individuals/{zoe['id']}", json={"job_title": "Sjef"})
    assert r.status_code == 200, r.text
    body = problem(await client.post(f"/api/v1/imports/{ids[2]}/revert"), 409)
    assert [c["id"] for c in body["changed"]] == [zoe["id"]] and body["changed_count"] == 1
    r = await client.post(f"/api/v1/imports/{ids[2]}/revert", params={"force": "true"})
    assert r.status_code == 200 and r.json()["deleted"] == 1, r.text
    assert await names(client) == ["Åse Test"]


async def test_the_import_is_documented(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    operation = doc["paths"]["/api/v1/individuals/import"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "text/csv",
        "application/x-ndjson",
        "text/vcard",
        "multipart/form-data",
    }
    assert {"200", "201", "403", "413", "415"} <= set(operation["responses"])
    assert "/api/v1/imports/{import_id}/revert" in doc["paths"]
