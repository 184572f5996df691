"""A name of blanks only is no name: 422, never a NOT NULL error (a 500)."""

from __future__ import annotations

import httpx


async def test_blank_names_are_422_not_a_500(client: httpx.AsyncClient) -> None:
    for body in [
        {"first_name": "Kari", "last_name": "\r"},
        {"first_name": "  ", "last_name": "Nordmann"},
    ]:
        r = await client.post("/api/v1/individuals", json=body)
        assert r.status_code == 422, r.text
        assert {e["field"] for e in r.json()["errors"]} == {
            k for k, v in body.items() if not v.strip()
        }
    r = await client.post("/api/v1/individuals", json={"first_name": "Kari", "last_name": "N"})
    r = await client.patch(f"/api/v1/individuals/{r.json()['id']}", json={"last_name": "\r"})
    assert r.status_code == 422, r.text
