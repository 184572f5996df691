"""Individuals through HTTP on both engines: normalisation, validation, filters, settings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from crmkit.core import Runtime
from crmkit.core.db.sql import sql

from .helpers import (
    URL,
    configured_client,
    create,
    error_fields,
    listed,
    listed_ids,
    patch,
    problem,
    read,
)

MESSY = {
    "first_name": "  dr.   OLA ",
    "last_name": "nordmann",
    "middle_name": "  JOHAN ",
    "emails": [
        {"address": "  Ola.Nordmann@Example.NO ", "label": "work"},
        {"address": "ola@GMAIL.com", "label": "home"},
        {"address": "ola.nordmann@example.no"},
    ],
    "phones": [
        {"number": "912 34 567", "label": "mobile"},
        {"number": "+47 22 33 44 55", "label": "work"},
    ],
    "addresses": [
        {
            "type": "work",
            "street": "  Storgata   1 ",
            "postal_code": "0150",
            "city": " Oslo ",
            "country": "norway",
        },
        {"type": "home", "city": "Bergen", "postal_code": "5147", "country": "NO", "primary": True},
    ],
    "timezone": "europe/oslo",
    "language": "Norwegian Bokmål",
    "job_title": "  Head  of   Sales ",
    "department": " Sales ",
    "type": "customer",
    "preferred_contact_method": "email",
    "birthday": "1980-05-17",
    "tags": [" vip ", "VIP", "b2b"],
    "custom": {},
}


async def test_create_normalises_every_field(client: httpx.AsyncClient) -> None:
    r = await client.post(URL, json=MESSY)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{URL}/{body['id']}"
    assert r.headers["etag"] == '"1"'
    assert body["salutation"] == "Dr."
    assert body["first_name"] == "Ola"
    assert body["middle_name"] == "Johan"
    assert body["last_name"] == "Nordmann"
    assert body["emails"] == [
        {"address": "ola.nordmann@example.no", "label": "work", "primary": True},
        {"address": "ola@gmail.com", "label": "home", "primary": False},
    ]
    assert body["phones"] == [
        {"number": "+4791234567", "label": "mobile", "primary": True},
        {"number": "+4722334455", "label": "work", "primary": False},
    ]
    work, home = body["addresses"]
    assert work == {
        "type": "work",
        "street": "Storgata 1",
        "street2": None,
        "postal_code": "0150",
        "city": "Oslo",
        "region": None,
        "country": "NO",
        "primary": False,
    }
    assert (home["city"], home["country"], home["primary"]) == ("Bergen", "NO", True)
    assert body["timezone"] == "Europe/Oslo"
    assert body["language"] == "nb"
    assert body["job_title"] == "Head of Sales"
    assert body["department"] == "Sales"
    assert body["type"] == "customer"
    assert body["status"] == "active"
    assert body["preferred_contact_method"] == "email"
    assert body["birthday"] == "1980-05-17"
    assert body["tags"] == ["vip", "b2b"]
    assert body["merged_into"] is None
    assert body["version"] == 1
    # what a read returns is what the create returned
    assert await read(client, body["id"]) == body


async def test_defaults_of_a_minimal_individual(client: httpx.AsyncClient) -> None:
    body = await create(client, first_name="kari", last_name="NORDMANN")
    assert (body["first_name"], body["last_name"]) == ("Kari", "Nordmann")
    assert body["type"] == "contact"
    assert body["status"] == "active"
    assert body["emails"] == body["phones"] == body["addresses"] == []
    for field in (
        "salutation",
        "middle_name",
        "timezone",
        "language",
        "job_title",
        "birthday",
        "merged_into",
        "preferred_contact_method",
    ):
        assert body[field] is None, field
    assert body["tags"] == [] and body["custom"] == {}


async def test_derived_columns_are_stored(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = await create(
        client,
        first_name="Åse",
        last_name="Ødegård",
        emails=[{"address": "b@example.no"}, {"address": "A@Example.no", "primary": True}],
    )
    row = await runtime.db.fetchrow(
        sql("SELECT primary_email, name_key FROM individual WHERE id = {}", body["id"])
    )
    assert row["primary_email"] == "a@example.no"
    assert row["name_key"] == "ase odegard"
    assert "name_key" not in body and "primary_email" not in body  # internal, not in the API


async def test_birthday_is_a_date(client: httpx.AsyncClient) -> None:
    body = await create(client, birthday="2001-02-28")
    assert body["birthday"] == "2001-02-28"
    r = await patch(client, body["id"], birthday="2001-02-30")
    problem(r, 422, "birthday")
    r = await patch(client, body["id"], birthday="28.02.2001")
    problem(r, 422, "birthday")
    r = await patch(client, body["id"], birthday=None)
    assert r.status_code == 200, r.text
    assert r.json()["birthday"] is None
    assert [i["id"] for i in await listed(client, birthday__isnull="true")] == [body["id"]]


async def test_rule_errors_are_all_listed_at_once(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "first_name": "Smith, John",
            "last_name": "X",
            "emails": [{"address": "ok@example.no"}, {"address": "not-an-email"}],
            "phones": [{"number": "12"}],
            "addresses": [{"country": "Atlantis"}, {"country": "NO", "postal_code": "12345"}],
            "timezone": "Mars/Olympus",
            "language": "klingon",
            "type": "alien",
        },
    )
    body = problem(r, 422)
    assert error_fields(body) == {
        "first_name",
        "emails[1].address",
        "phones[0].number",
        "addresses[0].country",
        "addresses[1].postal_code",
        "timezone",
        "language",
        "type",
    }
    assert all(e["message"] for e in body["errors"])
    assert await listed(client) == []


async def test_schema_errors_are_all_listed_at_once(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={
            "first_name": "Ola",
            "nickname": "Ole",
            "favourite_colour": "blue",
            "emails": [{"address": "ola@example.no", "kind": "work"}],
            "preferred_contact_method": "pigeon",
            "status": "sleeping",
            "birthday": "yesterday",
        },
    )
    body = problem(
        r,
        422,
        "last_name",
        "nickname",
        "favourite_colour",
        "preferred_contact_method",
        "status",
        "birthday",
    )
    assert any(f.startswith("emails") for f in error_fields(body)), body
    assert await listed(client) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"emails": [{"address": "bad"}]}, "emails[0].address"),
        ({"phones": [{"number": "12"}]}, "phones[0].number"),
        ({"addresses": [{"country": "Atlantis"}]}, "addresses[0].country"),
        ({"timezone": "Nowhere/Here"}, "timezone"),
        ({"language": "klingon"}, "language"),
        ({"type": "alien"}, "type"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": None}, "last_name"),
        ({"unknown": 1}, "unknown"),
        (
            {
                "emails": [
                    {"address": "a@example.no", "primary": True},
                    {"address": "b@example.no", "primary": True},
                ]
            },
            "emails[1].primary",
        ),
    ],
)
async def test_an_invalid_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    before = await create(client, emails=[{"address": "kari@example.no"}])
    r = await client.patch(f"{URL}/{before['id']}", json=body)
    problem(r, 422, field)
    assert await read(client, before["id"]) == before


async def test_a_patch_is_normalised_too(client: httpx.AsyncClient) -> None:
    body = await create(client)
    r = await patch(
        client,
        body["id"],
        last_name="VAN DER BERG",
        timezone="EUROPE/OSLO",
        phones=[{"number": "912 34 567"}],
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["last_name"] == "van der Berg"
    assert after["timezone"] == "Europe/Oslo"
    assert after["phones"] == [{"number": "+4791234567", "label": None, "primary": True}]
    assert after["version"] == 2


async def test_a_patch_that_normalises_to_the_same_values_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    body = await create(client, emails=[{"address": "kari@example.no"}])
    r = await patch(
        client, body["id"], first_name="KARI", emails=[{"address": " Kari@Example.NO "}]
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1


# -- filters --------------------------------------------------------------------------


@pytest.fixture
async def people(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    kari = await create(
        client,
        first_name="Kari",
        last_name="Nordmann",
        type="customer",
        tags=["vip"],
        emails=[{"address": "kari@example.no"}, {"address": "kari.n@gmail.com"}],
        phones=[{"number": "912 34 567"}],
    )
    ola = await create(
        client,
        first_name="Ola",
        last_name="Nordmann",
        type="prospect",
        tags=["vip", "b2b"],
        emails=[{"address": "ola@example.no"}],
        phones=[{"number": "22 33 44 55"}],
    )
    anna = await create(
        client,
        first_name="Anna",
        last_name="Andersen",
        type="customer",
        emails=[{"address": "anna@firma.se"}],
        phones=[{"number": "070-123 45 67"}],
        addresses=[{"country": "SE"}],
    )
    per = await create(client, first_name="Per", last_name="Berg")
    return {"kari": kari, "ola": ola, "anna": anna, "per": per}


async def test_email_filter_is_case_insensitive(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    kari = people["kari"]["id"]
    assert await listed_ids(client, email="Kari@Example.no") == [kari]
    assert await listed_ids(client, email=" KARI@EXAMPLE.NO ") == [kari]
    assert await listed_ids(client, email="kari.n@gmail.com") == [kari]  # a secondary address too
    assert await listed_ids(client, email="nobody@example.no") == []
    assert await listed_ids(client, email="not an email") == []
    assert sorted(await listed_ids(client, email__in="kari@example.no,OLA@example.no")) == sorted(
        [kari, people["ola"]["id"]]
    )


async def test_phone_filter_takes_e164_and_local_forms(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    kari = people["kari"]["id"]
    assert await listed_ids(client, phone="+4791234567") == [kari]
    assert await listed_ids(client, phone="91234567") == [kari]
    assert await listed_ids(client, phone="912 34 567") == [kari]
    assert await listed_ids(client, phone="+46701234567") == [people["anna"]["id"]]
    assert await listed_ids(client, phone="99999999") == []
    assert await listed_ids(client, phone="garbage") == []


async def test_email_domain_filter(client: httpx.AsyncClient, people: dict[str, Any]) -> None:
    ids = await listed_ids(client, email_domain="example.no", sort="first_name")
    assert ids == [people["kari"]["id"], people["ola"]["id"]]
    assert await listed_ids(client, email_domain="@EXAMPLE.NO", sort="first_name") == ids
    assert await listed_ids(client, email_domain="gmail.com") == [people["kari"]["id"]]
    assert await listed_ids(client, email_domain="nowhere.org") == []


async def test_type_tag_and_sort(client: httpx.AsyncClient, people: dict[str, Any]) -> None:
    p = {k: v["id"] for k, v in people.items()}
    assert await listed_ids(client, type="customer", sort="first_name") == [p["anna"], p["kari"]]
    assert await listed_ids(client, type="prospect") == [p["ola"]]
    assert await listed_ids(client, tag="vip", sort="first_name") == [p["kari"], p["ola"]]
    assert await listed_ids(client, tag="b2b") == [p["ola"]]
    assert await listed_ids(client, type="customer", tag="vip") == [p["kari"]]
    assert await listed_ids(client, sort="last_name,first_name") == [
        p["anna"],
        p["per"],
        p["kari"],
        p["ola"],
    ]
    assert await listed_ids(client, sort="-last_name,-first_name") == [
        p["ola"],
        p["kari"],
        p["per"],
        p["anna"],
    ]
    # the default sort is last name, then first name
    assert await listed_ids(client) == [p["anna"], p["per"], p["kari"], p["ola"]]


async def test_an_unknown_filter_operator_on_email_is_400(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    r = await client.get(URL, params={"email__startswith": "kari"})
    problem(r, 400)


async def test_filters_skip_deleted_people(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    kari = people["kari"]["id"]
    assert (await client.delete(f"{URL}/{kari}")).status_code == 204
    assert await listed_ids(client, email="kari@example.no") == []
    assert await listed_ids(client, phone="91234567") == []
    assert (await client.post(f"{URL}/{kari}/restore")).status_code == 200
    assert await listed_ids(client, email="kari@example.no") == [kari]


async def test_a_patch_of_emails_and_phones_updates_the_filter_index(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    kari = people["kari"]["id"]
    r = await patch(
        client,
        kari,
        emails=[{"address": "Kari.Nordmann@Newjob.COM"}],
        phones=[{"number": "41234567"}],
    )
    assert r.status_code == 200, r.text
    assert r.json()["emails"] == [
        {"address": "kari.nordmann@newjob.com", "label": None, "primary": True}
    ]
    assert await listed_ids(client, email="kari@example.no") == []
    assert await listed_ids(client, email="kari.n@gmail.com") == []
    assert await listed_ids(client, email="kari.nordmann@newjob.com") == [kari]
    assert await listed_ids(client, email_domain="newjob.com") == [kari]
    assert await listed_ids(client, email_domain="example.no") == [people["ola"]["id"]]
    assert await listed_ids(client, phone="91234567") == []
    assert await listed_ids(client, phone="+4741234567") == [kari]
    # a patch of other fields leaves the index alone
    assert (await patch(client, kari, job_title="CEO")).status_code == 200
    assert await listed_ids(client, email="kari.nordmann@newjob.com") == [kari]
    # removing every email empties it
    assert (await patch(client, kari, emails=[])).status_code == 200
    assert await listed_ids(client, email="kari.nordmann@newjob.com") == []


async def test_a_hard_delete_clears_the_filter_index(
    client: httpx.AsyncClient, runtime: Runtime, people: dict[str, Any]
) -> None:
    kari = people["kari"]["id"]
    assert (await client.delete(f"{URL}/{kari}", params={"hard": "true"})).status_code == 204
    for table in ("individual_email", "individual_phone"):
        n = await runtime.db.fetchval(
            sql(f"SELECT COUNT(*) FROM {table} WHERE individual_id = {{}}", kari)
        )
        assert n == 0, table


async def test_flagging_another_email_primary_moves_primary(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = await create(
        client,
        emails=[{"address": "a@example.no"}, {"address": "b@example.no"}],
        phones=[{"number": "91234567"}, {"number": "22334455"}],
    )
    assert [e["primary"] for e in body["emails"]] == [True, False]
    r = await patch(
        client,
        body["id"],
        emails=[{"address": "a@example.no"}, {"address": "b@example.no", "primary": True}],
        phones=[{"number": "+4791234567"}, {"number": "+4722334455", "primary": True}],
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert [e["primary"] for e in after["emails"]] == [False, True]
    assert [p["primary"] for p in after["phones"]] == [False, True]
    row = await runtime.db.fetchrow(
        sql("SELECT primary_email FROM individual WHERE id = {}", body["id"])
    )
    assert row["primary_email"] == "b@example.no"


async def test_the_primary_email_is_searchable(client: httpx.AsyncClient) -> None:
    body = await create(client, emails=[{"address": "searchme@uniquedomain.no"}])
    await create(
        client, first_name="Other", last_name="Person", emails=[{"address": "other@else.no"}]
    )
    r = await client.get(URL, params={"q": "uniquedomain"})
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["data"]] == [body["id"]]


# -- settings -------------------------------------------------------------------------


async def test_configured_types(db_url: str) -> None:
    async with configured_client(
        db_url, plugin={"individuals": {"types": ["lead", "client"]}}
    ) as client:
        body = await create(client, type="lead")
        assert body["type"] == "lead"
        r = await client.post(URL, json={"first_name": "A", "last_name": "B", "type": "customer"})
        body = problem(r, 422, "type")
        message = next(e["message"] for e in body["errors"] if e["field"] == "type")
        assert "lead" in message and "client" in message
        other = await create(client, first_name="Per", last_name="Berg", type="client")
        assert (await patch(client, other["id"], type="prospect")).status_code == 422
        assert (await patch(client, other["id"], type="lead")).status_code == 200
        assert len(await listed_ids(client, type="lead")) == 2


async def test_disabled_rules_turn_proper_casing_off(db_url: str) -> None:
    settings = {"individuals": {"disabled_rules": ["names.proper_case"]}}
    async with configured_client(db_url, plugin=settings) as client:
        body = await create(
            client,
            first_name="  OLA ",
            last_name="nordmann",
            emails=[{"address": "OLA@Example.no"}],
        )
        assert (body["first_name"], body["last_name"]) == ("OLA", "nordmann")
        assert body["emails"][0]["address"] == "ola@example.no"  # other rules still on


async def test_default_region_of_the_plugin(db_url: str) -> None:
    async with configured_client(
        db_url, plugin={"individuals": {"default_region": "SE"}}
    ) as client:
        body = await create(client, phones=[{"number": "070-123 45 67"}])
        assert body["phones"][0]["number"] == "+46701234567"
        assert await listed_ids(client, phone="070-123 45 67") == [body["id"]]


async def test_default_region_of_the_deployment(db_url: str) -> None:
    async with configured_client(db_url, default_region="DE") as client:
        body = await create(client, phones=[{"number": "030 1234567"}])
        assert body["phones"][0]["number"] == "+49301234567"
