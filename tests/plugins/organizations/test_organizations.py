"""The organisation record: CRUD through the core surface, and its normalisation."""

from __future__ import annotations

import httpx
import pytest
from crmkit.plugins.individuals.normalize import Config
from crmkit.plugins.organizations.normalize import normalise, normalise_domain, normalise_website


async def test_create_normalises_everything(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/organizations",
        json={
            "name": "  Acme   AS ",
            "legal_name": "Acme  Holding AS",
            "org_number": " 923 609 016 ",
            "website": "WWW.Acme.NO/Om-oss",
            "industry": " Software ",
            "type": "customer",
            "emails": [
                {"address": " Post@ACME.no "},
                {"address": "faktura@acme.no", "label": "billing"},
            ],
            "phones": [{"number": "22 12 34 56"}],
            "addresses": [
                {
                    "street": "Storgata  1",
                    "postal_code": "0150",
                    "city": "Oslo",
                    "country": "Norway",
                }
            ],
            "tags": ["vip", " VIP "],
            "custom": {},
        },
    )
    assert r.status_code == 201, r.text
    org = r.json()
    assert r.headers["location"] == f"/api/v1/organizations/{org['id']}"
    assert org["name"] == "Acme AS"
    assert org["legal_name"] == "Acme Holding AS"
    assert org["org_number"] == "923609016"
    assert org["website"] == "https://www.acme.no/Om-oss"
    assert org["domain"] == "acme.no"  # derived from the website, without www.
    assert org["industry"] == "Software"
    assert [e["address"] for e in org["emails"]] == ["post@acme.no", "faktura@acme.no"]
    assert [e["primary"] for e in org["emails"]] == [True, False]
    assert org["phones"] == [{"number": "+4722123456", "label": None, "primary": True}]
    assert org["addresses"][0]["country"] == "NO" and org["addresses"][0]["street"] == "Storgata 1"
    assert org["tags"] == ["vip"]

    r = await client.get(f"/api/v1/organizations/{org['id']}")
    assert r.status_code == 200 and r.json() == org


async def test_every_problem_is_listed_with_its_path(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/organizations",
        json={
            "name": "   ",
            "website": "ftp://files.acme.no",
            "domain": "not a domain",
            "emails": [{"address": "ok@acme.no"}, {"address": "nope"}],
            "phones": [{"number": "12"}],
            "addresses": [{"postal_code": "12345", "country": "NO"}, {"country": "Atlantis"}],
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {
        "name",
        "website",
        "domain",
        "emails[1].address",
        "phones[0].number",
        "addresses[0].postal_code",
        "addresses[1].country",
    }


async def test_two_primaries_and_unknown_fields_are_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/organizations",
        json={
            "name": "Acme",
            "emails": [
                {"address": "a@acme.no", "primary": True},
                {"address": "b@acme.no", "primary": True},
            ],
        },
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["emails[1].primary"]
    r = await client.post(
        "/api/v1/organizations", json={"name": "Acme", "employees": 3, "website": 5}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"employees", "website"}


async def test_update_keeps_a_derived_domain_in_step(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/organizations", json={"name": "Acme", "website": "acme.no"})
    org = r.json()
    assert org["domain"] == "acme.no"
    r = await client.patch(
        f"/api/v1/organizations/{org['id']}", json={"website": "https://Acme.COM"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["website"] == "https://acme.com" and r.json()["domain"] == "acme.com"
    # a domain of its own is kept when the website changes
    r = await client.patch(f"/api/v1/organizations/{org['id']}", json={"domain": "@Acme-Group.COM"})
    assert r.json()["domain"] == "acme-group.com"
    r = await client.patch(f"/api/v1/organizations/{org['id']}", json={"website": "acme.se"})
    assert r.json()["domain"] == "acme-group.com" and r.json()["version"] == 4


async def test_list_filter_sort_delete_restore(client: httpx.AsyncClient) -> None:
    for name, kind, site in [
        ("Beta AS", "supplier", "beta.no"),
        ("Alfa AS", "customer", "alfa.no"),
        ("Gamma AB", "customer", None),
    ]:
        r = await client.post(
            "/api/v1/organizations", json={"name": name, "type": kind, "website": site}
        )
        assert r.status_code == 201
    r = await client.get("/api/v1/organizations")
    assert [o["name"] for o in r.json()["data"]] == ["Alfa AS", "Beta AS", "Gamma AB"]  # by name
    r = await client.get("/api/v1/organizations", params={"type": "customer", "sort": "-name"})
    assert [o["name"] for o in r.json()["data"]] == ["Gamma AB", "Alfa AS"]
    r = await client.get("/api/v1/organizations", params={"domain": "beta.no"})
    assert [o["name"] for o in r.json()["data"]] == ["Beta AS"]
    r = await client.get("/api/v1/organizations", params={"q": "gam"})
    assert [o["name"] for o in r.json()["data"]] == ["Gamma AB"]
    beta = (await client.get("/api/v1/organizations", params={"name": "Beta AS"})).json()["data"][0]
    assert (await client.delete(f"/api/v1/organizations/{beta['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/organizations/{beta['id']}")).status_code == 404
    assert (await client.post(f"/api/v1/organizations/{beta['id']}/restore")).status_code == 200
    assert (await client.get(f"/api/v1/organizations/{beta['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("acme.no", "https://acme.no"),
        ("HTTP://WWW.Acme.NO/", "http://www.acme.no"),
        ("https://acme.no:8443/a?b=c#d", "https://acme.no:8443/a?b=c#d"),
        ("blåbær.no", "https://blåbær.no"),
    ],
)
def test_normalise_website(raw: str, clean: str) -> None:
    assert normalise_website(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://acme.no",
        "https://user:pw@acme.no",
        "acme",
        "https://acme..no",
        "acme .no",
        "https://-acme.no",
        "https://acme.no:99999",
    ],
)
def test_bad_websites(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_website(raw)


def test_normalise_domain() -> None:
    assert normalise_domain(" @ACME.no. ") == "acme.no"
    for bad in ("https://acme.no", "acme", "ac me.no"):
        with pytest.raises(ValueError):
            normalise_domain(bad)


def test_configured_types() -> None:
    values = {"name": "Acme", "type": "friend"}
    errors = normalise(values, None, Config(default_region="NO", types=()), ("customer", "partner"))
    assert [e.field for e in errors] == ["type"]
    assert normalise({"name": "Acme", "type": "friend"}, None, Config("NO", ()), None) == []
