"""The CSV column model: every column kind, and exported files that import back unchanged.

The import here is the smallest one the model allows (``from_row``, the create type,
``Records.create``, ``apply``), so the round trip checks the model, not an importer.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from crmkit.core import SYSTEM, Access, Actor, FieldRule, Runtime
from crmkit.core.access import BUILTIN_ROLES
from crmkit.core.transfer.cells import format_cell, join_list, parse_money, split_list
from crmkit.core.transfer.columns import column_model
from crmkit.core.transfer.export import prepare
from crmkit.core.transfer.kinds import singular
from crmkit.plugins.organizations.links import create_link

SKIP = {"skip_duplicate_check": True}

CUSTOM = [
    {"key": "nickname", "type": "text"},
    {"key": "budget", "type": "number"},
    {"key": "score", "type": "integer"},
    {"key": "since", "type": "date"},
    {"key": "last_seen", "type": "datetime"},
    {"key": "vip_flag", "type": "boolean"},
    {"key": "tier", "type": "select", "options": ["gold", "silver"]},
    {"key": "interests", "type": "multi_select", "options": ["golf", "wine;beer", "ski"]},
    {"key": "revenue", "type": "currency"},
    {"key": "homepage", "type": "url"},
]

KARI: dict[str, Any] = {
    "first_name": "Kari",
    "last_name": "Ødegård",
    "middle_name": "Åse",
    "salutation": "Dr.",
    "emails": [
        {"address": "kari@acme.example", "label": "work", "primary": True},
        {"address": "kari@home.example", "label": "home"},
        {"address": "k.o@other.example"},
    ],
    "phones": [
        {"number": "+4791234567", "label": "mobile", "primary": True},
        {"number": "+4722334455", "label": "work"},
    ],
    "addresses": [
        {
            "type": "work",
            "street": "Storgata 1",
            "street2": "3. etasje",
            "postal_code": "0155",
            "city": "Oslo",
            "country": "NO",
            "primary": True,
        },
        {"type": "home", "street": "Bakken 2, leil. 4", "city": "Bergen", "country": "NO"},
    ],
    "preferred_contact_method": "email",
    "job_title": 'CTO, "Platform"',
    "department": "Tech\nand more",
    "notes": "line one\r\nline two; with a semicolon",
    "type": "customer",
    "status": "active",
    "birthday": "1980-05-17",
    "tags": ["vip", "a;b", "back\\slash"],
    "custom": {
        "nickname": "KO",
        "budget": 1234.5,
        "score": 7,
        "since": "2020-02-29",
        "last_seen": "2024-03-01T10:15:30.123456+00:00",
        "vip_flag": True,
        "tier": "gold",
        "interests": ["golf", "wine;beer"],
        "revenue": {"amount": "99.5", "code": "nok"},
        "homepage": "https://acme.example/kari",
    },
}


async def _define(runtime: Runtime, entity: str = "individual") -> None:
    for body in CUSTOM:
        await runtime.custom_fields.create({"entity": entity, **body})


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


async def export_csv(runtime: Runtime, entity: str, access: Access | None = None) -> str:
    job = await prepare(runtime, runtime.plugins.entity(entity), access, [], format="csv")
    data = b"".join([chunk async for chunk in job.chunks()])
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM
    return data.decode("utf-8-sig")


async def import_csv(runtime: Runtime, entity_name: str, text: str) -> list[dict[str, Any]]:
    """Create a record from each row (what an importer does, minus reporting)."""
    entity = runtime.plugins.entity(entity_name)
    model = await column_model(runtime, entity)
    header, rows = _rows(text)
    assert model.unknown(header) == []
    created = []
    for row in rows:
        parsed = model.from_row(header, row)
        assert parsed.errors == []
        body = msgspec.structs.asdict(msgspec.convert(parsed.values, entity.create_type))
        async with runtime.write():
            record = await runtime.records(entity).create(
                body, actor=SYSTEM, source="import", data=SKIP
            )
            await model.apply(record, parsed.extra)
        created.append(record)
    return created


def _body(entity: Any, values: dict[str, Any]) -> Any:
    """Values as the create type sees them (so ``"1980-05-17"`` equals a date)."""
    return msgspec.to_builtins(msgspec.convert(values, entity.create_type, strict=False))


async def _kari(runtime: Runtime) -> dict[str, Any]:
    await _define(runtime)
    people = runtime.records("individual")
    typed = msgspec.convert(KARI, people.entity.create_type, strict=False)
    kari = await people.create(msgspec.structs.asdict(typed), actor=SYSTEM, data=SKIP)
    org = await runtime.records("organization").create({"name": "Acme AS"}, actor=SYSTEM)
    await create_link(
        runtime, kari["id"], {"organization_id": org["id"], "role": "CTO"}, actor=SYSTEM
    )
    return await people.get(kari["id"])


# -- cells ---------------------------------------------------------------------------------


def test_cells() -> None:
    assert format_cell(None) == "" and format_cell(True) == "true" and format_cell(False) == "false"
    assert format_cell(Decimal("31999.90")) == "31999.90" and format_cell(Decimal("1E+3")) == "1000"
    assert format_cell(12.0) == "12" and format_cell(0.5) == "0.5"
    assert format_cell(dt.date(2020, 1, 2)) == "2020-01-02"
    assert format_cell({"amount": 12.5, "code": "EUR"}) == "12.5 EUR"
    assert format_cell({"a": 1}) == '{"a":1}'
    for items in (["a", "b"], ["a;b", "c\\d", "e\\;f"], [" x "]):
        assert split_list(join_list(items)) == [i.strip() for i in items]
    assert split_list("a; b ;;c") == ["a", "b", "c"]
    assert split_list("C:\\path;x") == ["C:\\path", "x"]
    assert parse_money("12.50 eur") == {"amount": "12.50", "code": "EUR"}
    assert parse_money("EUR 3") == {"amount": "3", "code": "EUR"}
    for bad in ("12.50", "EUR", "12 EUR USD", "twelve EUR"):
        with pytest.raises(ValueError):
            parse_money(bad)
    assert [singular(n) for n in ("emails", "addresses", "companies", "boxes", "data")] == [
        "email",
        "address",
        "company",
        "box",
        "data",
    ]


# -- the header ----------------------------------------------------------------------------


async def test_the_individual_header(runtime: Runtime) -> None:
    await _define(runtime)
    model = await column_model(
        runtime,
        runtime.plugins.entity("individual"),
        sizes={"emails": 2, "phones": 0, "addresses": 1},
    )
    assert model.list_fields == ["emails", "phones", "addresses"]
    address = ["type", "street", "street2", "postal_code", "city", "region", "country"]
    assert model.header == [
        "id",
        "first_name",
        "last_name",
        "middle_name",
        "salutation",
        "email_1",
        "email_1_label",
        "email_2",
        "email_2_label",
        "phone_1",  # at least one of each list: the file is a template for import too
        "phone_1_label",
        *(f"address_1_{sub}" for sub in address),
        "preferred_contact_method",
        "timezone",
        "language",
        "job_title",
        "department",
        "notes",
        "type",
        "status",
        "birthday",
        "owner_id",
        "tags",
        *(f"custom.{c['key']}" for c in CUSTOM),
        "organization",
        "organization_role",
    ]


async def test_archived_and_hidden_fields_have_no_column(runtime: Runtime) -> None:
    await _define(runtime)
    definition = (await runtime.custom_fields.ensure())["individual"]["tier"]
    await runtime.custom_fields.set_archived(definition.id, True)
    viewer = Access(
        actor=Actor(id="v", name="viewer", role="viewer"),
        role=BUILTIN_ROLES["viewer"],
        rules={
            "individual": {
                name: FieldRule(entity="individual", field=name, read_roles=["manager"])
                for name in ("job_title", "emails", "custom.budget", "organizations")
            }
        },
    )
    entity = runtime.plugins.entity("individual")
    header = (await column_model(runtime, entity, viewer)).header
    for gone in ("job_title", "email_1", "email_1_label", "custom.budget", "custom.tier"):
        assert gone not in header
    assert "organization" not in header and "organization_role" not in header
    assert {"department", "phone_1", "custom.score"} <= set(header)
    assert "custom.tier" not in (await column_model(runtime, entity)).header


# -- round trips ---------------------------------------------------------------------------


async def test_from_row_of_to_row_is_the_record(runtime: Runtime) -> None:
    kari = await _kari(runtime)
    entity = runtime.plugins.entity("individual")
    model = await column_model(runtime, entity, sizes={"emails": 4, "phones": 2, "addresses": 2})
    [row] = await model.to_rows([kari])
    assert len(row) == len(model.header)
    cells = dict(zip(model.header, row, strict=True))
    assert cells["email_1"] == "kari@acme.example" and cells["email_3_label"] == ""
    assert cells["email_4"] == "" and cells["phone_2_label"] == "work"
    assert cells["address_2_street"] == "Bakken 2, leil. 4"
    assert cells["tags"] == "vip;a\\;b;back\\\\slash"
    assert cells["custom.interests"] == "golf;wine\\;beer"
    assert cells["custom.revenue"] == "99.5 NOK"
    assert cells["custom.vip_flag"] == "true" and cells["custom.budget"] == "1234.5"
    assert cells["organization"] == "Acme AS" and cells["organization_role"] == "CTO"
    assert cells["birthday"] == "1980-05-17" and cells["id"] == str(kari["id"])

    parsed = model.from_row(model.header, row)
    assert parsed.errors == []
    assert parsed.id == kari["id"]
    assert parsed.extra == {"organization": {"name": "Acme AS", "role": "CTO"}}
    stored = {name: kari[name] for name in entity.writable}
    assert _body(entity, parsed.values) == _body(entity, stored)
    assert parsed.values["custom"] == kari["custom"]  # exactly as stored


async def test_the_primary_goes_first(runtime: Runtime) -> None:
    entity = runtime.plugins.entity("individual")
    person = await runtime.records("individual").create(
        {
            "first_name": "Ola",
            "last_name": "Berg",
            "emails": [{"address": "b@x.example"}, {"address": "a@x.example", "primary": True}],
        },
        actor=SYSTEM,
        data=SKIP,
    )
    model = await column_model(runtime, entity, sizes={"emails": 2})
    [row] = await model.to_rows([person])
    parsed = model.from_row(model.header, row)
    assert parsed.values["emails"] == [
        {"address": "a@x.example", "primary": True},
        {"address": "b@x.example", "primary": False},
    ]


async def test_an_exported_file_imports_back_as_the_same_records(runtime: Runtime) -> None:
    await _kari(runtime)
    people = runtime.records("individual")
    await people.create({"first_name": "Ola", "last_name": "Berg"}, actor=SYSTEM, data=SKIP)
    before = await export_csv(runtime, "individual")
    header, rows = _rows(before)
    assert len(rows) == 2
    for row in rows:
        await people.delete(uuid.UUID(row[0]), actor=SYSTEM, hard=True)

    created = await import_csv(runtime, "individual", before)

    after_header, after_rows = _rows(await export_csv(runtime, "individual"))
    assert after_header == header
    assert sorted(r[1:] for r in after_rows) == sorted(r[1:] for r in rows)
    assert {str(r["id"]) for r in created} == {r[0] for r in after_rows}


async def test_organizations_and_vehicles_round_trip(runtime: Runtime) -> None:
    await runtime.custom_fields.create(
        {"entity": "vehicle", "key": "extras", "type": "multi_select", "options": ["a", "b"]}
    )
    await runtime.records("organization").create(
        {
            "name": "Acme AS",
            "legal_name": "Acme Holding AS",
            "website": "https://acme.example",
            "emails": [{"address": "post@acme.example"}, {"address": "sales@acme.example"}],
            "addresses": [{"type": "postal", "city": "Oslo", "country": "NO"}],
            "tags": ["partner"],
        },
        actor=SYSTEM,
    )
    await runtime.records("vehicle").create(
        {
            "make": "Tesla",
            "model": "Model 3",
            "year": 2021,
            "vin": "5YJ3E1EA7KF000001",
            "price": Decimal("31999.90"),
            "electric": True,
            "registered_on": dt.date(2021, 6, 1),
            "status": "sold",
            "features": ["heat pump", "tow;bar"],
            "custom": {"extras": ["b"]},
        },
        actor=SYSTEM,
    )
    await runtime.records("vehicle").create({"make": "Volvo"}, actor=SYSTEM)
    for entity in ("organization", "vehicle"):
        text = await export_csv(runtime, entity)
        header, rows = _rows(text)
        for row in rows:
            await runtime.records(entity).delete(uuid.UUID(row[0]), actor=SYSTEM, hard=True)
        await import_csv(runtime, entity, text)
        again_header, again = _rows(await export_csv(runtime, entity))
        assert again_header == header
        assert sorted(r[1:] for r in again) == sorted(r[1:] for r in rows)
    _, vehicles = _rows(await export_csv(runtime, "vehicle"))
    tesla = next(r for r in vehicles if r[1] == "Tesla")
    assert "31999.90" in tesla and "true" in tesla and "heat pump;tow\\;bar" in tesla


async def test_import_matches_or_creates_the_organisation(runtime: Runtime) -> None:
    acme = await runtime.records("organization").create({"name": "Acme AS"}, actor=SYSTEM)
    text = (
        "first_name,last_name,organization,organization_role\r\n"
        "Kari,Nordmann,acme as,CEO\r\n"
        "Ola,Berg,Newco,\r\n"
    )
    kari, ola = await import_csv(runtime, "individual", text)
    people = runtime.records("individual")
    [link] = (await people.get(kari["id"]))["organizations"]
    assert (link["organization_id"], link["role"], link["primary"]) == (acme["id"], "CEO", True)
    [link] = (await people.get(ola["id"]))["organizations"]
    assert (link["name"], link["role"], link["primary"]) == ("Newco", None, True)


# -- reading rows --------------------------------------------------------------------------


async def test_from_row_names_every_problem_by_column(runtime: Runtime) -> None:
    await _define(runtime)
    model = await column_model(runtime, runtime.plugins.entity("individual"))
    header = [
        "ID", " First_Name ", "last_name", "birthday", "status", "email_2_label", "email_3",
        "custom.vip_flag", "custom.interests", "custom.revenue", "custom.score",
        "organization_role", "nonsense", "custom.nope", "tags",
    ]  # fmt: skip
    row = [
        "not-a-uuid", "", "Berg", "17.05.1980", "gone", "work", "x@y.example",
        "maybe", "golf;tennis", "12", "1.5", "CEO", "?", "?", "",
    ]  # fmt: skip
    parsed = model.from_row(header, row)
    problems = {e.field: e.message for e in parsed.errors}
    assert set(problems) == {
        "id",
        "first_name",
        "birthday",
        "status",
        "email_2",
        "custom.vip_flag",
        "custom.interests",
        "custom.revenue",
        "custom.score",
        "organization",
    }
    assert problems["first_name"] == "required"
    assert problems["birthday"] == "expected a date (YYYY-MM-DD)"
    assert problems["status"] == "must be one of: active, inactive"
    assert problems["email_2"] == "required when email_2_label is set"
    assert problems["custom.vip_flag"] == "expected true or false"
    assert model.unknown(header) == ["nonsense", "custom.nope"]
    assert parsed.values["emails"] == [{"address": "x@y.example", "primary": True}]
    assert parsed.values["tags"] == []


async def test_absent_columns_are_left_out_and_empty_cells_are_defaults(runtime: Runtime) -> None:
    await _define(runtime)
    model = await column_model(runtime, runtime.plugins.entity("individual"))
    header = ["\ufeffid", "first_name", "last_name", "job_title", "status", "custom.score"]
    parsed = model.from_row(header, ["", "Kari", "Berg", "", ""])  # a short row
    assert parsed.errors == [] and parsed.id is None and parsed.extra == {}
    # job_title may be null: an empty cell clears it; status has a default: left out;
    # no custom column has a value, so ``custom`` is empty; emails are not in the file
    assert parsed.values == {
        "first_name": "Kari",
        "last_name": "Berg",
        "job_title": None,
        "custom": {},
    }
    assert "custom" not in model.from_row(["first_name"], ["Kari"]).values
