"""Lists through real HTTP: every filter operator per field kind, custom fields, tags,
entity filters, sorting, keyset paging and the errors of each, on both engines."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

URL = "/api/v1/vehicles"
PROBLEM = "application/problem+json"

#: Five vehicles chosen so every operator splits them differently. Mixed-case text is
#: only compared where both engines (and any collation) agree.
DATA: dict[str, dict[str, Any]] = {
    "a": {
        "make": "Ford",
        "model": "Focus",
        "year": 2018,
        "price": "15000",
        "electric": False,
        "registered_on": "2018-05-01",
        "status": "in_stock",
        "vin": "wf0ab1",
        "tags": ["vip", "fleet"],
        "custom": {"colour": "red", "trim": "Titanium X", "owners": 1},
    },
    "b": {
        "make": "Ford",
        "model": "Mustang Mach-E",
        "year": 2022,
        "price": "52000.50",
        "electric": True,
        "registered_on": "2022-09-15",
        "status": "reserved",
        "vin": "WF0CD2",
        "tags": ["fleet"],
        "custom": {"colour": "blue"},
    },
    "c": {
        "make": "Tesla",
        "model": "Model 3",
        "year": 2021,
        "price": "39999.99",
        "electric": True,
        "registered_on": "2021-01-31",
        "status": "sold",
        "vin": "5YJ3E1",
        "tags": [],
        "custom": {"colour": "Red"},
    },
    "d": {
        "make": "Volkswagen",
        "status": "in_stock",
        "tags": ["VIP-old"],
    },
    "e": {
        "make": "volvo",
        "model": "xc_40",
        "year": 2018,
        "price": "0",
        "electric": False,
        "registered_on": "2018-12-31",
        "status": "reserved",
        "vin": "YV1XC4",
        "tags": ["vip"],
        "custom": {"colour": "reddish", "trim": "R-Design"},
    },
}


@pytest.fixture
def enabled() -> list[str]:
    """Core and the example plugin only, whatever else is installed."""
    return ["example"]


# -- helpers ---------------------------------------------------------------------------


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    assert body["status"] == status
    assert body["title"]
    named = [e["field"] for e in body.get("errors", [])]
    for field in fields:
        assert field in named, (field, body)
        assert field in body["detail"], (field, body)
    return body


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    r = await client.post(URL, json=fields)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(autouse=True)
async def custom_fields(runtime: Any) -> None:
    """The custom fields the vehicles below use (unknown keys are refused)."""
    for key, type_ in [("colour", "text"), ("trim", "text"), ("owners", "integer"),
                       ("grade", "text")]:  # fmt: skip
        await runtime.custom_fields.create({"entity": "vehicle", "key": key, "type": type_})


@pytest.fixture
async def fleet(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The five vehicles of DATA (plus a deleted one that no filter may return)."""
    out = {label: await create(client, **values) for label, values in DATA.items()}
    gone = await create(client, make="Ford", year=2018, tags=["vip"], custom={"colour": "red"})
    assert (await client.delete(f"{URL}/{gone['id']}")).status_code == 204
    return out


class Lister:
    def __init__(self, client: httpx.AsyncClient, fleet: dict[str, dict[str, Any]]) -> None:
        self.client = client
        self.labels = {r["id"]: label for label, r in fleet.items()}

    async def __call__(self, params: Any) -> set[str]:
        r = await self.client.get(URL, params=params)
        assert r.status_code == 200, (params, r.text)
        return {self.labels[v["id"]] for v in r.json()["data"]}

    async def ordered(self, params: Any) -> list[str]:
        r = await self.client.get(URL, params=params)
        assert r.status_code == 200, (params, r.text)
        return [self.labels[v["id"]] for v in r.json()["data"]]


@pytest.fixture
def labels(client: httpx.AsyncClient, fleet: dict[str, dict[str, Any]]) -> Lister:
    return Lister(client, fleet)


async def check_cases(labels: Lister, rows: list[tuple[str, str, str]]) -> None:
    """Each ``(param, value, expected labels)`` row, reporting every mismatch at once."""
    wrong = []
    for param, value, expected in rows:
        got = await labels({param: value})
        if got != set(expected):
            wrong.append(f"{param}={value}: got {''.join(sorted(got))!r}, want {expected!r}")
    assert not wrong, "\n".join(wrong)


# -- operators by field kind -----------------------------------------------------------


async def test_text_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("make", "Ford", "ab"),
            ("make__eq", "Ford", "ab"),
            ("make", "ford", ""),  # eq is case-sensitive
            ("make__ne", "Ford", "cde"),
            ("make__lt", "Tesla", "ab"),
            ("make__lte", "Tesla", "abc"),
            ("make__gt", "Tesla", "de"),
            ("make__gte", "Tesla", "cde"),
            ("make__in", "Ford,Tesla", "abc"),
            ("make__in", " Ford , Nope ", "ab"),
            ("make__nin", "Ford,Tesla", "de"),
            ("make__contains", "o", "abde"),
            ("make__contains", "V", "d"),  # contains is case-sensitive
            ("make__icontains", "V", "de"),
            ("make__icontains", "ORD", "ab"),
            ("make__startswith", "Vo", "d"),
            ("make__startswith", "vo", "e"),
            ("make__startswith", "F", "ab"),
            ("make__isnull", "true", ""),
            ("make__isnull", "false", "abcde"),
            ("model", "Focus", "a"),
            ("model__ne", "Focus", "bcde"),  # NULL is "not equal" too
            ("model__nin", "Focus,xc_40", "bcd"),
            ("model__contains", "Mach", "b"),
            ("model__contains", "_", "e"),  # LIKE wildcards are literal
            ("model__contains", "%", ""),
            ("model__icontains", "_", "e"),
            ("model__icontains", "%", ""),
            ("model__icontains", "mODEL", "c"),
            ("model__startswith", "M", "bc"),
            ("model__startswith", "xc_", "e"),
            ("model__startswith", "xc%", ""),
            ("model__isnull", "true", "d"),
            ("model__isnull", "false", "abce"),
        ],
    )


async def test_integer_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("year", "2018", "ae"),
            ("year__ne", "2018", "bcd"),
            ("year__lt", "2021", "ae"),
            ("year__lte", "2021", "ace"),
            ("year__gt", "2018", "bc"),
            ("year__gte", "2021", "bc"),
            ("year__in", "2018,2022", "abe"),
            ("year__nin", "2018,2022", "cd"),
            ("year__isnull", "true", "d"),
            ("year__isnull", "false", "abce"),
            ("year", "1999", ""),
        ],
    )


async def test_decimal_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("price", "15000", "a"),
            ("price", "15000.00", "a"),
            ("price", "39999.99", "c"),
            ("price__ne", "15000", "bcde"),
            ("price__lt", "15000", "e"),
            ("price__lte", "15000", "ae"),
            ("price__gt", "39999.99", "b"),
            ("price__gte", "39999.99", "bc"),
            ("price__in", "0,52000.5", "be"),
            ("price__nin", "0,52000.5", "acd"),
            ("price__isnull", "true", "d"),
            ("price__isnull", "false", "abce"),
        ],
    )


async def test_boolean_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("electric", "true", "bc"),
            ("electric", "1", "bc"),
            ("electric", "false", "ade"),
            ("electric__eq", "no", "ade"),
            ("electric__ne", "true", "ade"),
            ("electric__ne", "false", "bc"),
            ("electric__isnull", "true", ""),
            ("electric__isnull", "false", "abcde"),
        ],
    )


async def test_date_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("registered_on", "2021-01-31", "c"),
            ("registered_on__ne", "2021-01-31", "abde"),
            ("registered_on__lt", "2021-01-31", "ae"),
            ("registered_on__lte", "2021-01-31", "ace"),
            ("registered_on__gt", "2018-12-31", "bc"),
            ("registered_on__gte", "2018-12-31", "bce"),
            ("registered_on__in", "2018-05-01,2022-09-15", "ab"),
            ("registered_on__nin", "2018-05-01,2022-09-15", "cde"),
            ("registered_on__isnull", "true", "d"),
            ("registered_on__isnull", "false", "abce"),
        ],
    )


async def test_choice_operators(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("status", "reserved", "be"),
            ("status__ne", "reserved", "acd"),
            ("status__in", "sold,reserved", "bce"),
            ("status__nin", "sold", "abde"),
            ("status__isnull", "true", ""),
            ("status__isnull", "false", "abcde"),
        ],
    )


async def test_datetime_operators(labels: Lister, fleet: dict[str, dict[str, Any]]) -> None:
    at = fleet["c"]["created_at"]
    expected = {
        "created_at": "c",
        "created_at__eq": "c",
        "created_at__ne": "abde",
        "created_at__lt": "ab",
        "created_at__lte": "abc",
        "created_at__gt": "de",
        "created_at__gte": "cde",
    }
    for param, want in expected.items():
        assert await labels({param: at}) == set(want), param
    # the same instant in another offset, and a naive time taken as UTC
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    assert await labels(
        {"created_at": moment.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()}
    ) == {"c"}
    assert await labels({"created_at": moment.replace(tzinfo=None).isoformat()}) == {"c"}
    assert await labels({"created_at__gte": "2000-01-01"}) == set("abcde")
    assert await labels({"created_at__lt": "2000-01-01T00:00:00Z"}) == set()
    assert await labels({"created_at__isnull": "true"}) == set()
    assert await labels({"created_at__isnull": "false"}) == set("abcde")
    assert await labels({"updated_at__gte": fleet["d"]["updated_at"]}) == set("de")


async def test_custom_field_filters(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("custom.colour", "red", "a"),
            ("custom.colour__eq", "Red", "c"),
            ("custom.colour__ne", "red", "bcde"),
            ("custom.colour__in", "red,blue", "ab"),
            ("custom.colour__nin", "red,blue", "cde"),
            ("custom.colour__isnull", "true", "d"),
            ("custom.colour__isnull", "false", "abce"),
            ("custom.colour__startswith", "red", "ae"),
            ("custom.colour__contains", "ed", "ace"),
            ("custom.colour__icontains", "RED", "ace"),
            ("custom.trim__isnull", "false", "ae"),
            ("custom.trim__contains", "-", "e"),
        ],
    )


async def test_tag_filters(labels: Lister) -> None:
    await check_cases(
        labels,
        [
            ("tag", "vip", "ae"),
            ("tags", "vip", "ae"),
            ("tag", "VIP-old", "d"),
            ("tag", "vi", ""),
            ("tag__in", "fleet,VIP-old", "abd"),
            ("tag__ne", "vip", "bcd"),
            ("tag__nin", "vip,fleet", "cd"),
            ("tag__isnull", "true", "c"),
            ("tag__isnull", "false", "abde"),
        ],
    )


async def test_filters_combine_with_and(labels: Lister) -> None:
    assert await labels([("tag", "vip"), ("tag", "fleet")]) == {"a"}
    assert await labels({"make": "Ford", "electric": "true"}) == {"b"}
    assert await labels({"tag": "vip", "year": "2018", "status": "reserved"}) == {"e"}
    assert await labels([("year__gte", "2018"), ("year__lt", "2022")]) == set("ace")
    assert await labels({"custom.colour__startswith": "red", "tag__isnull": "false"}) == set("ae")


async def test_entity_filter_vin_prefix(labels: Lister) -> None:
    assert await labels({"vin_prefix": "wf0"}) == {"a", "b"}
    assert await labels({"vin_prefix": "5YJ"}) == {"c"}
    assert await labels({"vin_prefix": "ZZZ"}) == set()
    assert await labels({"vin_prefix": "yv1", "status": "reserved"}) == {"e"}


async def test_include_deleted(client: httpx.AsyncClient, labels: Lister) -> None:
    r = await client.get(URL, params={"include_deleted": "true", "make": "Ford", "count": "true"})
    assert r.status_code == 200
    assert r.json()["total"] == 3
    assert len([v for v in r.json()["data"] if v["deleted_at"] is not None]) == 1
    assert await labels({"include_deleted": "false", "make": "Ford"}) == {"a", "b"}


# -- filter errors ---------------------------------------------------------------------


async def check_errors(
    client: httpx.AsyncClient, rows: list[tuple[str, str]], named: str | None = None
) -> None:
    """Each ``(param, value)`` is a 400 problem naming the param (or ``named``)."""
    for param, value in rows:
        r = await client.get(URL, params={param: value})
        try:
            problem(r, 400, named or param)
        except AssertionError as exc:
            raise AssertionError(f"{param}={value}: {exc}") from None


async def test_unknown_field_is_400_naming_it(client: httpx.AsyncClient) -> None:
    await create(client, make="Ford")
    await check_errors(
        client,
        [
            ("colour", "red"),
            ("colour__in", "red,blue"),
            ("custom", "x"),
            ("features", "towbar"),
            ("Make", "Ford"),
            ("custom.Colour", "red"),
            ("custom.bad-key", "x"),
            ("custom.", "x"),
            # no definition with this key (API.md: an unknown filter field is a 400)
            ("custom.nothing", "x"),
            ("custom.nothing__isnull", "true"),
        ],
    )


async def test_bad_operator_is_400(client: httpx.AsyncClient) -> None:
    await check_errors(
        client,
        [
            (param, "1")
            for param in ["year__foo", "make__like", "make__", "__eq", "year__in__x", "make__EQ"]
        ],
    )


async def test_operator_not_fitting_the_type_is_400(client: httpx.AsyncClient) -> None:
    await check_errors(
        client,
        [
            ("year__contains", "1"),
            ("year__icontains", "1"),
            ("year__startswith", "2"),
            ("price__startswith", "1"),
            ("registered_on__contains", "2018"),
            ("electric__lt", "true"),
            ("electric__in", "true,false"),
            ("status__lt", "sold"),
            ("status__contains", "old"),
            ("created_at__in", "2020-01-01T00:00:00Z"),
            ("created_at__contains", "2020"),
            ("id__gt", "00000000-0000-0000-0000-000000000000"),
            ("tag__contains", "v"),
            ("tag__gt", "a"),
            ("vin_prefix__in", "A,B"),
            ("vin_prefix__ne", "A"),
        ],
    )


async def test_bad_value_is_400_naming_the_param(client: httpx.AsyncClient) -> None:
    await check_errors(
        client,
        [
            ("year", "abc"),
            ("year", "2018.5"),
            ("year__in", "2018,abc"),
            ("year__in", ","),
            ("year__lt", ""),
            ("price", "cheap"),
            ("price__gt", "1e"),
            ("registered_on", "notadate"),
            ("registered_on__gt", "2021-02-30"),
            ("registered_on__in", "2021-01-01,soon"),
            ("electric", "maybe"),
            ("status", "stolen"),
            ("status__in", "sold,stolen"),
            ("created_at", "yesterday"),
            ("created_at__gt", "2020-13-01"),
            ("id", "not-a-uuid"),
            ("year__isnull", "perhaps"),
            ("year__isnull", ""),
            ("tag__isnull", "x"),
        ],
    )


async def test_bad_reserved_params(client: httpx.AsyncClient) -> None:
    for params, field in [
        ({"count": "maybe"}, "count"),
        ({"include_deleted": "perhaps"}, "include_deleted"),
    ]:
        r = await client.get(URL, params=params)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert field in [e["field"] for e in r.json()["errors"]]


async def test_bad_limit_is_400(client: httpx.AsyncClient) -> None:
    for limit in ["0", "501", "abc", "-1", "", "1.5", "99999999999999999999"]:
        r = await client.get(URL, params={"limit": limit})
        assert r.status_code == 400, (limit, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["status"] == 400
        assert "limit" in [e["field"] for e in body["errors"]], limit


async def test_limit_bounds_are_accepted(client: httpx.AsyncClient, fleet: Any) -> None:
    r = await client.get(URL, params={"limit": "1"})
    assert r.status_code == 200
    assert len(r.json()["data"]) == 1
    assert r.json()["next_cursor"]
    r = await client.get(URL, params={"limit": "500"})
    assert r.status_code == 200
    assert len(r.json()["data"]) == 5
    assert r.json()["next_cursor"] is None


# -- sort ------------------------------------------------------------------------------


async def test_multi_key_sort(labels: Lister, fleet: dict[str, dict[str, Any]]) -> None:
    # status ascending; within it year descending, NULL first (NULL is the largest)
    assert await labels.ordered({"sort": "status,-year"}) == list("dabec")
    by_id = sorted("ae", key=lambda k: fleet[k]["id"])
    assert await labels.ordered({"sort": "year"}) == [*by_id, "c", "b", "d"]
    assert await labels.ordered({"sort": "-year"}) == ["d", "b", "c", *by_id]
    assert await labels.ordered({"sort": "-price"}) == list("dbcae")
    assert await labels.ordered({"sort": "price"}) == list("eacbd")
    assert await labels.ordered({"sort": "registered_on"}) == list("aecbd")
    assert await labels.ordered({"sort": "-registered_on,make"}) == list("dbcea")
    assert await labels.ordered({"sort": "+year,-make"}) == list("eacbd")
    assert (await labels.ordered({"sort": "custom.trim"}))[:2] == ["e", "a"]
    assert (await labels.ordered({"sort": "-custom.trim"}))[3:] == ["a", "e"]
    # default: newest first
    assert await labels.ordered({}) == list("edcba")
    assert await labels.ordered({"sort": "created_at"}) == list("abcde")
    # a key named twice counts once
    assert await labels.ordered({"sort": "status,-year,status"}) == list("dabec")
    assert await labels.ordered({"sort": "year,make", "year__isnull": "false"}) == list("aecb")


async def test_sort_on_unknown_field_is_400(client: httpx.AsyncClient) -> None:
    await check_errors(
        client,
        [
            ("sort", s)
            for s in ["colour", "-colour", "year,nope", "features", "custom", "custom.Bad", "tags"]
        ],
    )


# -- keyset paging ---------------------------------------------------------------------

MAKES = ["Audi", "Citroen", "Dacia", "Audi", "Citroen"]
YEARS = [2015, 2015, 2016, None, 2015, 2017, None, 2016, 2015, 2018, None, 2017]
PRICES = ["100", None, "100", "250.50", None, "99.99", "100"]
DATES = ["2020-01-01", None, "2021-06-30", "2020-01-01", "2019-12-31", None]
STATUSES = ["in_stock", "reserved", "in_stock", "reserved", "sold", "in_stock", "sold", "reserved"]
GRADES = ["A", None, "B", "A", None, "C", "B", None, "A"]


def _value(record: dict[str, Any], field: str) -> Any:
    if field.startswith("custom."):
        return record["custom"].get(field[7:])
    return record[field]


def _sort_key(record: dict[str, Any], field: str) -> Any:
    value = _value(record, field)
    if field == "price":
        return Decimal(value)
    if field in ("created_at", "updated_at"):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def expected_order(records: list[dict[str, Any]], sort: str | None) -> list[str]:
    """Records sorted the way the API documents it: NULL is the largest value, ties by id."""
    keys = [k for k in (sort or "-created_at").split(",") if k]
    out = sorted(records, key=lambda r: r["id"])
    for key in reversed(keys):
        desc = key.startswith("-")
        name = key.lstrip("-")
        present = [r for r in out if _value(r, name) is not None]
        missing = [r for r in out if _value(r, name) is None]
        present.sort(key=lambda r: _sort_key(r, name), reverse=desc)
        out = missing + present if desc else present + missing
    return [r["id"] for r in out]


@pytest.fixture
async def many(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """23 vehicles with ties and NULLs in every sort field (and 2 deleted ones)."""
    records = []
    for i in range(25):
        status = STATUSES[i % len(STATUSES)]
        grade = GRADES[i % len(GRADES)]
        rec = await create(
            client,
            make=MAKES[i % len(MAKES)],
            year=YEARS[i % len(YEARS)],
            price=PRICES[i % len(PRICES)] or ("1" if status == "sold" else None),
            registered_on=DATES[i % len(DATES)],
            status=status,
            electric=i % 3 == 0,
            tags=["even"] if i % 2 == 0 else [],
            custom={"grade": grade} if grade else {},
        )
        records.append(rec)
    # one change, so updated_at differs from created_at order
    r = await client.patch(f"{URL}/{records[3]['id']}", json={"model": "changed"})
    records[3] = r.json()
    for rec in records[7:9]:
        assert (await client.delete(f"{URL}/{rec['id']}")).status_code == 204
    live = records[:7] + records[9:]
    assert len(live) == 23
    return live


async def page_through(
    client: httpx.AsyncClient, params: dict[str, Any], limit: int = 5
) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, "limit": limit}
        if cursor:
            query["cursor"] = cursor
        r = await client.get(URL, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert len(body["data"]) <= limit
        ids.extend(v["id"] for v in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert len(body["data"]) == limit
        assert pages < 50, "paging does not end"


PAGED_SORTS = [
    None,
    "year",
    "-year",
    "make,-year",
    "-make,year",
    "price",
    "-price,-year",
    "year,price,make",
    "electric,-year",
    "registered_on",
    "-registered_on,make",
    "status,-year",
    "-status,registered_on,-price",
    "custom.grade",
    "-custom.grade,year",
    "-created_at",
    "created_at",
    "-updated_at",
    "-id",
]


async def test_keyset_paging_is_complete_and_ordered(
    client: httpx.AsyncClient, many: list[dict[str, Any]]
) -> None:
    for sort in PAGED_SORTS:
        params = {"sort": sort} if sort else {}
        r = await client.get(URL, params={**params, "limit": 500})
        full = [v["id"] for v in r.json()["data"]]
        assert full == expected_order(many, sort), sort
        assert r.json()["next_cursor"] is None

        ids, pages = await page_through(client, params)
        assert len(ids) == len(set(ids)) == 23, sort
        assert ids == full, sort
        assert pages == 5, sort

        ids, pages = await page_through(client, params, limit=4)
        assert ids == full, sort
        assert pages == 6, sort
        ids, _ = await page_through(client, params, limit=23)
        assert ids == full, sort


async def test_keyset_paging_one_by_one(
    client: httpx.AsyncClient, many: list[dict[str, Any]]
) -> None:
    for sort in ["-year,make", "custom.grade", "-price"]:
        ids, pages = await page_through(client, {"sort": sort}, limit=1)
        assert ids == expected_order(many, sort), sort
        assert pages == 23


async def test_keyset_paging_with_filters_and_count(
    client: httpx.AsyncClient, many: list[dict[str, Any]]
) -> None:
    params = {"sort": "-year,make", "year__isnull": "false", "tag": "even", "count": "true"}
    expected = expected_order(
        [r for r in many if r["year"] is not None and "even" in r["tags"]], "-year,make"
    )
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(URL, params=query)).json()
        assert body["total"] == len(expected)  # the filter's total, whatever the page
        ids += [v["id"] for v in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert ids == expected

    body = (await client.get(URL, params={"limit": 2})).json()
    assert body["total"] is None
    body = (await client.get(URL, params={"limit": 2, "count": "true"})).json()
    assert body["total"] == 23
    body = (await client.get(URL, params={"count": "true", "make": "Nobody"})).json()
    assert body == {"data": [], "next_cursor": None, "total": 0}


async def test_keyset_paging_is_stable_under_inserts(
    client: httpx.AsyncClient, many: list[dict[str, Any]]
) -> None:
    full = expected_order(many, "year")
    first = (await client.get(URL, params={"sort": "year", "limit": 5})).json()
    assert [v["id"] for v in first["data"]] == full[:5]
    # a record that sorts before the cursor does not shift the later pages
    await create(client, make="Audi", year=1990)
    second = (
        await client.get(URL, params={"sort": "year", "limit": 5, "cursor": first["next_cursor"]})
    ).json()
    assert [v["id"] for v in second["data"]] == full[5:10]


async def test_cursor_with_another_sort_is_400(
    client: httpx.AsyncClient, many: list[dict[str, Any]]
) -> None:
    cursor = (await client.get(URL, params={"sort": "year", "limit": 5})).json()["next_cursor"]
    assert cursor
    for sort in ["-year", "make", "year,make", None]:
        params = {"cursor": cursor, "limit": 5, **({"sort": sort} if sort else {})}
        problem(await client.get(URL, params=params), 400, "cursor")
    # the same sort spelled the same way works, also with other filters
    r = await client.get(URL, params={"cursor": cursor, "sort": "year", "electric": "true"})
    assert r.status_code == 200


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


GARBAGE_CURSORS = [
    "garbage",
    "!!!",
    "e30",  # {}
    _b64([]),
    _b64("year,id"),
    _b64({"s": "year,id"}),
    _b64({"s": "year,id", "v": [2015]}),
    _b64({"s": "year,id", "v": 5}),
    _b64({"s": "year,id", "v": ["abc", "00000000-0000-0000-0000-000000000000"]}),
    _b64({"s": "year,id", "v": [2015, "not-a-uuid"]}),
    _b64({"s": "year,id", "v": [{"x": 1}, "00000000-0000-0000-0000-000000000000"]}),
    _b64({"s": "-id", "v": ["00000000-0000-0000-0000-000000000000"]}),
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
]


async def test_garbage_cursor_is_400(client: httpx.AsyncClient) -> None:
    await create(client, make="Ford")
    for cursor in GARBAGE_CURSORS:
        r = await client.get(URL, params={"sort": "year", "cursor": cursor})
        try:
            problem(r, 400, "cursor")
        except AssertionError as exc:
            raise AssertionError(f"{cursor}: {exc}") from None


async def test_crafted_cursor_with_nulls_works(client: httpx.AsyncClient, fleet: Any) -> None:
    zero = "00000000-0000-0000-0000-000000000000"
    r = await client.get(
        URL, params={"sort": "year", "cursor": _b64({"s": "year,id", "v": [None, zero]})}
    )
    assert r.status_code == 200, r.text
    assert [v["id"] for v in r.json()["data"]] == [fleet["d"]["id"]]
    r = await client.get(
        URL, params={"sort": "-year", "cursor": _b64({"s": "-year,id", "v": [None, zero]})}
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 5
