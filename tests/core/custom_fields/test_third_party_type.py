"""A field type from a third-party plugin works like a built-in one, on individuals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import example_plugin

from . import rating_plugin

PEOPLE = "/api/v1/individuals"


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {"example": example_plugin, "rating": rating_plugin}


async def test_rating_on_individuals(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/custom-fields",
        json={"entity": "individual", "key": "stars", "type": "rating", "filterable": True},
    )
    assert r.status_code == 201, r.text
    made = []
    for name, stars in [("Ann", 5), ("Bo", 2), ("Cy", 4)]:
        r = await client.post(
            PEOPLE, json={"first_name": name, "last_name": "X", "custom": {"stars": stars}}
        )
        assert r.status_code == 201, r.text
        assert r.json()["custom"] == {"stars": stars}
        made.append(r.json()["id"])
    r = await client.post(
        PEOPLE, json={"first_name": "Di", "last_name": "X", "custom": {"stars": 6}}
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["custom.stars"]
    r = await client.get(PEOPLE, params={"custom.stars__gte": "4", "sort": "-custom.stars"})
    assert [p["first_name"] for p in r.json()["data"]] == ["Ann", "Cy"]
    r = await client.get(PEOPLE, params={"custom.stars__in": "4,5"})
    assert r.status_code == 400  # not one of the type's operators
    meta = (await client.get("/api/v1/meta/entities/individual")).json()
    stars = next(f for f in meta["fields"] if f["key"] == "custom.stars")
    assert stars["schema"] == {"type": "integer", "minimum": 1, "maximum": 5}
