"""Every form of API.md's query language, asserted on what it finds (both engines)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import Find, Make


@pytest.fixture
async def crowd(client: httpx.AsyncClient, person: Make, field: Make) -> dict[str, dict[str, Any]]:
    await field("budget", "number")
    await field("start", "date")
    await field("hobby", "text")
    await field("size", "select", options=[{"value": "xl", "label": "Extra large"}, {"value": "s"}])
    await field("colours", "multi_select", options=["Red", "Blue", "Dark green"])
    people = {
        "john": await person(
            "John",
            "Smith",
            emails=[{"address": "john.smith@example.com"}],
            type="customer",
            tags=["VIP"],
            custom={"budget": 150000, "start": "2024-06-01", "size": "xl"},
        ),
        "johnny": await person("Johnny", "Smithers", type="prospect"),
        "jane": await person(
            "Jane",
            "Smith",
            tags=["churned"],
            custom={"budget": 50000, "start": "2023-01-15", "colours": ["Dark green"]},
        ),
        "mary": await person(
            "Mary", "Johnson", type="customer", tags=["vip", "churned"], custom={"hobby": "sailing"}
        ),
        "ase": await person("Åse", "Ødegård", job_title="Head of solar panels"),
        "jose": await person("José", "García", custom={"size": "s", "colours": ["Red", "Blue"]}),
        "kari": await person(
            "Kari",
            "Nordmann",
            emails=[{"address": "kari@acme.no"}],
            phones=[{"number": "+47 22 33 44 55"}],
        ),
        "obrien": await person("Sean", "O'Brien", department="foo-bar team"),
    }
    acme = await client.post("/api/v1/organizations", json={"name": "Acme AS"})
    beta = await client.post("/api/v1/organizations", json={"name": "Beta Acmeson"})
    assert acme.status_code == beta.status_code == 201
    for who, org in (("kari", acme), ("jose", beta)):
        r = await client.post(
            f"/api/v1/individuals/{people[who]['id']}/organizations",
            json={"organization_id": org.json()["id"]},
        )
        assert r.status_code == 201, r.text
    return people


async def names(find: Find, q: str, **params: Any) -> set[str]:
    return set(await find(q, **params))


async def test_a_word_finds_words_starting_with_it(crowd: dict, find: Find) -> None:
    assert await names(find, "john") == {"John Smith", "Johnny Smithers", "Mary Johnson"}
    assert await names(find, "JOHN") == await names(find, "john")
    assert await names(find, "smith") == {"John Smith", "Jane Smith", "Johnny Smithers"}
    assert await names(find, "mith") == set()  # a prefix, not any substring
    assert await names(find, "nosuchword") == set()


async def test_words_are_all_required(crowd: dict, find: Find) -> None:
    assert await names(find, "jo sm") == {"John Smith", "Johnny Smithers"}
    assert await names(find, "jo AND sm") == {"John Smith", "Johnny Smithers"}
    assert await names(find, "john garcía") == set()
    # across fields: a name word and a job-title word
    assert await names(find, "ase solar") == {"Åse Ødegård"}


async def test_a_phrase_spans_first_and_last_name(crowd: dict, find: Find) -> None:
    assert await names(find, '"john smith"') == {"John Smith"}
    assert await names(find, '"smith john"') == set()  # in order
    assert await names(find, '"john smi"') == set()  # whole words
    assert await names(find, '"solar panels"') == {"Åse Ødegård"}
    assert await names(find, 'name:"jane smith"') == {"Jane Smith"}


async def test_a_term_within_one_field(crowd: dict, find: Find) -> None:
    assert await names(find, "email:example.com") == {"John Smith"}
    assert await names(find, "email:acme") == {"Kari Nordmann"}
    assert await names(find, "email:kari@acme.no") == {"Kari Nordmann"}
    assert await names(find, "email:smith") == {"John Smith"}  # Jane has no email
    assert await names(find, "first_name:smith") == set()
    assert await names(find, "last_name:smith") == {"John Smith", "Jane Smith", "Johnny Smithers"}
    assert await names(find, "job_title:solar") == {"Åse Ødegård"}
    assert await names(find, "phone:22334455") == {"Kari Nordmann"}


async def test_equality_shortcuts(crowd: dict, find: Find) -> None:
    assert await names(find, "type:customer") == {"John Smith", "Mary Johnson"}
    assert await names(find, "type:Customer") == {"John Smith", "Mary Johnson"}
    assert await names(find, "tag:vip") == {"John Smith", "Mary Johnson"}  # any case
    assert await names(find, "tag:VIP tag:churned") == {"Mary Johnson"}
    assert await names(find, "tag:vi") == set()  # a whole tag
    assert await names(find, "org:acme") == {"Kari Nordmann", "José García"}  # a prefix...
    assert await names(find, 'org:"acme"') == {"Kari Nordmann"}  # ...or a whole word
    assert await names(find, 'org:"acme as"') == {"Kari Nordmann"}
    assert await names(find, "org:beta") == {"José García"}
    assert await names(find, "type:customer tag:vip org:acme") == set()
    assert await names(find, "type:customer tag:vip") == {"John Smith", "Mary Johnson"}
    assert await names(find, "status:Active") == await names(find, "status:active")
    assert len(await names(find, "status:active")) == 8
    assert await names(find, "custom.size:xl") == {"John Smith"}
    assert await names(find, 'custom.size:"extra large"') == {"John Smith"}  # its label
    assert await names(find, "custom.colours:red") == {"José García"}
    assert await names(find, 'custom.colours:"dark green"') == {"Jane Smith"}
    assert await names(find, "custom.colours:dark") == set()  # a whole value


async def test_comparisons_on_numbers_and_dates(crowd: dict, find: Find) -> None:
    assert await names(find, "custom.budget:>100000") == {"John Smith"}
    assert await names(find, "custom.budget:>=50000") == {"John Smith", "Jane Smith"}
    assert await names(find, "custom.budget:<100000") == {"Jane Smith"}
    assert await names(find, "custom.budget:=50000") == {"Jane Smith"}
    assert await names(find, "custom.budget:50000") == {"Jane Smith"}
    assert await names(find, "custom.start:>=2024-01-01") == {"John Smith"}
    assert await names(find, "custom.start:<2024-01-01") == {"Jane Smith"}
    assert len(await names(find, "created_at:>2000-01-01")) == 8
    assert await names(find, "created_at:<2000-01-01T00:00Z") == set()
    assert await names(find, "smith custom.budget:>1") == {"John Smith", "Jane Smith"}


async def test_negation(crowd: dict, find: Find) -> None:
    everyone = await names(find, "status:active")
    churned = {"Jane Smith", "Mary Johnson"}
    assert await names(find, "-tag:churned") == everyone - churned
    assert await names(find, "NOT tag:churned") == everyone - churned
    assert await names(find, "smith -jane") == {"John Smith", "Johnny Smithers"}
    assert await names(find, 'smith -"jane smith"') == {"John Smith", "Johnny Smithers"}
    # a missing value is not "over 100000": its negation keeps it
    assert await names(find, "-custom.budget:>100000") == everyone - {"John Smith"}
    assert await names(find, "--tag:churned") == churned


async def test_alternatives_and_parentheses(crowd: dict, find: Find) -> None:
    assert await names(find, "jane OR mary") == {"Jane Smith", "Mary Johnson"}
    assert await names(find, "tag:vip OR tag:churned") == {
        "John Smith",
        "Jane Smith",
        "Mary Johnson",
    }
    assert await names(find, "(john OR jane) smith") == {
        "John Smith",
        "Jane Smith",
        "Johnny Smithers",
    }
    assert await names(find, '("john" OR jane) smith') == {"John Smith", "Jane Smith"}
    assert await names(find, "john OR jane smith") == {  # AND binds tighter
        "John Smith",
        "Johnny Smithers",
        "Mary Johnson",
        "Jane Smith",
    }
    assert await names(find, "NOT (tag:vip OR tag:churned) smith") == {"Johnny Smithers"}
    assert await names(find, "(smith -(jane OR johnny))") == {"John Smith"}


async def test_case_and_accents_are_ignored(crowd: dict, find: Find) -> None:
    assert await names(find, "Ase") == {"Åse Ødegård"}
    assert await names(find, "ÅSE") == {"Åse Ødegård"}
    assert await names(find, "odegard") == {"Åse Ødegård"}
    assert await names(find, "jose") == {"José García"}
    assert await names(find, "JOSÉ garcia") == {"José García"}
    assert await names(find, '"jose garcia"') == {"José García"}


async def test_emails_phones_and_punctuation(crowd: dict, find: Find) -> None:
    assert await names(find, "acme") == {"Kari Nordmann"}  # the domain of kari@acme.no
    assert await names(find, "kari@acme.no") == {"Kari Nordmann"}
    assert await names(find, "acme.no") == {"Kari Nordmann"}
    for phone in ("22334455", "4722334455", "+4722334455", "22 33 44 55", "+47 22 33 44 55"):
        assert await names(find, phone) == {"Kari Nordmann"}, phone
    assert await names(find, "4455") == {"Kari Nordmann"}  # any part of the digits
    assert await names(find, "2233445566") == set()
    assert await names(find, "o'brien") == {"Sean O'Brien"}
    assert await names(find, "O\u2019Brien") == {"Sean O'Brien"}
    assert await names(find, "foo-bar") == {"Sean O'Brien"}


async def test_custom_values_are_searched_not_their_keys(crowd: dict, find: Find) -> None:
    assert await names(find, "sailing") == {"Mary Johnson"}
    assert await names(find, "custom.hobby:sail") == {"Mary Johnson"}
    assert await names(find, "hobby") == set()
    assert await names(find, "colours") == set()
    assert await names(find, "budget") == set()
    assert await names(find, "extra") == {"John Smith"}  # a select's label
    assert await names(find, "150000") == set()  # numbers are for comparisons


async def test_q_combines_with_filters(crowd: dict, find: Find) -> None:
    assert await names(find, "smith", type="customer") == {"John Smith"}
    assert await names(find, "smith", tag="churned") == {"Jane Smith"}
    assert await names(find, "smith", **{"custom.budget__gt": "100000"}) == {"John Smith"}
    assert await find("smith", sort="-first_name") == [
        "Johnny Smithers",
        "John Smith",
        "Jane Smith",
    ]
