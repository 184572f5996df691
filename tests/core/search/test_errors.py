"""A malformed query is a 400 naming where; nothing a client types is a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import PEOPLE, Find, Make

PROBLEM = "application/problem+json"

#: Input that breaks a naive MATCH / to_tsquery / LIKE / format string.
NAUGHTY = [
    "john@example",
    "foo-bar",
    "o'brien",
    "'",
    "''",
    '"',
    '"""',
    "*",
    "**",
    "john*",
    "NEAR(",
    "NEAR(a b)",
    "AND",
    "OR",
    "NOT",
    "a AND",
    "a OR",
    "-",
    "--",
    ":",
    "::",
    "email:",
    "email:*",
    "x:>abc",
    "custom.:x",
    "custom.x:y",
    "custom.budget:abc",
    "custom.budget:>abc",
    "custom.budget:>5",
    "type:>5",
    "tag:>5",
    "org:>5",
    "created_at:>2024-13-45",
    "created_at:>=2024-01-01",
    "id:nope",
    "status:nope",
    "\\",
    '\\"',
    "%",
    "_",
    "%_%",
    "{}",
    "{0}",
    "{q}",
    "$1",
    "?",
    "?1",
    ":1",
    "@a",
    "a; DROP TABLE individual; --",
    "') OR 1=1 --",
    "first_name:'); DELETE FROM crmkit_search; --",
    "(((a)))",
    "()",
    "a) OR (b",
    "^john",
    "john^2",
    "john~",
    "-(a OR b)",
    "a:b:c",
    "https://acme.com",
    "😀",
    "™ ®",
    "\u202ejohn",
    "ß",
    "ﬁ",
    "\uff2a\uff4f\uff48\uff4e",  # full-width "John"
    "\u0301",
    "a" * 300,
    "1" * 300,
    " ".join(["w"] * 50),
    " ".join(["w"] * 51),
    "(" * 25 + "a" + ")" * 25,
    "x" * 1001,
    "\t\n",
    "NOT NOT NOT a",
    "a OR -b OR NOT (c d)",
    '"+47 22 33 44 55"',
    "+47",
    "0000",
]


async def test_malformed_queries_name_the_position(client: httpx.AsyncClient) -> None:
    for q, position in (
        ('"john smith', 0),
        ("(a OR b", 0),
        ("a OR b)", 6),
        ("a OR", 4),
        ("email:", 6),
        ("x:>abc", 3),
        ("jo nosuchfield:x", 3),
        ("custom.budget:>1", 0),  # no such custom field
    ):
        r = await client.get(PEOPLE, params={"q": q})
        assert r.status_code == 400, (q, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["position"] == position, (q, body)
        assert [e["field"] for e in body["errors"]] == ["q"]
        assert f"at position {position}" in body["detail"]


@pytest.fixture
async def budget(field: Make, person: Make) -> None:
    await field("budget", "number")
    await person("John", "Smith", custom={"budget": 10})
    await person("Sean", "O'Brien", emails=[{"address": "john@example.com"}])


async def test_no_input_is_a_server_error(client: httpx.AsyncClient, budget: None) -> None:
    refused = 0
    for q in NAUGHTY:
        r = await client.get(PEOPLE, params={"q": q})
        assert r.status_code in (200, 400), (q, r.status_code, r.text)
        if r.status_code == 400:
            refused += 1
            assert r.headers["content-type"].startswith(PROBLEM)
            body: dict[str, Any] = r.json()
            assert [e["field"] for e in body["errors"]] == ["q"], (q, body)
            assert isinstance(body.get("position"), int), (q, body)
        else:
            assert isinstance(r.json()["data"], list)
        # with a count and a sort: other SQL around the same conditions
        again = await client.get(PEOPLE, params={"q": q, "count": "true", "sort": "-first_name"})
        assert again.status_code == r.status_code, (q, again.text)
    assert 0 < refused < len(NAUGHTY)


async def test_naughty_words_find_what_they_say(budget: None, find: Find) -> None:
    assert await find("john@example") == ["Sean O'Brien"]
    assert await find("o'brien") == ["Sean O'Brien"]
    assert await find("custom.budget:>5") == ["John Smith"]
    assert await find("john*") == ["John Smith", "Sean O'Brien"]  # the name ranks first
    assert await find("*") == await find("")  # no words: no constraint
    assert await find("😀 john") == await find("john")
    full_width = "\uff2a\uff4f\uff48\uff4e"
    assert set(await find(full_width)) == set(await find("john"))
