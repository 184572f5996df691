"""The index follows every write path in the write's own transaction; it is used by the
queries (EXPLAIN) and can be rebuilt (``rebuild``, ``crmkit search reindex``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from crmkit.cli.context import with_runtime
from crmkit.cli.main import create_cli
from crmkit.core import SYSTEM, Runtime, sql
from crmkit.core.query.compile import compile_list
from crmkit.core.query.params import parse_list_params
from crmkit.core.search import rebuild

from .conftest import PEOPLE, SKIP, Find, Make


async def _rows(runtime: Runtime, record_id: Any) -> list[dict[str, Any]]:
    return await runtime.db.fetch(
        sql(
            "SELECT field, body FROM crmkit_search WHERE record_id = {} ORDER BY id",
            uuid.UUID(str(record_id)),
        )
    )


async def _fts_hits(runtime: Runtime, word: str) -> int:
    """Index entries for ``word`` in the engine's own full-text index (not the rows)."""
    if runtime.db.kind == "sqlite":
        query = sql(
            "SELECT COUNT(*) AS n FROM crmkit_search_fts WHERE crmkit_search_fts MATCH {}",
            f'"{word}"',
        )
    else:
        query = sql(
            "SELECT COUNT(*) AS n FROM crmkit_search WHERE doc @@ CAST(CAST({} AS text) AS tsquery)",
            word,
        )
    return int(await runtime.db.fetchval(query) or 0)


async def test_a_failed_write_leaves_no_index_rows(runtime: Runtime, find: Find) -> None:
    people = runtime.records("individual")
    made: dict[str, Any] = {}
    with pytest.raises(RuntimeError):
        async with runtime.write():
            made = await people.create(
                {"first_name": "Rolled", "last_name": "Back"},
                actor=SYSTEM,
                data={"skip_duplicate_check": True},
            )
            # written in the transaction (the name and the first name)...
            assert await _fts_hits(runtime, "rolled") == 2
            raise RuntimeError("the rest of the unit of work failed")
    assert made and await _rows(runtime, made["id"]) == []  # ...and rolled back with it
    assert await _fts_hits(runtime, "rolled") == 0
    assert await find("rolled") == []


async def test_every_change_is_followed(
    client: httpx.AsyncClient, runtime: Runtime, person: Make, find: Find
) -> None:
    kari = await person("Kari", "Nordmann", tags=["lead"])
    url = f"{PEOPLE}/{kari['id']}"
    # update: the old words go, the new ones come
    r = await client.patch(url, json={"last_name": "Hansen", "tags": ["vip"]})
    assert r.status_code == 200, r.text
    assert await find("nordmann") == [] and await find("tag:lead") == []
    assert await find("hansen") == ["Kari Hansen"] and await find("tag:vip") == ["Kari Hansen"]
    assert await _fts_hits(runtime, "nordmann") == 0
    # an update of a field the document does not hold leaves the rows as they are
    before = await _rows(runtime, kari["id"])
    assert (await client.patch(url, json={"birthday": "1990-01-02"})).status_code == 200
    assert await _rows(runtime, kari["id"]) == before
    # soft delete: not listed (the rows stay); restore: found again
    assert (await client.delete(url)).status_code == 204
    assert await find("hansen") == []
    assert await _rows(runtime, kari["id"]) == before
    assert (await client.post(f"{url}/restore")).status_code == 200
    assert await find("hansen") == ["Kari Hansen"]
    assert await find("hansen", include_deleted="true") == ["Kari Hansen"]
    # hard delete: the rows go
    assert (await client.delete(url, params={"hard": "true"})).status_code == 204
    assert await _rows(runtime, kari["id"]) == []
    assert await _fts_hits(runtime, "hansen") == 0


async def test_clone_and_merge(client: httpx.AsyncClient, person: Make, find: Find) -> None:
    a = await person("Ola", "Hansen", emails=[{"address": "ola@fjord.no"}])
    b = await person("Ola", "Hanssen", phones=[{"number": "+47 91 23 45 67"}])
    r = await client.post(f"{PEOPLE}/{a['id']}/duplicate", json={}, headers=SKIP)
    assert r.status_code == 201, r.text
    assert len(await find("fjord")) == 2
    r = await client.post(f"{PEOPLE}/merge", json={"target": b["id"], "sources": [a["id"]]})
    assert r.status_code == 200, r.text
    merged = {
        p["id"] for p in (await client.get(PEOPLE, params={"q": "fjord 91234567"})).json()["data"]
    }
    assert merged == {b["id"]}  # the target now holds the source's email; the source is gone
    undo = await client.post(f"{PEOPLE}/merges/{r.json()['id']}/undo")
    assert undo.status_code == 200, undo.text
    again = {p["id"] for p in (await client.get(PEOPLE, params={"q": "fjord"})).json()["data"]}
    assert a["id"] in again and b["id"] not in again


async def test_custom_field_changes(
    client: httpx.AsyncClient, person: Make, field: Make, find: Find
) -> None:
    code = await field("code", "number")
    await person("Kari", "Nordmann", custom={"code": 4711})
    assert await find("4711") == []  # a number is not text...
    r = await client.post(
        f"/api/v1/custom-fields/{code['id']}/change-type", json={"type": "text", "dry_run": False}
    )
    assert r.status_code == 200, r.text
    assert await find("4711") == ["Kari Nordmann"]  # ...once it is, it is searched
    assert await find("custom.code:4711") == ["Kari Nordmann"]
    # archived: its values are kept but not searched; restored: searched again
    assert (await client.delete(f"/api/v1/custom-fields/{code['id']}")).status_code in (200, 204)
    assert await find("4711") == []
    assert (await client.post(f"/api/v1/custom-fields/{code['id']}/restore")).status_code == 200
    assert await find("4711") == ["Kari Nordmann"]


async def test_other_entities_are_indexed_alike(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/organizations", json={"name": "Fjordkraft AS", "industry": "Energy"}
    )
    assert r.status_code == 201
    found = await client.get("/api/v1/organizations", params={"q": "energ fjord"})
    assert [o["name"] for o in found.json()["data"]] == ["Fjordkraft AS"]
    vehicles = runtime.records("vehicle")  # the example plugin: no search code of its own
    await vehicles.create({"make": "Volvo", "model": "XC40", "year": 2021}, actor=SYSTEM)
    found = await client.get("/api/v1/vehicles", params={"q": '"2021 volvo xc40"'})
    assert [v["make"] for v in found.json()["data"]] == ["Volvo"]
    found = await client.get("/api/v1/vehicles", params={"q": "name:xc"})
    assert [v["make"] for v in found.json()["data"]] == ["Volvo"]


async def test_rebuild(runtime: Runtime, person: Make, note: Make, find: Find) -> None:
    kari = await person("Kari", "Nordmann", phones=[{"number": "+4791234567"}])
    await note(kari, "wants solar")
    before = await _rows(runtime, kari["id"])
    await runtime.db.execute("DELETE FROM crmkit_search")
    ghost = uuid.uuid4()  # a row of a record that no longer exists
    await runtime.db.execute(
        sql(
            "INSERT INTO crmkit_search (entity, record_id, field, weight, body"
            + (", doc" if runtime.db.kind == "postgres" else "")
            + ") VALUES ('individual', {}, 'name', 1, 'ghost'"
            + (", 'ghost'" if runtime.db.kind == "postgres" else "")
            + ")",
            ghost,
        )
    )
    assert await find("solar") == []
    progress: list[int] = []
    done, rows = await rebuild(
        runtime, "individual", batch=1, progress=lambda n, r: progress.append(n)
    )
    assert (done, rows) == (1, len(before)) and progress == [1]
    assert await _rows(runtime, kari["id"]) == before
    assert await _rows(runtime, ghost) == []
    assert await find("solar 4567") == ["Kari Nordmann"]


async def _plan(runtime: Runtime, q: str, *, seqscan: bool = True) -> str:
    """The query plan of the list query ``Records.list`` runs for ``q``."""
    entity = runtime.plugins.entity("individual")
    compiled = compile_list(
        runtime.db,
        entity,
        parse_list_params([("q", q)]),
        custom_types=runtime.custom_types,
        runtime=runtime,
    )
    query = sql(
        f"SELECT t.* FROM individual AS t WHERE {{}} ORDER BY {compiled.order_by} LIMIT 51",
        compiled.where,
    )
    if runtime.db.kind == "sqlite":
        rows = await runtime.db.fetch(sql("EXPLAIN QUERY PLAN {}", query))
        return "\n".join(r["detail"] for r in rows)
    async with runtime.db.transaction():
        if not seqscan:  # "can the index serve it", whatever this small table's costs
            await runtime.db.execute("SET LOCAL enable_seqscan = off")
        rows = await runtime.db.fetch(sql("EXPLAIN {}", query))
    return "\n".join(str(next(iter(r.values()))) for r in rows)


async def test_a_term_uses_the_full_text_index(runtime: Runtime, person: Make) -> None:
    await person("Kari", "Nordmann", phones=[{"number": "+4791234567"}])
    await person("Ola", "Hansen")
    if runtime.db.kind == "postgres":
        # enough people for the planner to prefer the index to reading every row
        await runtime.db.execute(
            "INSERT INTO individual (id, first_name, last_name, created_at, updated_at) "
            "SELECT gen_random_uuid(), 'Pad', 'Pad' || i, now(), now() "
            "FROM generate_series(1, 20000) AS i"
        )
        await runtime.db.execute(
            "INSERT INTO crmkit_search (entity, record_id, field, weight, body, digits, doc) "
            "SELECT 'individual', id, 'name', 2, lower(last_name), "
            "CASE WHEN last_name LIKE '%0' THEN '4790' || substr(last_name, 4) END, "
            "CAST(lower(last_name) AS tsvector) FROM individual WHERE first_name = 'Pad'"
        )
        await runtime.db.execute("ANALYZE individual")
        await runtime.db.execute("ANALYZE crmkit_search")
        assert "crmkit_search_doc_idx" in await _plan(runtime, "nordmann")
        # digits: the word index OR the trigram index; PostgreSQL's guess for LIKE is too
        # rough at this size to prefer it by itself, so it is told not to read the table
        assert "crmkit_search_digits_idx" in await _plan(runtime, "1234567", seqscan=False)
    else:
        plan = await _plan(runtime, "nordmann")
        assert "crmkit_search_fts VIRTUAL TABLE INDEX" in plan
        assert "crmkit_search_digits VIRTUAL TABLE INDEX" in await _plan(runtime, "1234567")


def test_reindex_command(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_CONFIG", "/nonexistent/crmkit.toml")
    monkeypatch.setenv("CRMKIT_DATABASE_URL", db_url)
    monkeypatch.setenv("CRMKIT_PLUGINS", "individuals,activity")

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(create_cli(list(args)), list(args), catch_exceptions=False)

    assert invoke("search", "reindex").exit_code != 0  # not migrated yet: one line
    assert invoke("migrate").exit_code == 0

    async def seed(runtime: Runtime) -> None:
        people = runtime.records("individual")
        for i in range(7):
            await people.create(
                {"first_name": f"Person{i}", "last_name": "Reindexed"},
                actor=SYSTEM,
                data={"skip_duplicate_check": True},
            )
        await runtime.db.execute("DELETE FROM crmkit_search")

    async def found(runtime: Runtime) -> int:
        page = await runtime.records("individual").list(parse_list_params([("q", "reindexed")]))
        return len(page.data)

    with_runtime(seed)
    assert with_runtime(found) == 0
    result = invoke("search", "reindex", "individuals", "--batch", "3")
    assert result.exit_code == 0, result.output
    entity, records, rows, _ = result.stdout.split()
    assert (entity, records) == ("individual", "7") and int(rows) == 7 * 3  # name, first, last
    assert "individual" in result.stderr  # the progress bar's label
    assert with_runtime(found) == 7
    everything = invoke("search", "reindex")
    assert [line.split()[0] for line in everything.stdout.splitlines()] == ["individual"]
    bad = invoke("search", "reindex", "spaceships")
    assert bad.exit_code != 0 and "spaceships" in bad.output
