"""``/api/v1/custom-fields``: definitions as data."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from ..api.entities import etag, parse_if_match
from ..api.problems import problem_responses
from ..errors import BadRequest, FieldError
from .definitions import Definition

__all__ = ["custom_field_router"]

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False)]


class DefinitionList(msgspec.Struct):
    data: list[Definition]


def _service(request: Request) -> Any:
    return request.app.state.runtime.custom_fields


def _body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest(
            "the body must be a JSON object", errors=[FieldError("body", "expected an object")]
        )
    return data


def _response(definition: Definition, status: int = 200) -> Response[Definition]:
    return Response(definition, status_code=status, headers={"ETag": etag(definition.version)})


@get("/", operation_id="list_custom_fields", summary="List custom-field definitions")
async def list_definitions(
    request: Request,
    entity: Annotated[str | None, QueryParameter()] = None,
    include_archived: Annotated[bool, QueryParameter()] = False,
) -> DefinitionList:
    return DefinitionList(await _service(request).list(entity, archived=include_archived))


@post(
    "/",
    operation_id="create_custom_field",
    summary="Define a custom field",
    status_code=HTTP_201_CREATED,
    responses=problem_responses(400, 401, 409, 422),
)
async def create_definition(
    request: Request, data: JSONBody[dict[str, Any]]
) -> Response[Definition]:
    definition = await _service(request).create(_body(data))
    response = _response(definition, HTTP_201_CREATED)
    response.headers["Location"] = f"/api/v1/custom-fields/{definition.id}"
    return response


@get("/{definition_id:uuid}", operation_id="get_custom_field", summary="Read a definition")
async def get_definition(request: Request, definition_id: FromPath[UUID]) -> Response[Definition]:
    return _response(await _service(request).get(definition_id))


@patch(
    "/{definition_id:uuid}",
    operation_id="update_custom_field",
    summary="Change a definition (label, rules, options, flags)",
    responses=problem_responses(400, 401, 404, 412, 422),
)
async def update_definition(
    request: Request,
    definition_id: FromPath[UUID],
    data: JSONBody[dict[str, Any]],
    if_match: IfMatch = None,
) -> Response[Definition]:
    definition = await _service(request).update(
        definition_id, _body(data), if_version=parse_if_match(if_match)
    )
    return _response(definition)


@delete(
    "/{definition_id:uuid}",
    operation_id="archive_custom_field",
    summary="Archive a definition (values are kept)",
    status_code=200,
)
async def archive_definition(
    request: Request, definition_id: FromPath[UUID]
) -> Response[Definition]:
    return _response(await _service(request).set_archived(definition_id, True))


@post(
    "/{definition_id:uuid}/restore",
    operation_id="restore_custom_field",
    summary="Restore an archived definition",
    status_code=200,
)
async def restore_definition(
    request: Request, definition_id: FromPath[UUID]
) -> Response[Definition]:
    return _response(await _service(request).set_archived(definition_id, False))


def custom_field_router() -> Router:
    return Router(
        path="/api/v1/custom-fields",
        route_handlers=[
            list_definitions,
            create_definition,
            get_definition,
            update_definition,
            archive_definition,
            restore_definition,
        ],
        tags=["Custom fields"],
        security=[{"ApiKey": []}, {"Bearer": []}],
    )
