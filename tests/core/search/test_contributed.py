"""Text other plugins contribute (``search_text``): notes find the people they are about,
and stop finding them when edited or deleted, in the note's own transaction."""

from __future__ import annotations

import httpx
from crmkit.core import Runtime, sql

from .conftest import Find, Make


async def test_a_note_finds_its_person_until_it_is_deleted(
    client: httpx.AsyncClient, runtime: Runtime, person: Make, note: Make, find: Find
) -> None:
    kari = await person("Kari", "Nordmann")
    await person("Ola", "Hansen")
    assert await find("solar") == []
    entry = await note(kari, "Interested in solar panels for the cabin")
    assert await find("solar") == ["Kari Nordmann"]
    assert await find('"solar panels"') == ["Kari Nordmann"]
    assert await find("activity:cabin") == ["Kari Nordmann"]  # the contributor's field
    assert await find("first_name:solar") == []
    # edited: the new text is found, the old one is not
    r = await client.patch(f"/api/v1/activities/{entry['id']}", json={"body": "Wants a heat pump"})
    assert r.status_code == 200, r.text
    assert await find("solar") == []
    assert await find("heat pump") == ["Kari Nordmann"]
    # deleted: nothing of it is found any more
    assert (await client.delete(f"/api/v1/activities/{entry['id']}")).status_code == 204
    assert await find("heat") == []
    rows = await runtime.db.fetch(
        sql(
            "SELECT body FROM crmkit_search WHERE record_id = {} AND field = 'activity'", kari["id"]
        )
    )
    assert rows == []


async def test_a_note_about_several_records_finds_each(
    client: httpx.AsyncClient, person: Make, find: Find
) -> None:
    kari, ola = await person("Kari", "Nordmann"), await person("Ola", "Hansen")
    await person("Per", "Berg")
    r = await client.post(
        "/api/v1/activities",
        json={
            "kind": "call",
            "direction": "in",
            "records": [{"entity": "individual", "id": i["id"]} for i in (kari, ola)],
            "body": "Both asked about geothermal heating",
        },
    )
    assert r.status_code == 201, r.text
    assert set(await find("geothermal")) == {"Kari Nordmann", "Ola Hansen"}
    # a note ranks below the name: "berg" the name before "berg" in a note
    await client.post(
        "/api/v1/activities",
        json={"kind": "note", "records": [{"entity": "individual", "id": kari["id"]}],
              "body": "Met Berg at the fair"},
    )  # fmt: skip
    assert await find("berg") == ["Per Berg", "Kari Nordmann"]


async def test_a_failed_note_leaves_the_index_alone(
    client: httpx.AsyncClient, person: Make, find: Find
) -> None:
    kari = await person("Kari", "Nordmann")
    r = await client.post(
        "/api/v1/activities",
        json={
            "kind": "note",
            "records": [
                {"entity": "individual", "id": kari["id"]},
                {"entity": "individual", "id": "00000000-0000-4000-8000-000000000000"},
            ],
            "body": "windmill",
        },
    )
    assert r.status_code == 422, r.text
    assert await find("windmill") == []
