"""vCard export and import of individuals through HTTP, on both engines."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import vobject

from .helpers import SKIP, URL, create, listed_ids, problem, read

VCARD = "text/vcard"

FULL = {
    "first_name": "Kari",
    "middle_name": "Marie",
    "last_name": "Nordmann",
    "salutation": "Dr.",
    "emails": [
        {"address": "kari@example.no", "label": "work"},
        {"address": "kari.nordmann@gmail.com", "label": "home", "primary": True},
    ],
    "phones": [
        {"number": "+4722334455", "label": "work"},
        {"number": "+4791234567", "label": "mobile", "primary": True},
    ],
    "addresses": [
        {
            "type": "work",
            "street": "Storgata 1",
            "street2": "Inngang B",
            "postal_code": "0150",
            "city": "Oslo",
            "country": "NO",
        },
        {
            "type": "home",
            "street": "Lillegata 2",
            "postal_code": "5003",
            "city": "Bergen",
            "region": "Vestland",
            "country": "NO",
            "primary": True,
        },
    ],
    "job_title": "Head of Sales",
    "department": "Sales",
    "birthday": "1980-05-17",
    "notes": "Met at Nor-Shipping; prefers mornings.",
    "tags": ["vip", "b2b"],
}

#: What an iPhone exports (vCard 3.0): grouped ADR items, type=pref, localised names.
APPLE_30 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//iPhone OS 17.2//EN\r\n"
    "N:ødegård;åse;Marie;;\r\n"
    "FN:Åse Marie Ødegård\r\n"
    "ORG:Fjordkraft AS;Salg;\r\n"
    "TITLE:Salgssjef\r\n"
    "EMAIL;type=INTERNET;type=WORK;type=pref:Ase.Odegard@Fjordkraft.NO\r\n"
    "EMAIL;type=INTERNET;type=HOME:ase.odegard@gmail.com\r\n"
    "EMAIL;type=INTERNET;type=WORK:ASE.ODEGARD@fjordkraft.no\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:912 34 567\r\n"
    "TEL;type=WORK;type=VOICE:22 33 44 55\r\n"
    "item1.ADR;type=WORK;type=pref:;;Folke Bernadottes vei 38;Bergen;;5147;Norway\r\n"
    "item1.X-ABADR:no\r\n"
    "item2.ADR;type=HOME:;;Storgata 1\\nLeilighet H0201;Oslo;;0150;Norway\r\n"
    "item2.X-ABADR:no\r\n"
    "BDAY;value=date:1980-05-17\r\n"
    "CATEGORIES:VIP,Kunde\r\n"
    "NOTE:Met at the Nor-Shipping fair\r\n"
    "END:VCARD\r\n"
)

#: An RFC 6350 style vCard 4.0 (as Google / Nextcloud write them): PREF=1, tel: URIs,
#: quoted TYPE lists, basic-format BDAY.
V40 = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "PRODID:-//Nextcloud Contacts v5.5.2\r\n"
    "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
    "KIND:individual\r\n"
    "N:o'brien;SEAN;;Mr.;\r\n"
    "FN:Sean O'Brien\r\n"
    "EMAIL;TYPE=work;PREF=1:Sean.OBrien@Acme-Industries.IE\r\n"
    "EMAIL;TYPE=home:sean@gmail.com\r\n"
    "EMAIL:sean.obrien@acme-industries.ie\r\n"
    'TEL;VALUE=uri;TYPE="voice,cell":tel:+353-85-123-4567\r\n'
    'TEL;VALUE=uri;PREF=1;TYPE="voice,work":tel:+353-1-234-5678\r\n'
    'ADR;TYPE=work;LABEL="1 Main St\\nDublin":;;1 Main Street;Dublin;;D02 X285;Ireland\r\n'
    "TITLE:Head of Procurement\r\n"
    "ORG:Acme Industries Ltd;Purchasing\r\n"
    "BDAY:19750321\r\n"
    "CATEGORIES:supplier-contact,golf\r\n"
    "NOTE:Prefers email.\r\n"
    "END:VCARD\r\n"
)


async def export(client: httpx.AsyncClient, record_id: str, **params: Any) -> str:
    r = await client.get(f"{URL}/{record_id}/vcard", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(VCARD), r.headers["content-type"]
    return r.text


async def post_card(client: httpx.AsyncClient, text: str, **kw: Any) -> httpx.Response:
    headers = {"Content-Type": VCARD, **kw.pop("headers", {})}
    return await client.post(f"{URL}/vcard", content=text.encode("utf-8"), headers=headers, **kw)


async def imported(client: httpx.AsyncClient, text: str, **kw: Any) -> dict[str, Any]:
    r = await post_card(client, text, **kw)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"{URL}/{body['id']}"
    assert r.headers["etag"] == '"1"'
    assert await read(client, body["id"]) == body
    return body


def lines(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.split(";")[0].split(":")[0].upper() == name]


# -- export ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["4.0", "3.0"])
async def test_export(client: httpx.AsyncClient, version: str) -> None:
    record = await create(client, **FULL)
    params = {} if version == "4.0" else {"version": "3.0"}
    r = await client.get(f"{URL}/{record['id']}/vcard", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(VCARD)
    assert "attachment" in r.headers["content-disposition"]
    assert "Kari-Nordmann.vcf" in r.headers["content-disposition"]
    text = r.text
    assert text.startswith("BEGIN:VCARD")
    assert text.rstrip().endswith("END:VCARD")
    assert lines(text, "VERSION") == [f"VERSION:{version}"]
    assert lines(text, "N") == ["N:Nordmann;Kari;Marie;Dr.;"]
    assert lines(text, "FN") == ["FN:Dr. Kari Marie Nordmann"]
    emails = lines(text, "EMAIL")
    assert [e.rsplit(":", 1)[1] for e in emails] == ["kari@example.no", "kari.nordmann@gmail.com"]
    assert "PREF" in emails[1].upper() and "PREF" not in emails[0].upper()
    tels = lines(text, "TEL")
    assert [t.rsplit(":", 1)[1] for t in tels] == ["+4722334455", "+4791234567"]
    assert "PREF" in tels[1].upper() and "PREF" not in tels[0].upper()
    adrs = lines(text, "ADR")
    assert len(adrs) == 2
    assert adrs[0].endswith(":;;Storgata 1\\nInngang B;Oslo;;0150;NO")
    assert adrs[1].endswith(":;;Lillegata 2;Bergen;Vestland;5003;NO")
    assert "TYPE=WORK" in adrs[0].upper() and "TYPE=HOME" in adrs[1].upper()
    assert lines(text, "TITLE") == ["TITLE:Head of Sales"]
    assert lines(text, "BDAY") == ["BDAY:1980-05-17"]
    assert lines(text, "CATEGORIES") == ["CATEGORIES:vip,b2b"]
    assert lines(text, "UID") == [f"UID:urn:uuid:{record['id']}"]
    assert lines(text, "NOTE") == ["NOTE:Met at Nor-Shipping\\; prefers mornings."]
    # it parses as what it claims to be
    card = vobject.readOne(text)
    assert card.version.value == version
    assert card.n.value.family == "Nordmann"


async def test_export_of_a_minimal_individual(client: httpx.AsyncClient) -> None:
    record = await create(client, first_name="Per", last_name="Berg")
    text = await export(client, record["id"])
    assert lines(text, "N") == ["N:Berg;Per;;;"]
    assert lines(text, "FN") == ["FN:Per Berg"]
    for absent in ("EMAIL", "TEL", "ADR", "TITLE", "BDAY", "CATEGORIES", "NOTE"):
        assert lines(text, absent) == [], absent


async def test_export_errors(client: httpx.AsyncClient) -> None:
    record = await create(client)
    problem(await client.get(f"{URL}/{record['id']}/vcard", params={"version": "2.1"}), 400)
    problem(await client.get(f"{URL}/00000000-0000-4000-8000-000000000000/vcard"), 404)
    assert (await client.delete(f"{URL}/{record['id']}")).status_code == 204
    problem(await client.get(f"{URL}/{record['id']}/vcard"), 404)


# -- import ----------------------------------------------------------------------------


async def test_import_an_apple_vcard_30(client: httpx.AsyncClient) -> None:
    body = await imported(client, APPLE_30)
    assert (body["first_name"], body["middle_name"], body["last_name"]) == (
        "Åse",
        "Marie",
        "Ødegård",
    )
    assert body["salutation"] is None
    assert body["emails"] == [
        {"address": "ase.odegard@fjordkraft.no", "label": "work", "primary": True},
        {"address": "ase.odegard@gmail.com", "label": "home", "primary": False},
    ]
    assert body["phones"] == [
        {"number": "+4791234567", "label": "cell", "primary": True},
        {"number": "+4722334455", "label": "work", "primary": False},
    ]
    work, home = body["addresses"]
    assert work == {
        "type": "work",
        "street": "Folke Bernadottes vei 38",
        "street2": None,
        "postal_code": "5147",
        "city": "Bergen",
        "region": None,
        "country": "NO",
        "primary": True,
    }
    assert home == {
        "type": "home",
        "street": "Storgata 1",
        "street2": "Leilighet H0201",
        "postal_code": "0150",
        "city": "Oslo",
        "region": None,
        "country": "NO",
        "primary": False,
    }
    assert body["job_title"] == "Salgssjef"
    assert body["department"] == "Salg"
    assert body["birthday"] == "1980-05-17"
    assert body["tags"] == ["VIP", "Kunde"]
    assert body["notes"] == "Met at the Nor-Shipping fair"
    assert body["type"] == "contact"
    assert await listed_ids(client, email="ase.odegard@fjordkraft.no") == [body["id"]]


async def test_import_a_vcard_40(client: httpx.AsyncClient) -> None:
    body = await imported(client, V40)
    assert (body["first_name"], body["last_name"], body["salutation"]) == ("Sean", "O'Brien", "Mr.")
    assert body["emails"] == [
        {"address": "sean.obrien@acme-industries.ie", "label": "work", "primary": True},
        {"address": "sean@gmail.com", "label": "home", "primary": False},
    ]
    assert body["phones"] == [
        {"number": "+353851234567", "label": "cell", "primary": False},
        {"number": "+35312345678", "label": "work", "primary": True},
    ]
    [adr] = body["addresses"]
    assert (
        adr["type"],
        adr["street"],
        adr["city"],
        adr["postal_code"],
        adr["country"],
        adr["primary"],
    ) == (
        "work",
        "1 Main Street",
        "Dublin",
        "D02 X285",
        "IE",
        True,
    )
    assert body["job_title"] == "Head of Procurement"
    assert body["department"] == "Purchasing"
    assert body["birthday"] == "1975-03-21"
    assert body["tags"] == ["supplier-contact", "golf"]
    # the card's UID is not taken as the record id
    assert body["id"] != "4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"


async def test_import_takes_the_name_from_fn_without_n(client: httpx.AsyncClient) -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ola Johan Nordmann\r\n"
        "EMAIL:ola@example.no\r\nEND:VCARD\r\n"
    )
    body = await imported(client, card)
    assert (body["first_name"], body["last_name"]) == ("Ola Johan", "Nordmann")


async def test_import_is_checked_for_duplicates(client: httpx.AsyncClient) -> None:
    first = await imported(client, V40)
    r = await post_card(client, V40)
    body = problem(r, 409)
    assert [d["id"] for d in body["duplicates"]] == [first["id"]]
    second = await imported(client, V40, headers=SKIP)
    assert second["id"] != first["id"]
    third = await imported(client, V40, params={"allow_duplicates": "true"})
    assert len({first["id"], second["id"], third["id"]}) == 3


async def test_import_with_invalid_values_is_422(client: httpx.AsyncClient) -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hansen;Per;;;\r\nFN:Per Hansen\r\n"
        "EMAIL;TYPE=INTERNET:per@@example\r\nTEL:12\r\n"
        "ADR;TYPE=HOME:;;Gate 1;Oslo;;0150;Atlantis\r\nEND:VCARD\r\n"
    )
    r = await post_card(client, card)
    problem(r, 422, "emails[0].address", "phones[0].number", "addresses[0].country")
    assert await listed_ids(client) == []


async def test_import_without_a_name_is_422(client: httpx.AsyncClient) -> None:
    r = await post_card(client, "BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:x@example.no\r\nEND:VCARD\r\n")
    problem(r, 422, "first_name", "last_name")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"hello\nworld: x",
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
        b'{"first_name": "Kari"}',
        b"\xff\xfe\x00not utf-8",
    ],
)
async def test_a_body_that_is_not_a_vcard_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post(f"{URL}/vcard", content=body, headers={"Content-Type": VCARD})
    problem(r, 400, "body")
    assert await listed_ids(client) == []


# -- round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["4.0", "3.0"])
async def test_round_trip(client: httpx.AsyncClient, version: str) -> None:
    original = await create(client, **FULL)
    text = await export(client, original["id"], version=version)
    copy = await imported(client, text, headers=SKIP)
    assert copy["id"] != original["id"]
    for field in (
        "salutation",
        "first_name",
        "middle_name",
        "last_name",
        "emails",
        "phones",
        "addresses",
        "tags",
        "job_title",
        "department",
        "birthday",
        "notes",
    ):
        assert copy[field] == original[field], field
    # and once more: stable
    again = await imported(client, await export(client, copy["id"], version=version), headers=SKIP)
    for field in ("first_name", "last_name", "emails", "phones", "addresses", "tags"):
        assert again[field] == original[field], field


async def test_round_trip_of_unusual_characters(client: httpx.AsyncClient) -> None:
    original = await create(
        client,
        first_name="Zoë",
        last_name="D'Arcy-Ødegård",
        job_title="R&D, Europe; North",
        notes="line one\nline two, with comma; and semicolon",
        tags=["a,b", "c;d"],
        emails=[{"address": "zoe@example.no"}],
    )
    copy = await imported(client, await export(client, original["id"]), headers=SKIP)
    for field in ("first_name", "last_name", "job_title", "notes", "emails"):
        assert copy[field] == original[field], field


async def test_record_url_with_vcf_suffix_serves_the_vcard(client):
    created = await client.post(
        "/api/v1/individuals",
        json={
            "first_name": "Siri",
            "last_name": "Suffix",
            "emails": [{"address": "siri@suffix.no"}],
        },
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    response = await client.get(f"/api/v1/individuals/{rid}.vcf")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/vcard")
    assert "EMAIL" in response.text and "siri@suffix.no" in response.text
    assert "Suffix" in response.text
    v3 = await client.get(f"/api/v1/individuals/{rid}.vcf?version=3.0")
    assert "VERSION:3.0" in v3.text
    missing = await client.get("/api/v1/individuals/00000000-0000-0000-0000-000000000000.vcf")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
