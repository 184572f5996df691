"""Events of record writes: one per change with actor, source and field changes; the
before-save veto; ``record_changed`` atomic with the row; ``after_commit`` after commit
only, with a failing implementation logged and isolated. On both engines."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from crmkit.core import SYSTEM, Actor, Event, Runtime, ValidationFailed, hookimpl
from crmkit.core.apikeys import list_keys
from crmkit.core.db.sql import sql

from tests.example_plugin import COMMITTED

URL = "/api/v1/vehicles"


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def enabled() -> list[str]:
    """Core and the example plugin only, whatever else is installed."""
    return ["example"]


@pytest.fixture
async def key_id(runtime: Runtime, api_key: str) -> str:
    prefix = api_key.split("_")[1]
    return str(next(k.id for k in await list_keys(runtime) if k.prefix == prefix))


def values(runtime: Runtime, **fields: Any) -> dict[str, Any]:
    """Writable values as the API hands them to the record service (type-checked)."""
    entity = runtime.plugins.entity("vehicle")
    return msgspec.structs.asdict(msgspec.convert({"make": "Ford", **fields}, entity.create_type))


def changes(event: Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.old, c.new) for c in event.changes}


async def log_rows(runtime: Runtime, record_id: Any = None) -> list[dict[str, Any]]:
    """The example plugin's in-transaction log (one row per event it saw)."""
    if record_id is None:
        query = sql("SELECT vehicle_id, action, fields FROM example_vehicle_log ORDER BY id")
    else:
        query = sql(
            "SELECT vehicle_id, action, fields FROM example_vehicle_log "
            "WHERE vehicle_id = {} ORDER BY id",
            uuid.UUID(str(record_id)),
        )
    return await runtime.db.fetch(query)


async def vehicle_count(runtime: Runtime) -> int:
    return await runtime.db.fetchval(sql("SELECT COUNT(*) AS n FROM example_vehicle"))


def only_new(before: int) -> Event:
    """The single event committed since ``len(COMMITTED) == before``."""
    new = COMMITTED[before:]
    assert len(new) == 1, [(e.action, e.record_id) for e in new]
    return new[0]


# -- one event per change, through HTTP ----------------------------------------------------


async def test_http_create_update_delete_restore_events(
    client: httpx.AsyncClient, runtime: Runtime, key_id: str
) -> None:
    for key in ("colour", "size", "extra"):
        await runtime.custom_fields.create({"entity": "vehicle", "key": key, "type": "text"})
    r = await client.post(
        URL,
        json={
            "make": "Ford",
            "year": 2020,
            "tags": ["a"],
            "custom": {"colour": "red", "size": "L"},
        },
    )
    assert r.status_code == 201, r.text
    rec = r.json()
    record_id = uuid.UUID(rec["id"])

    event = only_new(0)
    assert event.action == "create"
    assert event.entity == "vehicle"
    assert event.record_id == record_id
    assert event.source == "api"
    assert event.actor.kind == "api_key"
    assert event.actor.id == key_id
    assert event.actor.label == f"api_key:{key_id}"
    assert event.actor.name == "tests"
    assert event.actor.role == "admin"
    assert event.record is not None and event.record["id"] == record_id
    assert event.occurred_at.tzinfo is not None
    created = changes(event)
    assert created["make"] == (None, "Ford")
    assert created["year"] == (None, 2020)
    assert created["custom.colour"] == (None, "red")
    assert created["custom.size"] == (None, "L")
    assert "custom" not in created  # split per key
    assert created["tags"][1] == ["a"]
    assert all(old is None for old, _ in created.values())
    assert "model" not in created  # None stays None: no change

    # update: only what changed, custom split per key (added, changed, removed)
    r = await client.patch(
        f"{URL}/{rec['id']}", json={"year": 2021, "custom": {"colour": "blue", "extra": "x"}}
    )
    assert r.status_code == 200, r.text
    event = only_new(1)
    assert event.action == "update"
    assert event.source == "api"
    assert event.actor.label == f"api_key:{key_id}"
    assert [c.field for c in event.changes] == [
        "year",
        "custom.colour",
        "custom.extra",
        "custom.size",
    ]
    assert changes(event) == {
        "year": (2020, 2021),
        "custom.colour": ("red", "blue"),
        "custom.extra": (None, "x"),
        "custom.size": ("L", None),
    }
    assert event.record is not None and event.record["version"] == 2

    # a PATCH that changes nothing emits nothing
    r = await client.patch(f"{URL}/{rec['id']}", json={"year": 2021, "tags": ["a"]})
    assert r.status_code == 200
    assert len(COMMITTED) == 2

    # tags
    r = await client.patch(f"{URL}/{rec['id']}", json={"tags": ["a", "b"]})
    event = only_new(2)
    assert changes(event) == {"tags": (["a"], ["a", "b"])}

    r = await client.delete(f"{URL}/{rec['id']}")
    assert r.status_code == 204
    event = only_new(3)
    assert event.action == "delete"
    assert event.actor.label == f"api_key:{key_id}"
    assert event.source == "api"
    assert list(changes(event)) == ["deleted_at"]
    old, new = changes(event)["deleted_at"]
    assert old is None
    assert isinstance(new, dt.datetime)

    r = await client.post(f"{URL}/{rec['id']}/restore")
    assert r.status_code == 200
    event = only_new(4)
    assert event.action == "restore"
    assert event.source == "api"
    assert event.actor.label == f"api_key:{key_id}"
    assert list(changes(event)) == ["deleted_at"]
    old, new = changes(event)["deleted_at"]
    assert isinstance(old, dt.datetime)
    assert new is None

    # restoring a live record is a no-op: no event
    assert (await client.post(f"{URL}/{rec['id']}/restore")).status_code == 200
    assert len(COMMITTED) == 5

    r = await client.delete(f"{URL}/{rec['id']}", params={"hard": "true"})
    assert r.status_code == 204
    event = only_new(5)
    assert event.action == "hard_delete"
    assert event.record_id == record_id

    # the in-transaction hook saw the same events, one log row each
    rows = await log_rows(runtime, record_id)
    assert [(r["action"], r["fields"]) for r in rows][1:] == [
        ("update", "year,custom.colour,custom.extra,custom.size"),
        ("update", "tags"),
        ("delete", "deleted_at"),
        ("restore", "deleted_at"),
        ("hard_delete", ""),
    ]
    assert rows[0]["action"] == "create"
    assert [e.id for e in COMMITTED] == list(dict.fromkeys(e.id for e in COMMITTED))


async def test_http_duplicate_emits_one_create(
    client: httpx.AsyncClient, runtime: Runtime, key_id: str
) -> None:
    rec = (await client.post(URL, json={"make": "Ford", "year": 2019})).json()
    r = await client.post(f"{URL}/{rec['id']}/duplicate", json={"year": 2020})
    assert r.status_code == 201
    event = only_new(1)
    assert event.action == "create"
    assert str(event.record_id) == r.json()["id"]
    assert event.actor.label == f"api_key:{key_id}"
    assert event.data.get("cloned_from") == rec["id"]
    assert changes(event)["year"] == (None, 2020)
    assert [r["action"] for r in await log_rows(runtime, rec["id"])] == ["create"]


async def test_failed_requests_emit_nothing(client: httpx.AsyncClient, runtime: Runtime) -> None:
    rec = (await client.post(URL, json={"make": "Ford", "year": 2019})).json()
    assert len(COMMITTED) == 1
    url = f"{URL}/{rec['id']}"
    assert (await client.post(URL, json={"make": ""})).status_code == 422
    assert (await client.patch(url, json={"year": 1})).status_code == 422
    assert (
        await client.patch(url, json={"year": 2020}, headers={"If-Match": '"9"'})
    ).status_code == 412
    assert (await client.delete(url, headers={"If-Match": '"9"'})).status_code == 412
    assert (await client.patch(f"{URL}/{uuid.uuid4()}", json={"year": 2020})).status_code == 404
    assert len(COMMITTED) == 1
    assert len(await log_rows(runtime)) == 1


async def test_service_calls_carry_their_actor_and_source(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    rec = await records.create(values(runtime, year=2020), actor=SYSTEM, source="cli")
    event = only_new(0)
    assert event.actor == SYSTEM
    assert event.actor.label == "system:system"
    assert event.source == "cli"
    assert rec["created_by"] == "system:system"

    someone = Actor(id="u1", name="Una", role="agent", kind="user")
    rec = await records.update(rec["id"], {"year": 2021}, actor=someone, source="import")
    event = only_new(1)
    assert event.actor == someone
    assert event.source == "import"
    assert changes(event) == {"year": (2020, 2021)}
    assert rec["updated_by"] == "user:u1"
    assert rec["created_by"] == "system:system"


# -- before_save veto --------------------------------------------------------------------


async def test_before_save_veto_writes_nothing(client: httpx.AsyncClient, runtime: Runtime) -> None:
    r = await client.post(URL, json={"make": "Ford", "status": "sold"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["price"]
    assert await vehicle_count(runtime) == 0
    assert await log_rows(runtime) == []
    assert COMMITTED == []
    tags = await runtime.db.fetchval(sql("SELECT COUNT(*) AS n FROM crmkit_record_tag"))
    assert tags == 0

    rec = (await client.post(URL, json={"make": "Ford", "tags": ["t"]})).json()
    r = await client.patch(f"{URL}/{rec['id']}", json={"status": "sold", "tags": ["u"]})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["price"]
    after = (await client.get(f"{URL}/{rec['id']}")).json()
    assert after == rec
    assert len(COMMITTED) == 1
    assert len(await log_rows(runtime)) == 1
    assert (await client.get(URL, params={"tag": "t"})).json()["data"][0]["id"] == rec["id"]

    # the service raises the same error
    with pytest.raises(ValidationFailed) as info:
        await runtime.records("vehicle").create(values(runtime, status="sold"), actor=SYSTEM)
    assert [e.field for e in info.value.errors] == ["price"]
    assert await vehicle_count(runtime) == 1


async def test_before_save_normalises_values(runtime: Runtime) -> None:
    rec = await runtime.records("vehicle").create(values(runtime, vin=" abc "), actor=SYSTEM)
    assert rec["vin"] == "ABC"
    assert COMMITTED[0].record is not None and COMMITTED[0].record["vin"] == "ABC"


# -- record_changed is atomic with the row ------------------------------------------------


async def test_record_changed_failure_rolls_back_create(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    with pytest.raises(RuntimeError, match="injected failure"):
        await records.create(
            values(runtime, tags=["x"]), actor=SYSTEM, data={"fail_in_transaction": True}
        )
    assert await vehicle_count(runtime) == 0
    assert await log_rows(runtime) == []
    assert await runtime.db.fetchval(sql("SELECT COUNT(*) AS n FROM crmkit_record_tag")) == 0
    assert COMMITTED == []

    # the database (and SQLite's writer) is usable afterwards
    rec = await records.create(values(runtime), actor=SYSTEM)
    assert await vehicle_count(runtime) == 1
    assert [r["action"] for r in await log_rows(runtime)] == ["create"]
    assert [e.record_id for e in COMMITTED] == [rec["id"]]


async def test_record_changed_failure_rolls_back_update_and_delete(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    rec = await records.create(values(runtime, year=2020, tags=["a"]), actor=SYSTEM)
    with pytest.raises(RuntimeError, match="injected failure"):
        await records.update(
            rec["id"],
            {"year": 2021, "tags": ["b"]},
            actor=SYSTEM,
            data={"fail_in_transaction": True},
        )
    after = await records.get(rec["id"])
    assert after["year"] == 2020
    assert after["version"] == 1
    assert after["tags"] == ["a"]
    tags = await runtime.db.fetch(
        sql("SELECT tag FROM crmkit_record_tag WHERE record_id = {}", rec["id"])
    )
    assert [t["tag"] for t in tags] == ["a"]
    assert [r["action"] for r in await log_rows(runtime)] == ["create"]
    assert len(COMMITTED) == 1


async def test_record_changed_failure_through_http_is_500_and_rolls_back(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        @hookimpl
        def record_changed(self, event: Event) -> None:
            raise RuntimeError("log is full")

    runtime.plugins.pm.register(Failing(), name="failing")
    try:
        with caplog.at_level(logging.ERROR):
            r = await client.post(URL, json={"make": "Ford"})
    finally:
        runtime.plugins.pm.unregister(name="failing")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "log is full" not in r.text  # internals stay in the log
    assert r.json()["correlation_id"]
    assert await vehicle_count(runtime) == 0
    assert await log_rows(runtime) == []
    assert COMMITTED == []
    assert (await client.post(URL, json={"make": "Ford"})).status_code == 201


# -- after_commit ------------------------------------------------------------------------


class BoomFirst:
    @hookimpl(tryfirst=True)
    async def after_commit(self, event: Event) -> None:
        raise RuntimeError("boom first")


class BoomLast:
    @hookimpl(trylast=True)
    def after_commit(self, runtime: Runtime, event: Event) -> None:
        raise ValueError("boom last")


async def test_failing_after_commit_is_logged_and_isolated(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    pm = runtime.plugins.pm
    pm.register(BoomFirst(), name="boom")
    pm.register(BoomLast(), name="boom_last")
    try:
        with caplog.at_level(logging.ERROR):
            r = await client.post(URL, json={"make": "Ford"})
            assert r.status_code == 201, r.text
            r2 = await client.patch(f"{URL}/{r.json()['id']}", json={"year": 2020})
            assert r2.status_code == 200, r2.text
    finally:
        pm.unregister(name="boom")
        pm.unregister(name="boom_last")

    # the example plugin still saw both events, and the writes stand
    assert [e.action for e in COMMITTED] == ["create", "update"]
    got = await client.get(f"{URL}/{r.json()['id']}")
    assert got.json()["year"] == 2020

    failures = [
        rec
        for rec in caplog.records
        if rec.levelno >= logging.ERROR and "after_commit" in rec.getMessage()
    ]
    messages = [rec.getMessage() for rec in failures]
    assert sum("boom_last" in m for m in messages) == 2, messages
    assert sum("boom" in m and "boom_last" not in m for m in messages) == 2, messages
    excs = [str(rec.exc_info[1]) for rec in failures if rec.exc_info]
    assert excs.count("boom first") == 2
    assert excs.count("boom last") == 2

    # unregistered: nothing more is logged
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert (await client.post(URL, json={"make": "Audi"})).status_code == 201
    assert not [rec for rec in caplog.records if "after_commit" in rec.getMessage()]
    assert len(COMMITTED) == 3


async def test_after_commit_gets_the_runtime_and_the_event(runtime: Runtime) -> None:
    seen: list[tuple[Any, Event]] = []

    class Spy:
        @hookimpl
        def after_commit(self, runtime: Runtime, event: Event) -> None:
            seen.append((runtime, event))

    runtime.plugins.pm.register(Spy(), name="spy")
    try:
        await runtime.records("vehicle").create(values(runtime), actor=SYSTEM)
    finally:
        runtime.plugins.pm.unregister(name="spy")
    assert len(seen) == 1
    assert seen[0][0] is runtime
    assert seen[0][1] is COMMITTED[0]


async def test_after_commit_may_write_in_a_unit_of_its_own(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    class Follower:
        @hookimpl
        async def after_commit(self, runtime: Runtime, event: Event) -> None:
            if event.action == "create" and event.record and event.record["make"] == "Parent":
                await runtime.records("vehicle").create(
                    values(runtime, make="Child", model=str(event.record_id)), actor=SYSTEM
                )

    runtime.plugins.pm.register(Follower(), name="follower")
    try:
        r = await client.post(URL, json={"make": "Parent"})
    finally:
        runtime.plugins.pm.unregister(name="follower")
    assert r.status_code == 201, r.text
    parent = r.json()
    (child,) = (await client.get(URL, params={"make": "Child"})).json()["data"]
    assert child["model"] == parent["id"]
    assert [(e.action, e.actor.kind) for e in COMMITTED] == [
        ("create", "api_key"),
        ("create", "system"),
    ]
    assert [row["action"] for row in await log_rows(runtime)] == ["create", "create"]


# -- units of work -----------------------------------------------------------------------


async def test_unit_of_work_announces_after_commit(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    seen_inside: list[int] = []

    async with runtime.write():
        a = await records.create(values(runtime, make="A"), actor=SYSTEM)
        b = await records.create(values(runtime, make="B"), actor=SYSTEM)
        await records.update(a["id"], {"year": 2001}, actor=SYSTEM)
        seen_inside.append(len(COMMITTED))
        # record_changed already ran, inside the transaction
        assert len(await log_rows(runtime)) == 3
    assert seen_inside == [0]
    assert [(e.action, e.record_id) for e in COMMITTED] == [
        ("create", a["id"]),
        ("create", b["id"]),
        ("update", a["id"]),
    ]
    assert await vehicle_count(runtime) == 2


async def test_nested_units_announce_once_the_outer_commits(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    async with runtime.write():
        async with runtime.write():
            await records.create(values(runtime, make="A"), actor=SYSTEM)
        assert COMMITTED == []
        await records.create(values(runtime, make="B"), actor=SYSTEM)
        assert COMMITTED == []
    assert [e.record["make"] for e in COMMITTED if e.record] == ["A", "B"]


async def test_unit_of_work_that_raises_announces_and_writes_nothing(runtime: Runtime) -> None:
    records = runtime.records("vehicle")
    with pytest.raises(RuntimeError, match="abort"):
        async with runtime.write():
            await records.create(values(runtime, make="A", tags=["x"]), actor=SYSTEM)
            await records.create(values(runtime, make="B"), actor=SYSTEM)
            raise RuntimeError("abort")
    assert COMMITTED == []
    assert await vehicle_count(runtime) == 0
    assert await log_rows(runtime) == []
    assert await runtime.db.fetchval(sql("SELECT COUNT(*) AS n FROM crmkit_record_tag")) == 0

    # a veto in the second write undoes the first one too
    with pytest.raises(ValidationFailed):
        async with runtime.write():
            await records.create(values(runtime, make="C"), actor=SYSTEM)
            await records.create(values(runtime, make="D", status="sold"), actor=SYSTEM)
    assert COMMITTED == []
    assert await vehicle_count(runtime) == 0

    # the next unit starts clean: only its own events
    async with runtime.write():
        e = await records.create(values(runtime, make="E"), actor=SYSTEM)
    assert [ev.record_id for ev in COMMITTED] == [e["id"]]
    assert await vehicle_count(runtime) == 1


async def test_emit_outside_a_unit_is_refused(runtime: Runtime) -> None:
    event = Event(entity="vehicle", record_id=uuid.uuid4(), action="create", actor=SYSTEM)
    with pytest.raises(RuntimeError, match="outside"):
        await runtime.emit(event)
    assert COMMITTED == []
