"""The ``register_bulk_actions`` hook: a throwaway plugin's bulk actions, public API only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
import msgspec
import pytest
from crmkit.core import (
    SYSTEM,
    Access,
    Actor,
    BulkAction,
    EntityType,
    FieldError,
    PluginError,
    Runtime,
    ValidationFailed,
    for_each_record,
    hookimpl,
)
from crmkit.core.plugins import PluginHost

from tests import example_plugin


class ModelParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class NoParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


async def set_model(
    runtime: Runtime,
    entity: EntityType,
    record_ids: list[uuid.UUID],
    params: ModelParams,
    actor: Actor,
    access: Access,
) -> int:
    records = runtime.records(entity, access)

    async def one(record_id: uuid.UUID) -> bool:
        before = await records.get(record_id)
        if before["status"] == "sold":
            raise ValidationFailed(
                "sold", errors=[FieldError("status", "a sold vehicle keeps its model")]
            )
        after = await records.update(record_id, {"model": params.model}, actor=actor, source="bulk")
        return bool(after["version"] != before["version"])

    return await for_each_record(record_ids, one)


async def count_only(
    runtime: Runtime,
    entity: EntityType,
    record_ids: list[uuid.UUID],
    params: NoParams,
    actor: Actor,
    access: Access,
) -> int:
    return 0


SET_MODEL = BulkAction(
    name="set_model",
    entity="vehicle",
    params=ModelParams,
    apply=set_model,
    summary="give every vehicle the same model",
)
COUNT_ONLY = BulkAction(
    name="count_only", params=NoParams, apply=count_only, actions=("read",)
)  # every entity
GHOST = BulkAction(name="haunt", entity="ghost", params=NoParams, apply=count_only)


class Stamper:
    @hookimpl
    def register_bulk_actions(self, register: Any) -> None:
        for action in (SET_MODEL, COUNT_ONLY, GHOST):
            register(action)


STAMPER = Stamper()


@pytest.fixture
def plugins() -> dict[str, Any]:
    return {"example": example_plugin, "stamper": STAMPER}


def _host(*extra: tuple[str, Any]) -> PluginHost:
    names = ["example", "stamper", *(n for n, _ in extra)]
    return PluginHost(names, extra={"example": example_plugin, "stamper": STAMPER, **dict(extra)})


def test_register_bulk_actions() -> None:
    # hook: register_bulk_actions
    host = _host()
    assert host.bulk_actions_for("vehicle") == [SET_MODEL, COUNT_ONLY]
    assert host.bulk_actions_for("other") == [COUNT_ONLY]
    assert GHOST not in host.bulk_actions  # its entity is not registered: left out


def _plugin(*actions: Any) -> Any:
    class Bad:
        @hookimpl
        def register_bulk_actions(self, register: Any) -> None:
            for action in actions:
                register(action)

    return Bad()


class Loose(msgspec.Struct):
    model: str


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (BulkAction(name="update", params=NoParams, apply=count_only), "core action"),
        (BulkAction(name="Shout", params=NoParams, apply=count_only), "lower-case"),
        (BulkAction(name="loose", params=Loose, apply=count_only), "forbid unknown"),
        (BulkAction(name="odd", params=dict, apply=count_only), "msgspec.Struct"),  # type: ignore[arg-type]
        (
            BulkAction(
                name="ids_clash",
                params=msgspec.defstruct("P", [("ids", int)], forbid_unknown_fields=True),
                apply=count_only,
            ),
            "may not be named ids",
        ),
        (BulkAction(name="fly", params=NoParams, apply=count_only, actions=("fly",)), "among"),
        ("not an action", "non-BulkAction"),
        (BulkAction(name="set_model", params=NoParams, apply=count_only), r"'bad'.*'stamper'"),
    ],
)
def test_bad_bulk_actions_stop_start_up(action: Any, message: str) -> None:
    with pytest.raises(PluginError, match=message) as info:
        _host(("bad", _plugin(action)))
    assert "bad" in str(info.value)


async def test_a_plugin_action_through_the_api(runtime: Runtime, client: httpx.AsyncClient) -> None:
    vehicles = runtime.records("vehicle")
    a = await vehicles.create({"make": "Volvo"}, actor=SYSTEM)
    b = await vehicles.create({"make": "Saab", "model": "900"}, actor=SYSTEM)
    sold = await vehicles.create({"make": "Fiat", "price": 1, "status": "sold"}, actor=SYSTEM)
    url = "/api/v1/vehicles/bulk"
    r = await client.post(url, json={"action": "set_model", "query": {}, "model": "900"})
    assert r.status_code == 422, r.text  # the sold one: nothing is written
    assert r.json()["errors"] == [
        {"id": str(sold["id"]), "field": "status", "message": "a sold vehicle keeps its model"}
    ]
    assert (await vehicles.get(a["id"]))["model"] is None
    r = await client.post(
        url, json={"action": "set_model", "ids": [str(a["id"]), str(b["id"])], "model": "900"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["changed"]) == (2, 1)
    assert (await vehicles.get(a["id"]))["model"] == "900"
    r = await client.post(url, json={"action": "set_model", "ids": [str(a["id"])]})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["model"]
    r = await client.post(url, json={"action": "count_only", "query": {}, "dry_run": True})
    assert r.json()["matched"] == 3 and r.json()["changed"] == 0, r.text
    doc = (await client.get("/schema/openapi.json")).json()
    description = doc["paths"]["/api/v1/vehicles/bulk"]["post"]["description"]
    assert "`set_model` (update): give every vehicle the same model" in description
    assert "VehicleBulkSetModel" in doc["components"]["schemas"]
    assert "IndividualBulkCountOnly" in doc["components"]["schemas"]
    assert "IndividualBulkSetModel" not in doc["components"]["schemas"]
