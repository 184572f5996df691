"""``/api/v1/saved-searches``: named list queries, private or shared, and their results.

Any key may keep saved searches (``permission: None``); what a search may query is
checked against the saver's access (``crmkit.core.saved_searches``), and its results
against the reader's: ``GET .../{id}/results`` needs ``(entity, "read")`` and answers
exactly what the entity's list answers for the same query string.
"""

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from .. import saved_searches as service
from ..errors import NotFound
from ..saved_searches import SavedSearch, SavedSearchCreate, SavedSearchPage, SavedSearchPatch
from .auth import access_of, runtime_of
from .problems import problem_responses

__all__ = ["SavedSearchResults", "saved_search_router"]

ANY_KEY = {"permission": None}  # ownership and entity grants are checked in the handlers


class SavedSearchResults(msgspec.Struct, kw_only=True):
    """A page of the search's entity, as its list returns it (``<Entity>Page``)."""

    data: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


def saved_search_router(*, default_limit: int = 50, max_limit: int = 500) -> Router:
    """The saved-search routes; results are paged like the lists (``page_size`` settings)."""

    @get(
        "/",
        operation_id="list_saved_searches",
        summary="List your saved searches and the shared ones",
        description=(
            "Your own saved searches and everyone's shared ones, of entities you may read, "
            "by name. `entity` keeps one entity's; `mine=true` only your own."
        ),
        opt=ANY_KEY,
        responses=problem_responses(400, 401),
    )
    async def list_searches(
        request: Request,
        entity: Annotated[str | None, QueryParameter(description="an entity name")] = None,
        mine: Annotated[bool, QueryParameter()] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=max_limit)] = default_limit,
        cursor: Annotated[str | None, QueryParameter()] = None,
    ) -> SavedSearchPage:
        return await service.list_saved_searches(
            runtime_of(request),
            access_of(request),
            entity=entity,
            mine=mine,
            limit=limit,
            cursor=cursor,
        )

    @post(
        "/",
        operation_id="create_saved_search",
        summary="Save a search",
        description=(
            "Stores an entity's list query: `q`, `filters` as `[param, value]` pairs of a "
            "list query string, and `sort`. It is checked now with your access: a bad or "
            "hidden field or operator is a 422 naming `filters[i]`, `sort` or `q`. "
            "Needs read access to the entity. Names are unique per owner and entity (409)."
        ),
        status_code=HTTP_201_CREATED,
        opt={**ANY_KEY, "body_type": SavedSearchCreate},
        responses=problem_responses(400, 401, 403, 409, 422),
    )
    async def create_search(
        request: Request, data: JSONBody[SavedSearchCreate]
    ) -> Response[SavedSearch]:
        saved = await service.create_saved_search(runtime_of(request), data, access_of(request))
        return Response(
            saved,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/saved-searches/{saved.id}"},
        )

    @get(
        "/{search_id:uuid}",
        operation_id="get_saved_search",
        summary="Read a saved search",
        description="Someone else's private search is a 404.",
        opt=ANY_KEY,
        responses=problem_responses(400, 401, 404),
    )
    async def get_search(request: Request, search_id: FromPath[UUID]) -> SavedSearch:
        return await service.get_saved_search(runtime_of(request), search_id, access_of(request))

    @patch(
        "/{search_id:uuid}",
        operation_id="update_saved_search",
        summary="Change a saved search",
        description=(
            "Partial update, by its owner, an admin or a `manage_users` holder (403 for "
            "anyone else). A changed query is checked again as on create."
        ),
        opt={**ANY_KEY, "body_type": SavedSearchPatch},
        responses=problem_responses(400, 401, 403, 404, 409, 422),
    )
    async def update_search(
        request: Request, search_id: FromPath[UUID], data: JSONBody[SavedSearchPatch]
    ) -> SavedSearch:
        return await service.update_saved_search(
            runtime_of(request), search_id, data, access_of(request)
        )

    @delete(
        "/{search_id:uuid}",
        operation_id="delete_saved_search",
        summary="Delete a saved search",
        description="Soft delete, by its owner, an admin or a `manage_users` holder.",
        status_code=HTTP_204_NO_CONTENT,
        opt=ANY_KEY,
        responses=problem_responses(400, 401, 403, 404),
    )
    async def delete_search(request: Request, search_id: FromPath[UUID]) -> None:
        await service.delete_saved_search(runtime_of(request), search_id, access_of(request))

    @get(
        "/{search_id:uuid}/results",
        operation_id="saved_search_results",
        summary="Run a saved search",
        description=(
            "The records matching the search now, with your access, paged like the "
            "entity's list (`limit`, `cursor`, `count=true` for `total`); each item is a "
            "record of the search's entity as its list returns it. Needs read access to "
            "the entity. A filter on a field you may not see is the same 400 as the list "
            "request with that filter."
        ),
        opt=ANY_KEY,
        responses=problem_responses(400, 401, 403, 404),
    )
    async def search_results(
        request: Request,
        search_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=max_limit)] = default_limit,
        cursor: Annotated[str | None, QueryParameter()] = None,
        count: Annotated[bool, QueryParameter()] = False,
    ) -> SavedSearchResults:
        runtime, access = runtime_of(request), access_of(request)
        saved = await service.get_saved_search(runtime, search_id, access)
        entity = runtime.plugins.entities.get(saved.entity)
        if entity is None:  # its plugin is disabled
            raise NotFound(f"the entity {saved.entity!r} of this saved search is not enabled")
        access.require(entity.name, "read")
        records = runtime.records(entity, access)
        page = await records.list(
            service.params(saved, limit=limit, cursor=cursor or None, count=count)
        )
        # Items are the entity's read structs (encoded as the list encodes them).
        data: list[Any] = [records.to_read(r) for r in page.data]
        return SavedSearchResults(data=data, next_cursor=page.next_cursor, total=page.total)

    return Router(
        path="/api/v1/saved-searches",
        route_handlers=[
            list_searches,
            create_search,
            get_search,
            update_search,
            delete_search,
            search_results,
        ],
        tags=["Saved searches"],
        security=[{"ApiKey": []}, {"Bearer": []}],
    )
