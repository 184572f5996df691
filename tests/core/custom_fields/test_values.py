"""Values of every built-in type through the record API, validated on every write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

DEFS = "/api/v1/custom-fields"
URL = "/api/v1/vehicles"

FIELDS: list[dict[str, Any]] = [
    {"key": "note", "type": "text", "validation": {"min_length": 2, "max_length": 5}},
    {"key": "story", "type": "long_text"},
    {"key": "budget", "type": "number", "validation": {"min": 0, "max": 1000000}},
    {"key": "owners", "type": "integer"},
    {"key": "bought", "type": "date", "validation": {"min": "2000-01-01"}},
    {"key": "seen", "type": "datetime"},
    {"key": "ok", "type": "boolean"},
    {"key": "fuel", "type": "select", "options": ["petrol", "ev"]},
    {"key": "extras", "type": "multi_select", "options": ["roof", "rails", "hook"],
     "validation": {"max_selections": 2}},
    {"key": "mail", "type": "email"},
    {"key": "tel", "type": "phone"},
    {"key": "site", "type": "url"},
    {"key": "paid", "type": "currency"},
    {"key": "code", "type": "text", "validation": {"pattern": "^[A-Z]{3}$"}},
]  # fmt: skip

GOOD = {
    "note": "hey",
    "story": "x" * 5000,
    "budget": 125000.5,
    "owners": 2,
    "bought": "2021-03-04",
    "seen": "2024-01-02T03:04:05+01:00",
    "ok": True,
    "fuel": "ev",
    "extras": ["roof", "rails", "roof"],
    "mail": "a@b.no",
    "tel": "+47 22 33 44 55",
    "site": "https://example.com/x",
    "paid": {"amount": "99.50", "code": "nok"},
    "code": "ABC",
}
STORED = {
    **GOOD,
    "seen": "2024-01-02T02:04:05.000000+00:00",
    "extras": ["roof", "rails"],
    "paid": {"amount": 99.5, "code": "NOK"},
}
BAD = {
    "note": "x",
    "story": 5,
    "budget": -1,
    "owners": 2.5,
    "bought": "1999-12-31",
    "seen": "yesterday",
    "ok": "yes",
    "fuel": "diesel",
    "extras": ["roof", "rails", "hook"],
    "mail": "nope",
    "tel": "call me",
    "site": "ftp://x",
    "paid": {"amount": 1, "code": "XXX"},
    "code": "abc",
}


@pytest.fixture(autouse=True)
async def definitions(client: httpx.AsyncClient) -> None:
    for field in FIELDS:
        r = await client.post(DEFS, json={"entity": "vehicle", **field})
        assert r.status_code == 201, r.text


def errors(r: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json()["errors"]}


async def test_every_type_round_trips(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Volvo", "custom": GOOD})
    assert r.status_code == 201, r.text
    assert r.json()["custom"] == STORED
    again = (await client.get(f"{URL}/{r.json()['id']}")).json()
    assert again["custom"] == STORED


async def test_every_bad_value_is_reported_with_its_path(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Volvo", "custom": {**BAD, "nope": 1}})
    assert r.status_code == 422
    found = errors(r)
    assert set(found) == {f"custom.{k}" for k in [*BAD, "nope"]}
    assert found["custom.nope"] == "unknown custom field"
    assert all(found.values())
    assert (await client.get(URL)).json()["data"] == []


async def test_required_and_default(client: httpx.AsyncClient) -> None:
    await client.post(
        DEFS, json={"entity": "vehicle", "key": "grade", "type": "text", "required": True}
    )
    await client.post(
        DEFS, json={"entity": "vehicle", "key": "lvl", "type": "integer", "default": 3}
    )
    r = await client.post(URL, json={"make": "Saab"})
    assert r.status_code == 422 and errors(r) == {"custom.grade": "required"}
    r = await client.post(URL, json={"make": "Saab", "custom": {"grade": "A"}})
    assert r.status_code == 201 and r.json()["custom"] == {"grade": "A", "lvl": 3}
    rid = r.json()["id"]
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"lvl": 4}})
    assert r.status_code == 422 and errors(r) == {"custom.grade": "required"}


async def test_archived_values_are_kept_and_return(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Saab", "custom": {"note": "hey", "owners": 1}})
    rid = r.json()["id"]
    listed = (await client.get(DEFS, params={"entity": "vehicle"})).json()["data"]
    owners = next(d for d in listed if d["key"] == "owners")
    await client.delete(f"{DEFS}/{owners['id']}")
    # a patch that leaves it out keeps it; changing it is refused
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"note": "hoi"}})
    assert r.status_code == 200 and r.json()["custom"] == {"note": "hoi", "owners": 1}
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"owners": 5}})
    assert r.status_code == 422 and set(errors(r)) == {"custom.owners"}
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"owners": 1, "note": "ok"}})
    assert r.status_code == 200 and r.json()["custom"] == {"note": "ok", "owners": 1}
    await client.post(f"{DEFS}/{owners['id']}/restore")
    r = await client.patch(f"{URL}/{rid}", json={"custom": {"owners": 7}})
    assert r.status_code == 200 and r.json()["custom"] == {"owners": 7}


async def test_null_removes_a_value(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json={"make": "Saab", "custom": {"note": "hey"}})
    r = await client.patch(f"{URL}/{r.json()['id']}", json={"custom": {"note": None}})
    assert r.status_code == 200 and r.json()["custom"] == {}
