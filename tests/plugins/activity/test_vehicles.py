"""Every entity of every plugin gets the log, the timeline and the tabs: the example's vehicles."""

from __future__ import annotations

import httpx

from .conftest import Make, timeline


async def test_vehicles(client: httpx.AsyncClient, add_entry: Make) -> None:
    r = await client.post("/api/v1/vehicles", json={"make": "Volvo"})
    assert r.status_code == 201, r.text
    vehicle = r.json()
    r = await client.patch(f"/api/v1/vehicles/{vehicle['id']}", json={"model": "V70"})
    assert r.status_code == 200, r.text
    await add_entry("note", [("vehicle", vehicle["id"])], body="needs new tyres")
    entries = await timeline(client, "vehicles", vehicle["id"])
    assert [e["summary"] for e in entries] == [None, "model: ∅ → V70", "created"]
    assert entries[0]["body"] == "needs new tyres"
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}/tabs")
    counts = {t["key"]: t["count"] for t in r.json()}
    assert counts["notes"] == 1
    assert counts["activity"] == 3
