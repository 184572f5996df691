"""``/api/v1/meta/entities``: built-in and custom fields for headless UIs."""

from __future__ import annotations

import httpx


async def test_entity_meta_lists_builtin_and_custom_fields(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/custom-fields",
        json={
            "entity": "vehicle",
            "key": "fuel",
            "label": "Fuel",
            "type": "select",
            "options": ["ev", "petrol"],
            "required": True,
        },
    )
    assert r.status_code == 201, r.text
    r = await client.get("/api/v1/meta/entities/vehicle")
    assert r.status_code == 200, r.text
    fields = {f["key"]: f for f in r.json()["fields"]}
    assert fields["make"]["source"] == "builtin" and fields["make"]["required"] is True
    assert fields["id"]["read_only"] is True
    assert fields["year"]["type"] == "number"
    fuel = fields["custom.fuel"]
    assert (fuel["type"], fuel["label"], fuel["required"]) == ("select", "Fuel", True)
    assert [o["value"] for o in fuel["options"]] == ["ev", "petrol"]
    assert fuel["schema"] == {"type": "string", "enum": ["ev", "petrol"]}
    listing = (await client.get("/api/v1/meta/entities")).json()["data"]
    assert "vehicle" in [e["name"] for e in listing]
    assert (await client.get("/api/v1/meta/entities/spaceship")).status_code == 404
