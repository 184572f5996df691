"""The import service: CSV, JSON Lines and vCard files into records, as recorded and
revertible jobs, on both engines.

Files from Google Contacts, Outlook and Apple Contacts are in ``data/`` (written for
these tests in the vendors' formats, with Norwegian and accented names).
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from crmkit.core import SYSTEM, Access, BadRequest, Conflict, Runtime, sql
from crmkit.core.migrate import Migrator
from crmkit.core.query.params import ListParams
from crmkit.core.transfer.export import prepare
from crmkit.core.transfer.imports import Importer, ImportOptions
from crmkit.core.transfer.jobs import ImportReport, get_job, job_items, list_jobs
from crmkit.core.transfer.revert import revert_import

from tests.conftest import _drop_schema, _pg_schema, make_settings
from tests.plugins.individuals.helpers import WRITABLE

DATA = Path(__file__).parent / "data"
SKIP = {"skip_duplicate_check": True}
#: What an individual is, for comparisons (ids, versions and times aside).
FIELDS = WRITABLE


async def run(
    runtime: Runtime,
    data: bytes | str,
    *,
    entity: str = "individual",
    access: Access | None = None,
    **options: Any,
) -> ImportReport:
    if isinstance(data, str):
        data = data.encode()
    importer = Importer(
        runtime, runtime.plugins.entity(entity), access, ImportOptions(**options), actor=SYSTEM
    )
    return await importer.run(io.BytesIO(data))


async def people(runtime: Runtime, **kw: Any) -> dict[str, dict[str, Any]]:
    """Live individuals by ``first last``."""
    page = await runtime.records("individual").list(ListParams(limit=500, **kw))
    return {f"{p['first_name']} {p['last_name']}": p for p in page.data}


def same(record: dict[str, Any]) -> dict[str, Any]:
    return msgspec.to_builtins({k: record.get(k) for k in FIELDS})


def errors(report: ImportReport) -> list[tuple[int, str]]:
    return [(e.row, e.field) for e in report.errors]


async def activity(runtime: Runtime, record_id: Any) -> list[dict[str, Any]]:
    rows = await runtime.db.fetch(
        sql(
            "SELECT a.source, a.data FROM activity a JOIN activity_record r "
            "ON r.activity_id = a.id WHERE r.record_id = {} ORDER BY a.created_at",
            record_id,
        )
    )
    return [
        {"source": r["source"], **msgspec.json.decode(r["data"])}
        if isinstance(r["data"], str)
        else {"source": r["source"], **r["data"]}
        for r in rows
    ]


async def count(runtime: Runtime, table: str) -> int:
    return await runtime.db.fetchval(f"SELECT COUNT(*) AS n FROM {table}")


async def create(runtime: Runtime, **values: Any) -> dict[str, Any]:
    entity = runtime.plugins.entity("individual")
    body = msgspec.structs.asdict(msgspec.convert(values, entity.create_type))
    return await runtime.records("individual").create(body, actor=SYSTEM, data=SKIP)


# -- CSV -----------------------------------------------------------------------------------

CSV = (
    "\ufefffirst_name;last_name;email_1;email_2;birthday;tags;Favourite colour\r\n"
    "Åse;Ødegård;ase@fjord.no;ase@home.no;1978-03-14;vip;blå\r\n"
    "Bjørn;Næss;bjorn@naess.no;not-an-email;;;grønn\r\n"
    ";;kari@x.no;;17.05.1980;;\r\n"
    ";;;;;;\r\n"
    '"José";"García Pérez";jose@ucm.es;;;"a;b";rød\r\n'
)


async def test_csv_rows_with_errors_are_left_out_and_every_problem_is_listed(
    runtime: Runtime,
) -> None:
    report = await run(runtime, CSV, format="csv")
    assert (report.rows, report.created, report.failed) == (4, 2, 2)
    # Rows are numbered from 1 after the header; the blank row keeps its number.
    assert errors(report) == [
        (2, "email_2"),
        (3, "first_name"),
        (3, "last_name"),
        (3, "birthday"),
    ]
    assert report.error_count == 4
    assert report.unknown_columns == ["Favourite colour"]  # once, not per row
    found = await people(runtime)
    assert set(found) == {"Åse Ødegård", "José García Pérez"}
    ase = found["Åse Ødegård"]
    assert [e["address"] for e in ase["emails"]] == ["ase@fjord.no", "ase@home.no"]
    assert str(ase["birthday"]) == "1978-03-14" and ase["tags"] == ["vip"]
    assert found["José García Pérez"]["tags"] == ["a", "b"]
    job = await get_job(runtime, None, report.id)
    assert (job.status, job.created, job.failed, job.error_count) == ("completed", 2, 2, 4)
    assert [(e.row, e.field) for e in job.errors] == errors(report)
    assert job.unknown_columns == ["Favourite colour"]


async def test_bad_files_and_options_are_refused_before_anything_is_written(
    runtime: Runtime,
) -> None:
    cases = [
        (b"", {"format": "csv"}, "body"),
        ("first_name,last_name\nÅse,Ødegård\n".encode("cp1252"), {"format": "csv"}, "encoding"),
        (b"first_name\nx\n", {"format": "csv", "mapping": {"first_name": "nope"}}, "mapping.first_name"),
        (b"first_name\nx\n", {"format": "csv", "preset": "apple"}, "preset"),
        (b"first_name\nx\n", {"format": "xlsx"}, "format"),
        (b"first_name\nx\n", {"format": "csv", "on_duplicate": "merge"}, "on_duplicate"),
        (b"first_name\nx\n", {"format": "csv", "encoding": "klingon"}, "encoding"),
        (b"hello\n", {"format": "vcf"}, "body"),
        (b'{"name": "x"}\n', {"format": "jsonl", "mapping": {"a": "custom.nope"}}, "mapping.a"),
    ]  # fmt: skip
    for data, options, field in cases:
        with pytest.raises(BadRequest) as caught:
            await run(runtime, data, **options)
        assert field in [e.field for e in caught.value.errors], (options, caught.value.errors)
    with pytest.raises(BadRequest):  # organisations have no vCard reader
        await run(
            runtime, (DATA / "contacts_v4.vcf").read_bytes(), entity="organization", format="vcf"
        )
    assert await count(runtime, "individual") == 0
    assert (await list_jobs(runtime, None)).data == []


async def test_another_encoding_when_told(runtime: Runtime) -> None:
    data = "first_name,last_name\nÅse,Ødegård\n".encode("cp1252")
    report = await run(runtime, data, format="csv", encoding="cp1252")
    assert report.created == 1 and "Åse Ødegård" in await people(runtime)


async def test_mapping_to_custom_fields(runtime: Runtime) -> None:
    await runtime.custom_fields.create({"entity": "individual", "key": "budget", "type": "number"})
    await runtime.custom_fields.create(
        {"entity": "individual", "key": "segment", "type": "select", "options": ["smb", "ent"]}
    )
    data = (
        "Fornavn;Etternavn;Budsjett (NOK);Segment;Farge\n"
        "Ingrid;Østby;125000.50;ent;blå\n"
        "Håkon;Brække;mye;gigant;grønn\n"
    )
    mapping = {
        "Fornavn": "first_name",
        "etternavn": "last_name",  # source names match case-insensitively
        "Budsjett (NOK)": "custom.budget",
        "Segment": "custom.segment",
        "Farge": None,  # ignored, and not reported
    }
    report = await run(runtime, data, format="csv", mapping=mapping)
    assert report.created == 1 and report.unknown_columns == []
    assert errors(report) == [(2, "custom.budget"), (2, "custom.segment")]
    ingrid = (await people(runtime))["Ingrid Østby"]
    assert ingrid["custom"] == {"budget": 125000.5, "segment": "ent"}


# -- JSON Lines ------------------------------------------------------------------------------


async def test_jsonl_lines_as_records(runtime: Runtime) -> None:
    await runtime.custom_fields.create({"entity": "individual", "key": "budget", "type": "number"})
    exported = {  # a line as export writes it: read-only keys are skipped
        "id": str(uuid.uuid4()),
        "version": 3,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-02T00:00:00Z",
        "deleted_at": None,
        "created_by": "api_key:x",
        "updated_by": "api_key:x",
        "merged_into": None,
        "organizations": [],
        "first_name": "Åse",
        "last_name": "Ødegård",
        "emails": [{"address": "ase@fjord.no", "label": "work", "primary": True}],
        "tags": ["vip"],
        "custom": {"budget": 10},
        "shoe": 38,
    }
    lines = [
        msgspec.json.encode(exported).decode(),
        "",
        '{"givenName": "Bjørn", "last_name": "Næss", "budget": 12, "shoe": 44}',
        '{"first_name": "broken"',
        "[1, 2]",
        '{"givenName": "Zoë", "last_name": "Ærø", "emails": [{"address": 5}], "status": "gone"}',
    ]
    mapping = {"givenName": "first_name", "budget": "custom.budget"}
    report = await run(runtime, "\n".join(lines) + "\n", format="jsonl", mapping=mapping)
    assert (report.rows, report.created, report.failed) == (5, 2, 3)
    # Row numbers are line numbers; every problem of a row is listed.
    assert errors(report) == [(4, "row"), (5, "row"), (6, "emails[0].address"), (6, "status")]
    assert report.unknown_columns == ["shoe"]
    found = await people(runtime)
    assert found["Bjørn Næss"]["custom"] == {"budget": 12}
    ase = found["Åse Ødegård"]
    assert ase["id"] == uuid.UUID(exported["id"])  # the id was free: the record keeps it
    assert ase["version"] == 1 and ase["tags"] == ["vip"] and ase["custom"] == {"budget": 10}


# -- vCard -----------------------------------------------------------------------------------


async def test_apple_vcards_with_labels_groups_and_a_mapping(runtime: Runtime) -> None:
    await runtime.custom_fields.create({"entity": "individual", "key": "nickname", "type": "text"})
    data = (DATA / "apple_contacts.vcf").read_bytes()
    report = await run(
        runtime, data, format="vcf", preset="apple", mapping={"NICKNAME": "custom.nickname"}
    )
    assert (report.rows, report.created, report.failed) == (3, 2, 1)
    assert errors(report) == [(3, "card")]  # the company's card (X-ABShowAs:COMPANY)
    assert report.unknown_columns == ["X-SOCIALPROFILE"]
    found = await people(runtime)
    ase = found["Åse Ødegård"]
    assert [(e["address"], e["label"], e["primary"]) for e in ase["emails"]] == [
        ("ase.odegard@fjordkraft.no", "work", True),
        ("ase@online.no", "home", False),
    ]
    assert [(p["number"], p["label"]) for p in ase["phones"]] == [
        ("+4791234567", "cell"),
        ("+4722334455", "sentralbord"),
    ]
    [address] = ase["addresses"]
    assert (address["street"], address["street2"], address["country"]) == (
        "Karl Johans gate 1",
        "3. etasje",
        "NO",  # "Norge" in the card, "no" in X-ABADR
    )
    assert ase["notes"] == "Møtte på Nor-Shipping.\nLiker kaffe uten melk."
    assert ase["custom"] == {"nickname": "Åsa"}
    assert [o["name"] for o in ase["organizations"]] == ["Fjordkraft AS"]
    assert ase["department"] == "Innkjøp" and ase["job_title"] == "Innkjøpssjef"
    assert found["Håkon Brække"]["salutation"] == "Herr"


async def test_vcard_4_files_with_many_cards(runtime: Runtime) -> None:
    report = await run(runtime, (DATA / "contacts_v4.vcf").read_bytes(), format="vcf")
    assert (report.rows, report.created, report.failed) == (3, 2, 1)
    assert errors(report) == [(3, "emails[0].address")]
    zoe = (await people(runtime))["Zoë Ærø-Lindqvist"]
    assert [p["number"] for p in zoe["phones"]] == ["+4755555555", "+46701234567"]
    assert zoe["tags"] == ["Leverandører", "Vestland"] and str(zoe["birthday"]) == "1990-07-04"
    assert zoe["addresses"][0]["city"] == "Bergen"
    assert [o["name"] for o in zoe["organizations"]] == ["Ærø Båtservice"]  # ORG by default


# -- Google Contacts and Outlook ---------------------------------------------------------------


async def test_google_contacts_with_the_preset(runtime: Runtime) -> None:
    report = await run(runtime, (DATA / "google_contacts.csv").read_bytes(), preset="google")
    assert (report.rows, report.created, report.failed) == (5, 4, 1)
    assert errors(report) == [(4, "last_name")]  # Kari has no last name
    assert report.unknown_columns == []
    found = await people(runtime)
    ase = found["Åse Ødegård"]
    assert [(e["address"], e["label"]) for e in ase["emails"]] == [
        ("ase.odegard@fjordkraft.no", "work"),  # "* Work": Google's preferred one
        ("ase@online.no", "home"),
    ]
    assert [(p["number"], p["label"]) for p in ase["phones"]] == [
        ("+4791234567", "mobile"),
        ("+4722334455", "work"),
    ]
    assert ase["tags"] == ["Kunder", "Vestland"]  # "* myContacts" is Google's own
    [address] = ase["addresses"]
    assert (address["type"], address["street2"], address["postal_code"]) == (
        "work",
        "3. etasje",
        "0154",
    )
    assert (ase["middle_name"], ase["job_title"], ase["department"]) == (
        "Marie",
        "Innkjøpssjef",
        "Innkjøp",
    )
    assert [o["name"] for o in ase["organizations"]] == ["Fjordkraft AS"]
    bjorn = found["Bjørn Næss"]
    assert [e["address"] for e in bjorn["emails"]] == ["bjorn.naess@gmail.com", "bjorn@naess.no"]
    assert bjorn["birthday"] is None and bjorn["tags"] == []  # "--05-17" has no year
    assert found["José García Pérez"]["salutation"] == "Dr."


async def test_google_contacts_with_a_plain_mapping(runtime: Runtime) -> None:
    mapping = {
        "First Name": "first_name",
        "Last Name": "last_name",
        "E-mail 1 - Value": "email_1",
        "Phone 1 - Value": "phone_1",
        "Organization Name": "organization",
        "Organization Title": "job_title",
        "Notes": "notes",
        "Address 1 - Street": "address_1_street",
        "Address 1 - City": "address_1_city",
        "Address 1 - Postal Code": "address_1_postal_code",
        "Address 1 - Country": "address_1_country",
        "Birthday": None,  # would match ``birthday`` as it is (Google's "--05-17" is no date)
    }
    report = await run(runtime, (DATA / "google_contacts.csv").read_bytes(), mapping=mapping)
    # Without the preset, Google's "a ::: b" cell is one (bad) address.
    assert errors(report) == [(2, "email_1"), (4, "last_name")]
    assert "Labels" in report.unknown_columns and "E-mail 1 - Label" in report.unknown_columns
    ase = (await people(runtime))["Åse Ødegård"]
    assert ase["emails"][0]["address"] == "ase.odegard@fjordkraft.no"
    assert ase["addresses"][0]["city"] == "Oslo" and ase["job_title"] == "Innkjøpssjef"
    assert [o["name"] for o in ase["organizations"]] == ["Fjordkraft AS"]


async def test_outlook_contacts_with_the_preset(runtime: Runtime) -> None:
    report = await run(runtime, (DATA / "outlook_contacts.csv").read_bytes(), preset="outlook")
    assert (report.rows, report.created) == (3, 2)
    assert errors(report) == [(3, "birthday")]  # 2/30/1990
    assert report.unknown_columns == []
    found = await people(runtime)
    ingrid = found["Ingrid Østby"]
    assert [(p["number"], p["label"]) for p in ingrid["phones"]] == [
        ("+4793011222", "mobile"),
        ("+4773595000", "work"),
    ]
    assert [e["address"] for e in ingrid["emails"]] == [
        "ingrid.ostby@nordlys.no",
        "ingrid@ostby.net",
    ]
    assert str(ingrid["birthday"]) == "1985-06-21" and ingrid["tags"] == ["Kunder", "Midt-Norge"]
    assert ingrid["addresses"][0]["street2"] == "Postboks 123"
    assert [o["name"] for o in ingrid["organizations"]] == ["Nordlys Energi ASA"]
    hakon = found["Håkon Brække"]
    assert (hakon["salutation"], hakon["birthday"]) == ("Herr", None)  # "0/0/00": none
    assert hakon["addresses"][0]["type"] == "home"


# -- atomic, dry run ---------------------------------------------------------------------------


async def test_atomic_writes_nothing_when_a_row_fails(runtime: Runtime) -> None:
    data = "first_name,last_name,email_1\nÅse,Ødegård,ase@x.no\nBjørn,,b@x.no\nZoë,Ærø,z@x.no\n"
    report = await run(runtime, data, format="csv", atomic=True, chunk_size=1)
    assert (report.status, report.created, report.failed) == ("rolled_back", 0, 1)
    assert errors(report) == [(2, "last_name")]
    assert await count(runtime, "individual") == 0
    assert await count(runtime, "crmkit_import_item") == 0
    job = await get_job(runtime, None, report.id)
    assert (job.status, job.created, job.error_count) == ("rolled_back", 0, 1)
    with pytest.raises(Conflict):  # nothing to revert
        await revert_import(runtime, None, report.id, actor=SYSTEM)
    fixed = data.replace("Bjørn,,", "Bjørn,Næss,")
    report = await run(runtime, fixed, format="csv", atomic=True)
    assert (report.status, report.created) == ("completed", 3)


async def test_a_dry_run_writes_nothing_and_counts_as_a_real_run(runtime: Runtime) -> None:
    await create(
        runtime, first_name="Kari", last_name="Nordmann", emails=[{"address": "kari@x.no"}]
    )
    data = (
        "first_name,last_name,email_1\n"
        "Kari,Nordmann,kari@x.no\n"  # a duplicate of a record
        "Åse,Ødegård,ase@x.no\n"
        "Åse,Ødegård,ase@x.no\n"  # a duplicate of the row before
        "Bjørn,,b@x.no\n"
    )
    before = [await count(runtime, t) for t in ("individual", "activity", "crmkit_import")]
    dry = await run(runtime, data, format="csv", dry_run=True, chunk_size=2)
    assert (dry.id, dry.status) == (None, "dry_run")
    assert [await count(runtime, t) for t in ("individual", "activity", "crmkit_import")] == before
    real = await run(runtime, data, format="csv")
    counts = ("rows", "created", "updated", "skipped", "failed", "error_count")
    assert (
        [getattr(dry, c) for c in counts]
        == [getattr(real, c) for c in counts]
        == [4, 1, 0, 2, 1, 1]
    )
    assert dry.errors == real.errors


# -- duplicates ----------------------------------------------------------------------------------


async def test_on_duplicate_skip_update_create(runtime: Runtime) -> None:
    for key, kind in (("budget", "number"), ("tier", "text")):
        await runtime.custom_fields.create({"entity": "individual", "key": key, "type": kind})
    kari = await create(
        runtime,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@x.no"}],
        job_title="Rådgiver",
        notes="Kjent kunde",
        tags=["gammel"],
        custom={"budget": 10},
    )
    data = "first_name,last_name,email_1,job_title,notes,custom.budget,custom.tier\nKari,Nordmann,KARI@x.no,Direktør,,,gull\n"
    skipped = await run(runtime, data, format="csv", on_duplicate="skip")
    assert (skipped.created, skipped.updated, skipped.skipped) == (0, 0, 1)
    assert (await people(runtime))["Kari Nordmann"]["job_title"] == "Rådgiver"

    updated = await run(runtime, data, format="csv", on_duplicate="update")
    assert (updated.created, updated.updated, updated.skipped) == (0, 1, 0)
    now = (await people(runtime))["Kari Nordmann"]
    assert now["id"] == kari["id"] and now["job_title"] == "Direktør"
    assert now["notes"] == "Kjent kunde"  # a blank cell keeps the value
    assert now["custom"] == {"budget": 10, "tier": "gull"}  # custom merged key by key
    [item] = await job_items(runtime, updated.id)
    assert (item["action"], item["before"]["job_title"]) == ("updated", "Rådgiver")

    again = await run(runtime, data, format="csv", on_duplicate="update")
    assert (again.updated, again.skipped) == (0, 1)  # nothing left to change

    created = await run(runtime, data, format="csv", on_duplicate="create")
    assert created.created == 1
    assert len((await runtime.records("individual").list(ListParams())).data) == 2


async def test_an_id_column_finds_the_record(runtime: Runtime) -> None:
    kari = await create(runtime, first_name="Kari", last_name="Nordmann", job_title="Rådgiver")
    text = await export_csv(runtime)
    edited = text.replace("Rådgiver", "Direktør")
    report = await run(runtime, edited, format="csv", on_duplicate="update")
    assert (report.updated, report.created) == (1, 0)
    assert (await runtime.records("individual").get(kari["id"]))["job_title"] == "Direktør"
    report = await run(runtime, edited, format="csv", on_duplicate="create")
    assert report.created == 1  # the id is taken: the new record gets its own
    assert len((await runtime.records("individual").list(ListParams())).data) == 2


# -- jobs and revert ---------------------------------------------------------------------------


async def test_revert_restores_exactly(runtime: Runtime) -> None:
    await runtime.custom_fields.create({"entity": "individual", "key": "budget", "type": "number"})
    kari = await create(
        runtime,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@x.no", "label": "work"}, {"address": "kari@home.no"}],
        phones=[{"number": "+47 912 34 567"}],
        addresses=[{"type": "home", "street": "Storgata 1", "city": "Oslo", "country": "NO"}],
        job_title="Rådgiver",
        birthday="1980-05-17",
        tags=["a", "b"],
        custom={"budget": 10},
    )
    other = await create(
        runtime, first_name="Ola", last_name="Hansen", emails=[{"address": "ola@x.no"}]
    )
    snapshot = {r["id"]: same(r) for r in (await people(runtime)).values()}
    data = (
        "first_name,last_name,email_1,phone_1,job_title,tags,custom.budget\n"
        "Kari,Nordmann,kari@x.no,+47 987 65 432,Direktør,c,99\n"
        "Åse,Ødegård,ase@x.no,,,,\n"
        "Bjørn,Næss,bjorn@x.no,,,,\n"
    )
    report = await run(runtime, data, format="csv", on_duplicate="update")
    assert (report.created, report.updated) == (2, 1)
    items = await job_items(runtime, report.id)
    assert sorted(i["action"] for i in items) == ["created", "created", "updated"]
    new_ids = [i["record_id"] for i in items if i["action"] == "created"]
    for record_id in new_ids:  # the activity entry names the job and the row
        [entry] = await activity(runtime, record_id)
        assert entry["source"] == "import" and entry["details"]["import_id"] == str(report.id)

    result = await revert_import(runtime, None, report.id, actor=SYSTEM)
    assert (result.status, result.deleted, result.restored, result.skipped) == ("reverted", 2, 1, 0)
    now = await people(runtime)
    assert {r["id"]: same(r) for r in now.values()} == snapshot
    assert set(now) == {"Kari Nordmann", "Ola Hansen"}
    for record_id in new_ids:  # deleted softly
        gone = await runtime.records("individual").get(record_id, include_deleted=True)
        assert gone["deleted_at"] is not None
        assert [e["action"] for e in await activity(runtime, record_id)] == ["create", "delete"]
    entries = await activity(runtime, kari["id"])
    assert [(e["action"], e["source"]) for e in entries] == [
        ("create", "api"),
        ("update", "import"),
        ("update", "import"),
    ]
    assert entries[-1]["details"]["revert"] is True
    assert (await runtime.records("individual").get(other["id"]))["version"] == 1
    job = await get_job(runtime, None, report.id)
    assert job.status == "reverted" and job.reverted_by == SYSTEM.label
    with pytest.raises(Conflict):
        await revert_import(runtime, None, report.id, actor=SYSTEM)


async def test_revert_refuses_records_changed_since_unless_forced(runtime: Runtime) -> None:
    report = await run(runtime, "first_name,last_name\nÅse,Ødegård\nBjørn,Næss\n", format="csv")
    ase = (await people(runtime))["Åse Ødegård"]
    await runtime.records("individual").update(ase["id"], {"job_title": "Sjef"}, actor=SYSTEM)
    with pytest.raises(Conflict) as caught:
        await revert_import(runtime, None, report.id, actor=SYSTEM)
    assert caught.value.extra["changed_count"] == 1
    assert caught.value.extra["changed"][0]["id"] == str(ase["id"])
    assert len(await people(runtime)) == 2  # nothing was done
    result = await revert_import(runtime, None, report.id, actor=SYSTEM, force=True)
    assert (result.deleted, result.skipped) == (2, 0)
    assert await people(runtime) == {}


async def test_jobs_are_listed_newest_first_and_paged(runtime: Runtime) -> None:
    ids = []
    for name in ("Åse", "Bjørn", "Zoë"):
        report = await run(runtime, f"first_name,last_name\n{name},Test\n", format="csv")
        ids.append(report.id)
    await run(runtime, '{"name": 1}\n', entity="vehicle", format="jsonl")
    first = await list_jobs(runtime, None, entity="individual", limit=2)
    assert [j.id for j in first.data] == [ids[2], ids[1]] and first.next_cursor
    rest = await list_jobs(runtime, None, entity="individual", limit=2, cursor=first.next_cursor)
    assert [j.id for j in rest.data] == [ids[0]] and rest.next_cursor is None
    assert len((await list_jobs(runtime, None, status="completed")).data) == 4
    with pytest.raises(BadRequest):
        await list_jobs(runtime, None, status="sleeping")


async def test_chunks_the_fast_path_and_the_job_counts(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crmkit.core.transfer.imports.ANALYZE_AT", 2)
    lines = ["first_name,last_name,email_1,tags"]
    lines += [f"Person{i},Ødegård,p{i}@x{i}.no,batch;t{i % 2}" for i in range(7)]
    lines.insert(4, "Bad,Row,not-an-email,")
    report = await run(runtime, "\n".join(lines), format="csv", on_duplicate="create", chunk_size=3)
    assert (report.rows, report.created, report.failed) == (8, 7, 1)
    assert errors(report) == [(4, "email_1")]
    job = await get_job(runtime, None, report.id)
    assert (job.rows, job.created, job.failed) == (8, 7, 1)
    items = await job_items(runtime, report.id)
    assert sorted(i["row"] for i in items) == [1, 2, 3, 5, 6, 7, 8]
    tagged = await runtime.records("individual").list(
        ListParams(limit=50, conditions=_tag_filter(runtime, "t1"))
    )
    assert len(tagged.data) == 3  # the tag index is written with the batch
    for item in items:
        [entry] = await activity(runtime, item["record_id"])
        assert entry["details"] == {
            "import_id": str(report.id),
            "row": item["row"],
            "skip_duplicate_check": True,
        }
    by_email = await runtime.records("individual").list(
        ListParams(conditions=_filter(runtime, "email", "p3@x3.no"))
    )
    assert len(by_email.data) == 1  # the plugins' record_changed hooks ran per record
    if runtime.db.kind == "postgres":  # statistics refreshed at 3 rows written, then at 7
        tuples = await runtime.db.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = 'individual'::regclass"
        )
        assert tuples == 7


async def test_errors_are_capped_but_counted(runtime: Runtime) -> None:
    data = "first_name,last_name\n" + "x,\n" * 1205
    report = await run(runtime, data, format="csv", chunk_size=1000)
    assert (report.failed, report.error_count, len(report.errors)) == (1205, 1205, 1000)
    job = await get_job(runtime, None, report.id)
    assert (job.error_count, len(job.errors)) == (1205, 1000)


# -- round trip ----------------------------------------------------------------------------------


async def export_csv(runtime: Runtime) -> str:
    job = await prepare(runtime, runtime.plugins.entity("individual"), None, [], format="csv")
    return b"".join([c async for c in job.chunks()]).decode("utf-8-sig")


async def test_an_exported_csv_imports_into_a_fresh_database_unchanged(
    runtime: Runtime, tmp_path: Path
) -> None:
    custom = [
        {"entity": "individual", "key": "budget", "type": "number"},
        {"entity": "individual", "key": "since", "type": "date"},
        {"entity": "individual", "key": "interests", "type": "multi_select", "options": ["ski", "vin;øl"]},
    ]  # fmt: skip
    for body in custom:
        await runtime.custom_fields.create(body)
    await run(runtime, (DATA / "google_contacts.csv").read_bytes(), preset="google")
    await create(
        runtime,
        first_name="Kari",
        last_name="Nordmann",
        emails=[{"address": "kari@x.no"}],
        notes='linje én\r\nlinje "to"; med semikolon',
        tags=["a;b", "c"],
        custom={"budget": 1234.5, "since": "2020-02-29", "interests": ["ski", "vin;øl"]},
    )
    original = {f"{p['first_name']} {p['last_name']}": p for p in (await people(runtime)).values()}
    text = await export_csv(runtime)

    if runtime.db.kind == "sqlite":
        url, schema = f"sqlite:///{tmp_path}/fresh.db", None
    else:
        schema = await _pg_schema()
        url = f"{runtime.db.url.split('?')[0]}?search_path={schema}"
    fresh = Runtime.create(make_settings(url))
    await fresh.start()
    try:
        await Migrator(fresh).forwards()
        for body in custom:
            await fresh.custom_fields.create(body)
        report = await run(fresh, text, format="csv")
        assert (report.created, report.failed, report.unknown_columns) == (len(original), 0, [])
        copied = await people(fresh)
        assert {k: same(v) for k, v in copied.items()} == {k: same(v) for k, v in original.items()}
        for name, record in copied.items():
            assert record["id"] == original[name]["id"]  # the ids were free: kept
            assert [o["name"] for o in record["organizations"]] == [
                o["name"] for o in original[name]["organizations"]
            ]
    finally:
        await fresh.stop()
        if schema:
            await _drop_schema(schema)


# -- helpers for list filters ----------------------------------------------------------------------


def _tag_filter(runtime: Runtime, tag: str) -> list[Any]:
    return _filter(runtime, "tag", tag)


def _filter(runtime: Runtime, name: str, value: str) -> list[Any]:
    from crmkit.core.query.params import parse_list_params

    return parse_list_params([(name, value)]).conditions


def test_presets_know_their_columns() -> None:
    from crmkit.core.transfer.presets import PRESETS

    google, outlook = PRESETS["google"], PRESETS["outlook"]
    assert google.claims("E-mail 3 - Value") == "email_1"
    assert google.claims("Photo") == "" and google.claims("Shoe size") is None
    assert outlook.claims("Mobile Phone") == "phone_1"
    assert outlook.claims("Business Address PO Box") == "address_1_street"
    row = outlook.convert({"Birthday": "0/0/00", "Home Phone": "22 33 44 55", "Categories": "a; b"})
    assert row == {"phone_1": "22 33 44 55", "phone_1_label": "home", "tags": "a;b"}
