"""Duplicate detection, merge and undo of individuals through HTTP, on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.db.sql import sql

from .helpers import (
    SKIP,
    URL,
    create,
    error_fields,
    get,
    listed_ids,
    patch,
    problem,
    read,
    writable,
)

MERGE = f"{URL}/merge"


def reasons_of(body: dict[str, Any], record_id: str) -> list[str]:
    entry = next(d for d in body["duplicates"] if d["id"] == record_id)
    return entry["reasons"]


async def duplicates_of(
    client: httpx.AsyncClient, record_id: str, **params: Any
) -> list[dict[str, Any]]:
    r = await client.get(f"{URL}/{record_id}/duplicates", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def pairs(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{URL}/duplicates", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# -- blocking duplicates on create ------------------------------------------------------


@pytest.fixture
async def kari(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create(
        client,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@example.no"}],
        phones=[{"number": "912 34 567"}],
    )


async def test_the_same_email_is_a_409_naming_the_candidate(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    r = await client.post(
        URL,
        json={
            "first_name": "Karianne",
            "last_name": "Olsen",
            "emails": [{"address": " KARI@Example.no "}],
        },
    )
    body = problem(r, 409)
    assert "X-Skip-Duplicate-Check" in body["detail"]
    assert len(body["duplicates"]) == 1
    dup = body["duplicates"][0]
    assert dup["id"] == kari["id"]
    assert dup["score"] == pytest.approx(0.95)
    assert dup["reasons"] == ["same email kari@example.no"]
    assert (dup["first_name"], dup["last_name"]) == ("Kari", "Nordmann")
    assert await listed_ids(client) == [kari["id"]]  # nothing written


async def test_the_same_phone_is_a_409(client: httpx.AsyncClient, kari: dict[str, Any]) -> None:
    r = await client.post(
        URL,
        json={
            "first_name": "Per",
            "last_name": "Hansen",
            "phones": [{"number": "+47 91 23 45 67"}],
        },
    )
    body = problem(r, 409)
    assert [d["id"] for d in body["duplicates"]] == [kari["id"]]
    assert body["duplicates"][0]["score"] == pytest.approx(0.9)
    assert reasons_of(body, kari["id"]) == ["same phone +4791234567"]


async def test_several_reasons_add_up(client: httpx.AsyncClient, kari: dict[str, Any]) -> None:
    r = await client.post(
        URL,
        json={
            "first_name": "KARI",
            "last_name": "nordmann",
            "emails": [{"address": "kari@example.no"}],
            "phones": [{"number": "91234567"}],
        },
    )
    body = problem(r, 409)
    dup = body["duplicates"][0]
    assert dup["score"] == pytest.approx(1.0)  # capped
    assert dup["reasons"] == [
        "same email kari@example.no",
        "same phone +4791234567",
        "same name and same email domain",
        "same name",
    ]


async def test_a_similar_name_at_the_same_company_domain_is_a_409(
    client: httpx.AsyncClient,
) -> None:
    jonathan = await create(
        client,
        first_name="Jonathan",
        last_name="Smith",
        emails=[{"address": "jonathan@acme-industries.com"}],
    )
    r = await client.post(
        URL,
        json={
            "first_name": "Jonathon",
            "last_name": "Smith",
            "emails": [{"address": "j.smith@acme-industries.com"}],
        },
    )
    body = problem(r, 409)
    assert [d["id"] for d in body["duplicates"]] == [jonathan["id"]]
    assert body["duplicates"][0]["score"] == pytest.approx(0.8)
    [reason] = reasons_of(body, jonathan["id"])
    assert reason.startswith("similar name (") and "same email domain" in reason


async def test_the_same_name_at_the_same_company_domain_is_a_409(client: httpx.AsyncClient) -> None:
    kari = await create(
        client,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@acme-industries.com"}],
    )
    r = await client.post(
        URL,
        json={
            "first_name": "KARI",
            "last_name": "NORDMANN",
            "emails": [{"address": "k.nordmann@acme-industries.com"}],
        },
    )
    body = problem(r, 409)
    assert [d["id"] for d in body["duplicates"]] == [kari["id"]]
    assert body["duplicates"][0]["score"] >= 0.8
    reasons = reasons_of(body, kari["id"])
    assert any("same email domain" in reason for reason in reasons), reasons
    assert "same name" in reasons
    # and the pair is listed as a strong one
    other = await create(
        client,
        skip=True,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "k.nordmann@acme-industries.com"}],
    )
    [pair] = await pairs(client)
    assert {pair["a"], pair["b"]} == {kari["id"], other["id"]}
    assert pair["score"] >= 0.8
    assert any("same email domain" in reason for reason in pair["reasons"]), pair


async def test_a_similar_name_at_a_free_mail_domain_does_not_block(
    client: httpx.AsyncClient,
) -> None:
    await create(
        client, first_name="Jonathan", last_name="Smith", emails=[{"address": "jonathan@gmail.com"}]
    )
    body = await create(
        client, first_name="Jonathon", last_name="Smith", emails=[{"address": "jsmith@gmail.com"}]
    )
    assert await duplicates_of(client, body["id"]) == []


async def test_a_different_name_at_the_same_company_does_not_block(
    client: httpx.AsyncClient,
) -> None:
    await create(
        client,
        first_name="Jonathan",
        last_name="Smith",
        emails=[{"address": "jonathan@acme-industries.com"}],
    )
    await create(
        client,
        first_name="Maria",
        last_name="Garcia",
        emails=[{"address": "maria@acme-industries.com"}],
    )


async def test_the_same_name_alone_does_not_block_but_is_listed(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    other = await create(
        client,
        first_name="kari",
        last_name="NORDMANN",
        emails=[{"address": "kari.nordmann@firma.no"}],
        phones=[{"number": "22334455"}],
    )
    assert other["id"] != kari["id"]
    found = await duplicates_of(client, other["id"])
    assert found == [
        {
            "id": kari["id"],
            "score": 0.5,
            "reasons": ["same name"],
            "first_name": "Kari",
            "last_name": "Nordmann",
        }
    ]
    # and the other way round
    assert [(d["id"], d["score"]) for d in await duplicates_of(client, kari["id"])] == [
        (other["id"], 0.5)
    ]


async def test_the_same_name_with_other_accents_is_the_same_name(client: httpx.AsyncClient) -> None:
    first = await create(client, first_name="Åse", last_name="Ødegård")
    second = await create(client, first_name="Ase", last_name="Odegard")
    assert [d["id"] for d in await duplicates_of(client, second["id"])] == [first["id"]]


@pytest.mark.parametrize("how", ["header", "query", "query-1"])
async def test_the_check_can_be_skipped(
    client: httpx.AsyncClient, kari: dict[str, Any], how: str
) -> None:
    body = {
        "first_name": "Kari",
        "last_name": "Nordmann",
        "emails": [{"address": "kari@example.no"}],
    }
    if how == "header":
        r = await client.post(URL, json=body, headers=SKIP)
    elif how == "query":
        r = await client.post(URL, json=body, params={"allow_duplicates": "true"})
    else:
        r = await client.post(URL, json=body, params={"allow_duplicates": "1"})
    assert r.status_code == 201, r.text
    assert sorted(await listed_ids(client, email="kari@example.no")) == sorted(
        [kari["id"], r.json()["id"]]
    )


async def test_a_false_skip_header_still_checks(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    r = await client.post(
        URL,
        json={"first_name": "A", "last_name": "B", "emails": [{"address": "kari@example.no"}]},
        headers={"X-Skip-Duplicate-Check": "false"},
    )
    problem(r, 409)


async def test_deleted_people_are_not_duplicates(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    assert (await client.delete(f"{URL}/{kari['id']}")).status_code == 204
    await create(
        client, first_name="Karianne", last_name="Olsen", emails=[{"address": "kari@example.no"}]
    )


async def test_an_update_that_introduces_a_duplicate_email_is_409_and_changes_nothing(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    ola = await create(
        client, first_name="Ola", last_name="Hansen", emails=[{"address": "ola@example.no"}]
    )
    r = await patch(
        client,
        ola["id"],
        job_title="CTO",
        emails=[{"address": "ola@example.no"}, {"address": "Kari@Example.no"}],
    )
    body = problem(r, 409)
    assert [d["id"] for d in body["duplicates"]] == [kari["id"]]
    assert await read(client, ola["id"]) == ola
    assert await listed_ids(client, email="kari@example.no") == [kari["id"]]
    # with the skip header it goes through
    r = await client.patch(
        f"{URL}/{ola['id']}", json={"emails": [{"address": "kari@example.no"}]}, headers=SKIP
    )
    assert r.status_code == 200, r.text


async def test_an_update_that_introduces_a_duplicate_phone_is_409(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    ola = await create(client, first_name="Ola", last_name="Hansen")
    problem(await patch(client, ola["id"], phones=[{"number": "91234567"}]), 409)
    assert (await read(client, ola["id"]))["phones"] == []


async def test_an_update_of_other_fields_of_a_known_duplicate_is_allowed(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    twin = await create(
        client,
        skip=True,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@example.no"}],
    )
    r = await patch(client, twin["id"], job_title="CFO", tags=["twin"])
    assert r.status_code == 200, r.text
    # its own record is never its duplicate
    assert [d["id"] for d in await duplicates_of(client, kari["id"])] == [twin["id"]]
    r = await patch(
        client, kari["id"], emails=[{"address": "kari@example.no"}, {"address": "k2@example.no"}]
    )
    problem(r, 409)


async def test_duplicates_of_an_unknown_individual_is_404(client: httpx.AsyncClient) -> None:
    problem(await client.get(f"{URL}/{uuid.uuid4()}/duplicates"), 404)


async def test_candidates_are_scored_best_first_and_limited(client: httpx.AsyncClient) -> None:
    base = await create(
        client,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@example.no"}],
        phones=[{"number": "91234567"}],
    )
    by_email = await create(
        client,
        skip=True,
        first_name="Anne",
        last_name="Berg",
        emails=[{"address": "kari@example.no"}],
    )
    by_phone = await create(
        client, skip=True, first_name="Per", last_name="Lie", phones=[{"number": "91234567"}]
    )
    by_name = await create(client, first_name="Kari", last_name="Nordmann")
    found = await duplicates_of(client, base["id"])
    assert [(d["id"], d["score"]) for d in found] == [
        (by_email["id"], 0.95),
        (by_phone["id"], 0.9),
        (by_name["id"], 0.5),
    ]
    assert all(d["reasons"] for d in found)
    assert [d["id"] for d in await duplicates_of(client, base["id"], limit=2)] == [
        by_email["id"],
        by_phone["id"],
    ]
    problem(await client.get(f"{URL}/{base['id']}/duplicates", params={"limit": 0}), 400)


async def test_pairs_across_all_individuals(client: httpx.AsyncClient) -> None:
    a1 = await create(
        client, first_name="Kari", last_name="Nordmann", emails=[{"address": "kari@one.no"}]
    )
    a2 = await create(
        client,
        skip=True,
        first_name="Karianne",
        last_name="Olsen",
        emails=[{"address": "kari@one.no"}],
    )
    b1 = await create(client, first_name="Per", last_name="Hansen", phones=[{"number": "22334455"}])
    b2 = await create(
        client, skip=True, first_name="Pål", last_name="Berg", phones=[{"number": "+4722334455"}]
    )
    c1 = await create(
        client, first_name="Ola", last_name="Nilsen", emails=[{"address": "ola@two.no"}]
    )
    c2 = await create(
        client, first_name="OLA", last_name="NILSEN", emails=[{"address": "ola@three.no"}]
    )
    d1 = await create(
        client,
        first_name="Jonathan",
        last_name="Smith",
        emails=[{"address": "jonathan@acme-industries.com"}],
    )
    d2 = await create(
        client,
        skip=True,
        first_name="Jonathon",
        last_name="Smith",
        emails=[{"address": "jsmith@acme-industries.com"}],
    )
    # not pairs: similar names at a free mail domain, different names at one company
    await create(
        client, first_name="Maria", last_name="Garcia", emails=[{"address": "maria@gmail.com"}]
    )
    await create(
        client, first_name="Mario", last_name="Garcia", emails=[{"address": "mario@gmail.com"}]
    )
    await create(
        client,
        first_name="Lise",
        last_name="Holm",
        emails=[{"address": "lise@acme-industries.com"}],
    )

    found = await pairs(client)
    for p in found:
        assert p["a"] < p["b"], p
        assert p["reasons"], p
    got = {frozenset((p["a"], p["b"])): p for p in found}
    want = {
        frozenset((a1["id"], a2["id"])): (0.95, "same email kari@one.no"),
        frozenset((b1["id"], b2["id"])): (0.9, "same phone +4722334455"),
        frozenset((c1["id"], c2["id"])): (0.5, "same name"),
        frozenset((d1["id"], d2["id"])): (0.8, "similar name"),
    }
    assert set(got) == set(want), found
    for key, (score, reason) in want.items():
        assert got[key]["score"] == pytest.approx(score)
        assert got[key]["reasons"][0].startswith(reason), got[key]
    assert [p["score"] for p in found] == sorted((p["score"] for p in found), reverse=True)

    strong = await pairs(client, min_score=0.85)
    assert {frozenset((p["a"], p["b"])) for p in strong} == {
        frozenset((a1["id"], a2["id"])),
        frozenset((b1["id"], b2["id"])),
    }
    assert len(await pairs(client, limit=1)) == 1
    problem(await client.get(f"{URL}/duplicates", params={"min_score": 2}), 400)

    # a deleted record leaves its pairs
    assert (await client.delete(f"{URL}/{a2['id']}")).status_code == 204
    assert frozenset((a1["id"], a2["id"])) not in {
        frozenset((p["a"], p["b"])) for p in await pairs(client)
    }


# -- merge --------------------------------------------------------------------------------


@pytest.fixture
async def custom_fields(runtime: Any) -> None:
    """The custom fields the trio uses (unknown keys are refused)."""
    types = {"budget": "integer", "colour": "text", "source": "text", "shoe": "integer"}
    for key, type_ in types.items():
        await runtime.custom_fields.create({"entity": "individual", "key": key, "type": type_})


@pytest.fixture
async def trio(custom_fields: None, client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """A target and two sources, with overlapping and distinct values."""
    target = await create(
        client,
        first_name="Kari",
        last_name="Nordmann",
        salutation="Dr.",
        emails=[
            {"address": "kari@example.no", "label": "work"},
            {"address": "kari@home.no", "label": "home", "primary": True},
        ],
        phones=[{"number": "91234567", "label": "mobile"}],
        addresses=[
            {
                "type": "work",
                "street": "Storgata 1",
                "postal_code": "0150",
                "city": "Oslo",
                "country": "NO",
            }
        ],
        job_title="Manager",
        department=None,
        timezone="Europe/Oslo",
        tags=["vip"],
        custom={"budget": 100, "colour": "red"},
    )
    source1 = await create(
        client,
        skip=True,
        first_name="Kari",
        last_name="Nordmann",
        emails=[
            {"address": "KARI@example.no", "primary": True},
            {"address": "k.nordmann@firma.no"},
        ],
        phones=[{"number": "22334455", "label": "work", "primary": True}],
        addresses=[
            {
                "type": "home",
                "street": "Lillegata 2",
                "postal_code": "5003",
                "city": "Bergen",
                "country": "NO",
            }
        ],
        job_title="Head of Sales",
        department="Sales",
        language="nb",
        birthday="1980-05-17",
        tags=["VIP", "b2b"],
        custom={"budget": 5, "source": "fair"},
    )
    source2 = await create(
        client,
        skip=True,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kn@other.no"}],
        phones=[{"number": "+47 912 34 567"}, {"number": "41234567"}],
        addresses=[
            {
                "type": "work",
                "street": "Storgata 1",
                "postal_code": "0150",
                "city": "Oslo",
                "country": "NO",
            }
        ],
        notes="met at a fair",
        preferred_contact_method="phone",
        tags=["golf"],
        custom={"shoe": 38},
    )
    return {"target": target, "source1": source1, "source2": source2}


async def do_merge(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(MERGE, json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def test_merge(client: httpx.AsyncClient, runtime: Runtime, trio: dict[str, Any]) -> None:
    t, s1, s2 = trio["target"]["id"], trio["source1"]["id"], trio["source2"]["id"]
    result = await do_merge(client, {"target": t, "sources": [s1, s2], "fields": {"job_title": s1}})
    merged = result["target"]
    uuid.UUID(result["id"])
    assert merged == await read(client, t)
    assert merged["id"] == t
    assert merged["version"] == trio["target"]["version"] + 1
    assert merged["merged_into"] is None
    # chosen field, the target's own values, gaps filled from sources in order
    assert merged["job_title"] == "Head of Sales"
    assert merged["salutation"] == "Dr."
    assert merged["timezone"] == "Europe/Oslo"
    assert merged["department"] == "Sales"
    assert merged["language"] == "nb"
    assert merged["birthday"] == "1980-05-17"
    assert merged["notes"] == "met at a fair"
    assert merged["preferred_contact_method"] == "phone"
    # lists unioned (target first), the target's primary kept, one primary each
    assert merged["emails"] == [
        {"address": "kari@example.no", "label": "work", "primary": False},
        {"address": "kari@home.no", "label": "home", "primary": True},
        {"address": "k.nordmann@firma.no", "label": None, "primary": False},
        {"address": "kn@other.no", "label": None, "primary": False},
    ]
    assert [(p["number"], p["primary"]) for p in merged["phones"]] == [
        ("+4791234567", True),
        ("+4722334455", False),
        ("+4741234567", False),
    ]
    assert [(a["city"], a["primary"]) for a in merged["addresses"]] == [
        ("Oslo", True),
        ("Bergen", False),
    ]
    assert merged["tags"] == ["vip", "b2b", "golf"]
    # custom: every key, the target's value wins, then the first source's
    assert merged["custom"] == {"budget": 100, "colour": "red", "source": "fair", "shoe": 38}

    # the sources are soft-deleted and point at the target
    for s in (s1, s2):
        problem(await get(client, s), 404)
        gone = await read(client, s, include_deleted="true")
        assert gone["merged_into"] == t
        assert gone["deleted_at"] is not None
    assert await listed_ids(client) == [t]
    assert sorted(await listed_ids(client, merged_into=t, include_deleted="true")) == sorted(
        [s1, s2]
    )
    assert await duplicates_of(client, t) == []
    assert await pairs(client) == []
    row = await runtime.db.fetchrow(
        sql("SELECT target_id, undone_at FROM individual_merge WHERE id = {}", result["id"])
    )
    assert str(row["target_id"]) == t and row["undone_at"] is None


async def test_merge_defaults_to_the_targets_values(
    client: httpx.AsyncClient, trio: dict[str, Any]
) -> None:
    t, s1 = trio["target"]["id"], trio["source1"]["id"]
    merged = (await do_merge(client, {"target": t, "sources": [s1]}))["target"]
    assert merged["job_title"] == "Manager"
    assert merged["department"] == "Sales"
    assert merged["emails"][1] == {"address": "kari@home.no", "label": "home", "primary": True}
    assert (await read(client, trio["source2"]["id"]))[
        "merged_into"
    ] is None  # not named: untouched


async def test_a_chosen_empty_value_wins(client: httpx.AsyncClient, trio: dict[str, Any]) -> None:
    t, s2 = trio["target"]["id"], trio["source2"]["id"]
    merged = (
        await do_merge(
            client, {"target": t, "sources": [s2], "fields": {"timezone": s2, "first_name": t}}
        )
    )["target"]
    assert merged["timezone"] is None
    assert merged["first_name"] == "Kari"


async def test_a_target_without_primaries_gets_the_first_sources(client: httpx.AsyncClient) -> None:
    target = await create(client, first_name="Ola", last_name="Hansen")
    source = await create(
        client,
        skip=True,
        first_name="Ola",
        last_name="Hansen",
        emails=[{"address": "a@x.no"}, {"address": "b@x.no", "primary": True}],
    )
    merged = (await do_merge(client, {"target": target["id"], "sources": [source["id"]]}))["target"]
    assert [(e["address"], e["primary"]) for e in merged["emails"]] == [
        ("a@x.no", False),
        ("b@x.no", True),
    ]


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("target-in-sources", 422, "sources"),
        ("no-sources", 422, "sources"),
        ("twice", 422, "sources"),
        ("unknown-field", 422, "fields.nickname"),
        ("list-field", 422, "fields.emails"),
        ("tags-field", 422, "fields.tags"),
        ("outsider-id", 422, "fields.job_title"),
        ("unknown-target", 404, None),
        ("unknown-source", 404, None),
        ("deleted-source", 404, None),
        ("unknown-key", 422, None),
        ("bad-uuid", 422, None),
    ],
)
async def test_an_invalid_merge_writes_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    trio: dict[str, Any],
    case: str,
    status: int,
    field: str | None,
) -> None:
    t, s1, s2 = trio["target"]["id"], trio["source1"]["id"], trio["source2"]["id"]
    outsider = await create(client, first_name="Per", last_name="Berg")
    if case == "deleted-source":
        assert (await client.delete(f"{URL}/{s2}")).status_code == 204
    bodies: dict[str, Any] = {
        "target-in-sources": {"target": t, "sources": [s1, t]},
        "no-sources": {"target": t, "sources": []},
        "twice": {"target": t, "sources": [s1, s1]},
        "unknown-field": {"target": t, "sources": [s1], "fields": {"nickname": s1}},
        "list-field": {"target": t, "sources": [s1], "fields": {"emails": s1}},
        "tags-field": {"target": t, "sources": [s1], "fields": {"tags": s1}},
        "outsider-id": {"target": t, "sources": [s1], "fields": {"job_title": outsider["id"]}},
        "unknown-target": {"target": str(uuid.uuid4()), "sources": [s1]},
        "unknown-source": {"target": t, "sources": [s1, str(uuid.uuid4())]},
        "deleted-source": {"target": t, "sources": [s1, s2]},
        "unknown-key": {"target": t, "sources": [s1], "strategy": "newest"},
        "bad-uuid": {"target": "not-a-uuid", "sources": [s1]},
    }
    before = {i: await read(client, i, include_deleted="true") for i in (t, s1, s2, outsider["id"])}
    r = await client.post(MERGE, json=bodies[case])
    assert 400 <= r.status_code < 500
    body = problem(r, status, *([field] if field else []))
    if case == "unknown-key":
        assert "strategy" in error_fields(body)
    for i, record in before.items():
        assert await read(client, i, include_deleted="true") == record
    assert await runtime.db.fetchval(sql("SELECT COUNT(*) FROM individual_merge")) == 0


async def test_several_errors_of_a_merge_are_listed_together(
    client: httpx.AsyncClient, trio: dict[str, Any]
) -> None:
    t, s1 = trio["target"]["id"], trio["source1"]["id"]
    r = await client.post(
        MERGE,
        json={
            "target": t,
            "sources": [t, s1],
            "fields": {"nickname": t, "notes": str(uuid.uuid4())},
        },
    )
    body = problem(r, 422, "sources", "fields.nickname", "fields.notes")
    assert len(body["errors"]) == 3


async def test_malformed_merge_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(MERGE, content=b"{not json", headers={"Content-Type": "application/json"})
    problem(r, 400)


# -- undo ---------------------------------------------------------------------------------


async def test_undo_restores_target_and_sources_exactly(
    client: httpx.AsyncClient, trio: dict[str, Any]
) -> None:
    t, s1, s2 = trio["target"]["id"], trio["source1"]["id"], trio["source2"]["id"]
    before = {i: await read(client, i) for i in (t, s1, s2)}
    result = await do_merge(
        client, {"target": t, "sources": [s1, s2], "fields": {"job_title": s1, "notes": s2}}
    )
    r = await client.post(f"{URL}/merges/{result['id']}/undo")
    assert r.status_code == 200, r.text
    undone = r.json()
    assert undone["id"] == result["id"]
    assert sorted(undone["sources"]) == sorted([s1, s2])
    assert writable(undone["target"]) == writable(before[t])
    for i in (t, s1, s2):
        after = await read(client, i)
        assert writable(after) == writable(before[i]), i
        assert after["merged_into"] is None
        assert after["deleted_at"] is None
        assert after["created_at"] == before[i]["created_at"]
    assert sorted(await listed_ids(client)) == sorted([t, s1, s2])

    # a second undo is a conflict, and changes nothing
    snapshot = {i: await read(client, i) for i in (t, s1, s2)}
    problem(await client.post(f"{URL}/merges/{result['id']}/undo"), 409)
    for i in (t, s1, s2):
        assert await read(client, i) == snapshot[i]


async def test_undo_of_an_unknown_merge_is_404(client: httpx.AsyncClient) -> None:
    problem(await client.post(f"{URL}/merges/{uuid.uuid4()}/undo"), 404)


async def test_a_merge_can_be_redone_after_undo(
    client: httpx.AsyncClient, trio: dict[str, Any]
) -> None:
    t, s1 = trio["target"]["id"], trio["source1"]["id"]
    first = await do_merge(client, {"target": t, "sources": [s1]})
    assert (await client.post(f"{URL}/merges/{first['id']}/undo")).status_code == 200
    second = await do_merge(client, {"target": t, "sources": [s1]})
    assert second["id"] != first["id"]
    assert writable(second["target"]) == writable(first["target"])
    assert (await read(client, s1, include_deleted="true"))["merged_into"] == t


async def test_the_email_index_follows_merge_and_undo(
    client: httpx.AsyncClient, trio: dict[str, Any]
) -> None:
    t, s1, s2 = trio["target"]["id"], trio["source1"]["id"], trio["source2"]["id"]
    assert await listed_ids(client, email="k.nordmann@firma.no") == [s1]
    assert await listed_ids(client, email="kn@other.no") == [s2]
    assert await listed_ids(client, phone="41234567") == [s2]
    result = await do_merge(client, {"target": t, "sources": [s1, s2]})
    assert await listed_ids(client, email="k.nordmann@firma.no") == [t]
    assert await listed_ids(client, email="kn@other.no") == [t]
    assert await listed_ids(client, email="kari@example.no") == [t]
    assert await listed_ids(client, email_domain="firma.no") == [t]
    assert await listed_ids(client, phone="41234567") == [t]
    assert (await client.post(f"{URL}/merges/{result['id']}/undo")).status_code == 200
    assert await listed_ids(client, email="k.nordmann@firma.no") == [s1]
    assert await listed_ids(client, email="kn@other.no") == [s2]
    assert await listed_ids(client, email_domain="firma.no") == [s1]
    assert await listed_ids(client, phone="41234567") == [s2]
    assert sorted(await listed_ids(client, email="kari@example.no")) == sorted([t, s1])


async def test_the_clone_action_checks_duplicates_of_the_copy(
    client: httpx.AsyncClient, kari: dict[str, Any]
) -> None:
    # an exact copy shares email and phone: a likely duplicate unless the client says so
    problem(await client.post(f"{URL}/{kari['id']}/duplicate"), 409)
    r = await client.post(f"{URL}/{kari['id']}/duplicate", headers=SKIP)
    assert r.status_code == 201, r.text
    # a copy for a colleague with contact details of their own is fine
    r = await client.post(
        f"{URL}/{kari['id']}/duplicate",
        json={
            "first_name": "ola",
            "emails": [{"address": "OLA@example.no"}],
            "phones": [{"number": "41234567"}],
        },
    )
    assert r.status_code == 201, r.text
    copy = r.json()
    assert (copy["first_name"], copy["last_name"]) == ("Ola", "Nordmann")
    assert copy["emails"] == [{"address": "ola@example.no", "label": None, "primary": True}]
    assert await listed_ids(client, email="ola@example.no") == [copy["id"]]
