"""Results by relevance when no sort is given; ``q`` with sort, filters and cursor paging."""

from __future__ import annotations

import httpx
import pytest

from .conftest import PEOPLE, Find, Make, name, pages


async def test_best_matches_first_without_a_sort(
    client: httpx.AsyncClient, person: Make, note: Make, find: Find
) -> None:
    # the default sort (last name, first name) would list them A..E
    e = await person("Eva", "Aaberg", job_title="Berg consultant")  # a title word: 2nd tier
    d = await person("Dag", "Bergmann")  # a name prefix: below a whole name word
    await person("Cato", "Berg")  # a whole name word: first
    b = await person("Bo", "Dahl")
    await note(b, "Met berg at the fair")  # a note word: last
    await note(e, "unrelated")
    assert await find("berg") == ["Cato Berg", "Dag Bergmann", "Eva Aaberg", "Bo Dahl"]
    # equal ranks keep the default sort
    await person("Berg", "Berg")
    assert await find("berg") == ["Berg Berg", "Cato Berg", "Dag Bergmann", "Eva Aaberg", "Bo Dahl"]
    # several words: the ranks of each add up
    assert await find("berg OR dag") == [
        "Dag Bergmann",
        "Berg Berg",
        "Cato Berg",
        "Eva Aaberg",
        "Bo Dahl",
    ]
    # a sort given wins over relevance
    assert await find("berg", sort="first_name") == [
        "Berg Berg",
        "Bo Dahl",
        "Cato Berg",
        "Dag Bergmann",
        "Eva Aaberg",
    ]
    assert d["id"]


async def test_ties_follow_the_default_sort(person: Make, find: Find) -> None:
    for first, last in (("Ann", "Cole"), ("Ann", "Abel"), ("Ann", "Berg")):
        await person(first, last)
    assert await find("ann") == ["Ann Abel", "Ann Berg", "Ann Cole"]


@pytest.mark.parametrize("sort", [None, "first_name", "-created_at", "-custom.level"])
async def test_cursor_paging_walks_every_match_once(
    client: httpx.AsyncClient, person: Make, note: Make, field: Make, sort: str | None
) -> None:
    await field("level", "number", sortable=True)
    expected = set()
    tiers: list[set[str]] = [set(), set(), set()]
    for i in range(23):
        # ranks differ: some match in the name, some in the title, some in a note
        where = i % 3
        first = f"Walker{i}" if where == 0 else f"P{i:02d}"
        p = await person(
            first,
            "Pager",
            job_title="walker" if where == 1 else None,
            type="customer" if i % 2 else "contact",
            custom={"level": i % 5},
        )
        if where == 2:
            await note(p, "a keen walker")
        expected.add(name(p))
        tiers[where].add(name(p))
    await person("Other", "Pager")  # matches the filter, not the search
    params = {"q": "walk", "limit": "4", **({"sort": sort} if sort else {})}
    seen = [name(r) for r in await pages(client, **params)]
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == expected
    one_page = (await client.get(PEOPLE, params={**params, "limit": "100"})).json()["data"]
    assert seen == [name(r) for r in one_page]  # pages continue exactly where they ended
    if sort is None:  # names first, then titles, then notes
        assert [set(seen[:8]), set(seen[8:16]), set(seen[16:])] == tiers
    # with a filter and the count
    filtered = await pages(client, **params, type="customer")
    assert {r["type"] for r in filtered} == {"customer"} and len(filtered) == 11
    r = await client.get(PEOPLE, params={**params, "type": "customer", "count": "true"})
    assert r.json()["total"] == 11


async def test_a_cursor_belongs_to_its_query(client: httpx.AsyncClient, person: Make) -> None:
    for i in range(3):
        await person(f"Zed{i}", "Zulu")
    first = (await client.get(PEOPLE, params={"q": "zed", "limit": "1"})).json()
    cursor = first["next_cursor"]
    assert cursor
    for params in ({"q": "zulu"}, {}, {"q": "zed", "sort": "first_name"}):
        r = await client.get(PEOPLE, params={**params, "limit": "1", "cursor": cursor})
        assert r.status_code == 400, (params, r.text)
        assert r.json()["errors"][0]["field"] == "cursor"
    r = await client.get(PEOPLE, params={"q": "zed", "limit": "1", "cursor": cursor})
    assert r.status_code == 200
    assert r.json()["data"][0]["id"] != first["data"][0]["id"]
