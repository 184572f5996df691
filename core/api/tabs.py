"""Tabs of a record: the list with counts, one tab's page, and the 360° overview."""

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.params import FromPath, QueryParameter

from ..entity import EntityType
from ..errors import NotFound
from ..query.params import parse_list_params
from ..runtime import Runtime
from .auth import access_of
from .problems import problem_responses

__all__ = ["Overview", "Tab", "TabItems", "tab_handlers"]


class Tab(msgspec.Struct):
    key: str
    title: str
    count: int
    href: str
    create_href: str | None = None


class TabItems(msgspec.Struct):
    key: str
    data: list[dict[str, Any]]
    next_cursor: str | None = None


class OverviewTab(msgspec.Struct):
    key: str
    title: str
    count: int
    items: list[dict[str, Any]]
    href: str


class Overview(msgspec.Struct):
    record: dict[str, Any]
    tabs: list[OverviewTab]


def _builtins(items: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(i) for i in items]


def tab_handlers(entity: EntityType) -> list[Any]:
    name, plural = entity.name, entity.plural

    def providers(request: Request) -> list[Any]:
        """The tabs this reader may see: each entity a tab reads must be readable."""
        runtime: Runtime = request.app.state.runtime
        access = access_of(request)
        return [
            tab
            for tab in runtime.plugins.tabs_for(entity.name)
            if all(access.can(e, "read") for e in tab.reads)
        ]

    async def check(request: Request, record_id: UUID) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        return await runtime.records(entity, access_of(request)).get(record_id)

    @get(
        "/{record_id:uuid}/tabs",
        operation_id=f"list_{name}_tabs",
        opt={"permission": (name, "read")},
        responses=problem_responses(400, 401, 404),
        summary=f"The tabs of a {name}, with counts",
    )
    async def list_tabs(request: Request, record_id: FromPath[UUID]) -> list[Tab]:
        runtime: Runtime = request.app.state.runtime
        await check(request, record_id)
        out = []
        for tab in providers(request):
            out.append(
                Tab(
                    key=tab.key,
                    title=tab.title,
                    count=await tab.count(runtime, entity, record_id),
                    href=f"/api/v1/{plural}/{record_id}/tabs/{tab.key}",
                    create_href=tab.create_href(entity, record_id) if tab.create_href else None,
                )
            )
        return out

    @get(
        "/{record_id:uuid}/tabs/{key:str}",
        operation_id=f"get_{name}_tab",
        opt={"permission": (name, "read")},
        responses=problem_responses(400, 401, 404),
        summary=f"One tab of a {name} (paged like a list)",
    )
    async def get_tab(
        request: Request,
        record_id: FromPath[UUID],
        key: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter()] = None,
    ) -> TabItems:
        runtime: Runtime = request.app.state.runtime
        await check(request, record_id)
        tab = next((t for t in providers(request) if t.key == key), None)
        if tab is None:
            raise NotFound(f"{plural} have no tab {key!r}")
        params = parse_list_params(request.query_params.multi_items())
        page = await tab.page(runtime, entity, record_id, params)
        return TabItems(key=key, data=_builtins(page.items), next_cursor=page.next_cursor)

    @get(
        "/{record_id:uuid}/overview",
        operation_id=f"get_{name}_overview",
        opt={"permission": (name, "read")},
        responses=problem_responses(400, 401, 404),
        summary=f"A {name} with every tab's count and first items",
    )
    async def overview(
        request: Request,
        record_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=50)] = 5,
    ) -> Overview:
        runtime: Runtime = request.app.state.runtime
        record = await check(request, record_id)
        params = parse_list_params([("limit", str(limit))])
        tabs = []
        for tab in providers(request):
            page = await tab.page(runtime, entity, record_id, params)
            tabs.append(
                OverviewTab(
                    key=tab.key,
                    title=tab.title,
                    count=await tab.count(runtime, entity, record_id),
                    items=_builtins(page.items),
                    href=f"/api/v1/{plural}/{record_id}/tabs/{tab.key}",
                )
            )
        return Overview(
            record=msgspec.to_builtins(runtime.records(entity, access_of(request)).to_read(record)),
            tabs=tabs,
        )

    return [list_tabs, get_tab, overview]
