"""Every error is an RFC 9457 problem (API.md "Errors" and "Auth"), on both engines.

Uses the example plugin's ``vehicles`` entity through the ``client``/``anon`` fixtures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from crmkit.core import BadRequest, Records, Runtime, ValidationFailed, sql
from crmkit.core.api.app import create_app
from crmkit.core.apikeys import create_key, revoke_key
from crmkit.core.migrate import Migrator

from tests import example_plugin
from tests.conftest import make_settings

URL = "/api/v1/vehicles"
PROBLEM = "application/problem+json"
MISSING = "00000000-0000-4000-8000-000000000000"


def problem(r: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status`` whose ``errors`` name every one of ``fields``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM, r.headers["content-type"]
    body = r.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith("https://"), body
    assert isinstance(body["title"], str) and body["title"], body
    named = [e["field"] for e in body.get("errors", [])]
    for e in body.get("errors", []):
        assert set(e) == {"field", "message"} and e["message"], e
    for field in fields:
        assert field in named, (field, body)
    return body


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    r = await client.post(URL, json={"make": "Volvo", **fields})
    assert r.status_code == 201, r.text
    return r.json()


# -- routing ---------------------------------------------------------------------------


async def test_unknown_route_under_api_is_404(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    problem(await client.post("/api/v1/no-such-thing/deeper", json={}), 404)


async def test_unknown_route_is_404_without_a_key_too(anon: httpx.AsyncClient) -> None:
    problem(await anon.get("/api/v1/no-such-thing"), 404)


async def test_unknown_record_is_404(client: httpx.AsyncClient) -> None:
    body = problem(await client.get(f"{URL}/{MISSING}"), 404)
    assert MISSING in body["detail"]
    problem(await client.patch(f"{URL}/{MISSING}", json={"model": "V70"}), 404)
    problem(await client.delete(f"{URL}/{MISSING}"), 404)
    problem(await client.post(f"{URL}/{MISSING}/restore"), 404)
    problem(await client.post(f"{URL}/{MISSING}/duplicate"), 404)
    problem(await client.get(f"{URL}/{MISSING}/tabs"), 404)
    problem(await client.get(f"{URL}/{MISSING}/overview"), 404)


async def test_a_path_id_that_is_not_a_uuid_is_404(client: httpx.AsyncClient) -> None:
    problem(await client.get(f"{URL}/not-a-uuid"), 404)


async def test_unknown_tab_is_404(client: httpx.AsyncClient) -> None:
    record = await create(client)
    body = problem(await client.get(f"{URL}/{record['id']}/tabs/nope"), 404)
    assert "nope" in body["detail"]


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    record = await create(client)
    r = await client.put(f"{URL}/{record['id']}", json={"make": "Saab"})
    problem(r, 405)
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed
    problem(await client.delete(URL), 405)


# -- bodies ----------------------------------------------------------------------------


@pytest.fixture
async def small_client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app whose request bodies may be at most 1000 bytes."""
    settings = make_settings(db_url, max_body_size=1000)
    runtime = Runtime.create(settings, extra_plugins={"example": example_plugin})
    await runtime.start()
    try:
        await Migrator(runtime).forwards()
        _, key = await create_key(runtime, name="small", role="admin")
        app = create_app(runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {key}"},
        ) as c:
            yield c
    finally:
        await runtime.stop()


async def test_body_over_the_limit_is_413(small_client: httpx.AsyncClient) -> None:
    ok = await small_client.post(URL, json={"make": "x" * 50})
    assert ok.status_code == 201, ok.text
    big = json.dumps({"make": "Volvo", "model": "x" * 2000}).encode()
    assert len(big) > 1000
    r = await small_client.post(URL, content=big, headers={"content-type": "application/json"})
    body = problem(r, 413)
    assert "traceback" not in r.text.lower()
    assert body["instance"] == URL
    # nothing was written
    listed = (await small_client.get(URL)).json()["data"]
    assert [v["make"] for v in listed] == ["x" * 50]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    for raw in (b'{"make": ', b"{make: 1}", b"not json", b""):
        r = await client.post(URL, content=raw, headers={"content-type": "application/json"})
        problem(r, 400, "body")
    record = await create(client)
    r = await client.patch(
        f"{URL}/{record['id']}",
        content=b'{"model": ]',
        headers={"content-type": "application/json"},
    )
    problem(r, 400, "body")


async def test_body_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    problem(await client.post(URL, json=["make", "Volvo"]), 422, "body")


async def test_unknown_body_field_is_422(client: httpx.AsyncClient) -> None:
    body = problem(await client.post(URL, json={"make": "Volvo", "colour": "red"}), 422, "colour")
    assert [e["field"] for e in body["errors"]] == ["colour"]
    record = await create(client)
    problem(await client.patch(f"{URL}/{record['id']}", json={"colour": "red"}), 422, "colour")
    # the record is untouched
    assert (await client.get(f"{URL}/{record['id']}")).json()["version"] == 1


async def test_every_bad_field_is_listed(client: httpx.AsyncClient) -> None:
    r = await client.post(
        URL,
        json={"year": "old", "status": "scrapped", "features": ["ok", 7], "bogus": 1},
    )
    body = problem(r, 422, "make", "year", "status", "features[1]", "bogus")
    assert len(body["errors"]) == 5, body
    assert body["detail"].startswith("5 problems")
    record = await create(client)
    r = await client.patch(f"{URL}/{record['id']}", json={"year": 1066, "make": "", "x": 1})
    problem(r, 422, "year", "make", "x")


async def test_nul_characters_and_non_finite_numbers_are_422(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store them: both engines refuse them alike, naming the field."""
    problem(await client.post(URL, json={"make": "Vol\x00vo"}), 422, "make")
    problem(
        await client.post(URL, json={"make": "Volvo", "custom": {"k": "a\x00"}}), 422, "custom.k"
    )
    problem(await client.post(URL, json={"make": "Volvo", "tags": ["ok", "b\x00"]}), 422, "tags[1]")
    problem(await client.post(URL, json={"make": "Volvo", "price": "NaN"}), 422, "price")
    problem(await client.post(URL, json={"make": "Volvo", "price": "Infinity"}), 422, "price")
    assert (await client.get(URL)).json()["data"] == []


async def test_a_value_the_database_refuses_is_a_client_error(client: httpx.AsyncClient) -> None:
    """Out-of-range integers are a 400 in a filter, never a 500 (either engine)."""
    problem(await client.get(URL, params={"year": "99999999999999999999"}), 400)
    problem(await client.get(URL, params={"created_at__gt": "9999-12-31T23:59:59-23:59"}), 400)


async def test_the_database_layer_turns_refused_values_into_client_errors(
    runtime: Runtime,
) -> None:
    """A bound value the engine cannot take: 400 in a read, 422 inside a write."""
    too_big = 2**70  # beyond int64 on both engines
    with pytest.raises(BadRequest) as read:
        await runtime.db.fetchval(sql("SELECT CAST({} AS BIGINT) AS n", too_big))
    assert read.value.status == 400 and read.value.errors
    with pytest.raises(ValidationFailed) as write:
        async with runtime.db.transaction():
            await runtime.db.execute(sql("SELECT CAST({} AS BIGINT) AS n", too_big))
    assert write.value.status == 422
    assert await runtime.db.fetchval(sql("SELECT CAST({} AS BIGINT) AS n", 7)) == 7  # still usable


# -- query parameters ------------------------------------------------------------------


async def test_bad_limit_is_400_naming_it(client: httpx.AsyncClient) -> None:
    for value in ("abc", "0", "-1", "501", "1.5"):
        problem(await client.get(URL, params={"limit": value}), 400, "limit")


async def test_bad_boolean_is_400_naming_it(client: httpx.AsyncClient) -> None:
    problem(await client.get(URL, params={"count": "maybe"}), 400, "count")


async def test_unknown_filter_is_400_naming_it(client: httpx.AsyncClient) -> None:
    body = problem(await client.get(URL, params={"colour": "red"}), 400, "colour")
    assert "colour" in body["detail"]
    problem(await client.get(URL, params={"make__like": "V"}), 400, "make__like")
    problem(await client.get(URL, params={"electric__contains": "t"}), 400, "electric__contains")
    problem(await client.get(URL, params={"year": "nineteen"}), 400, "year")
    problem(await client.get(URL, params={"sort": "colour"}), 400, "sort")
    problem(await client.get(URL, params={"cursor": "garbage"}), 400, "cursor")
    problem(await client.get(URL, params={"make": "a\x00"}), 400, "make")


# -- internal errors -------------------------------------------------------------------


async def test_an_internal_bug_is_500_without_a_traceback(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t internal state 42"

    async def boom(self: Records, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(secret)

    monkeypatch.setattr(Records, "list", boom)
    with caplog.at_level(logging.ERROR, logger="crmkit.api"):
        r = await client.get(URL)
    body = problem(r, 500)
    assert re.fullmatch(r"[0-9a-f]{32}", body["correlation_id"]), body
    for leak in (secret, "Traceback", "RuntimeError", 'File "', ".py"):
        assert leak not in r.text, leak
    # the operator finds the traceback in the log under the same id
    logged = [rec for rec in caplog.records if body["correlation_id"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None
    # each failure gets its own id
    again = problem(await client.get(URL), 500)
    assert again["correlation_id"] != body["correlation_id"]


# -- authentication --------------------------------------------------------------------


def unauthorized(r: httpx.Response) -> dict[str, Any]:
    body = problem(r, 401)
    assert r.headers["www-authenticate"].lower().startswith("bearer"), r.headers
    return body


async def test_missing_key_is_401(anon: httpx.AsyncClient) -> None:
    body = unauthorized(await anon.get(URL))
    assert "API key" in body["detail"]
    unauthorized(await anon.post(URL, json={"make": "Volvo"}))
    unauthorized(await anon.get(f"{URL}/{MISSING}"))
    unauthorized(await anon.get(URL, headers={"Authorization": "Bearer "}))
    unauthorized(await anon.get(URL, headers={"Authorization": "Basic dXNlcjpwdw=="}))


async def test_wrong_key_is_401(anon: httpx.AsyncClient, api_key: str) -> None:
    prefix = api_key.split("_")[1]
    for key in ("nope", "crm_000000000000_" + "x" * 32, f"crm_{prefix}_wrongsecret", api_key + "x"):
        unauthorized(await anon.get(URL, headers={"Authorization": f"Bearer {key}"}))
        unauthorized(await anon.get(URL, headers={"X-API-Key": key}))


async def test_revoked_key_is_401(anon: httpx.AsyncClient, runtime: Runtime) -> None:
    info, key = await create_key(runtime, name="soon revoked", role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await anon.get(URL, headers=headers)).status_code == 200
    await revoke_key(runtime, str(info.id))
    body = unauthorized(await anon.get(URL, headers=headers))
    assert "revoked" in body["detail"]
    unauthorized(await anon.get(URL, headers={"X-API-Key": key}))


async def test_expired_key_is_401(anon: httpx.AsyncClient, runtime: Runtime) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    _, key = await create_key(runtime, name="expired", role="admin", expires_at=past)
    body = unauthorized(await anon.get(URL, headers={"Authorization": f"Bearer {key}"}))
    assert "expired" in body["detail"]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    _, fresh = await create_key(runtime, name="fresh", role="admin", expires_at=future)
    assert (await anon.get(URL, headers={"Authorization": f"Bearer {fresh}"})).status_code == 200


async def test_bearer_and_x_api_key_are_both_accepted(
    anon: httpx.AsyncClient, api_key: str
) -> None:
    for headers in (
        {"Authorization": f"Bearer {api_key}"},
        {"Authorization": f"bearer {api_key}"},
        {"X-API-Key": api_key},
    ):
        r = await anon.get(URL, headers=headers)
        assert r.status_code == 200, (headers, r.text)
    r = await anon.post(URL, json={"make": "Saab"}, headers={"X-API-Key": api_key})
    assert r.status_code == 201, r.text


async def test_health_and_schema_need_no_key(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/health")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    r = await anon.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    assert r.json()["openapi"].startswith("3.1")
    r = await anon.get("/schema")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")


async def test_problem_instance_is_the_request_path(client: httpx.AsyncClient) -> None:
    """Problems carry ``instance``: the path of the request that failed."""
    record_id = str(uuid.uuid4())
    body = problem(await client.get(f"{URL}/{record_id}"), 404)
    assert body["instance"] == f"{URL}/{record_id}"
