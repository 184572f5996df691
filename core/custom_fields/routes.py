"""``/api/v1/custom-fields``: definitions as data."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from ..api.auth import actor_of
from ..api.entities import etag, parse_if_match
from ..api.problems import problem_responses
from ..errors import BadRequest, FieldError
from .definitions import Definition
from .missing import MissingPage, missing_count, missing_page
from .type_change import TypeChange, TypeChangeReport, change_type
from .unconverted import UnconvertedPage, unconverted_page

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


MISSING_HEADER = ResponseHeader(
    name="X-Missing-Count",
    documentation_only=True,
    description=(
        "Sent when this request made the field required: how many live records have no "
        "value for it. They are not changed and stay readable and updatable; list them "
        "with GET /api/v1/custom-fields/{id}/missing."
    ),
)


async def _with_missing(
    request: Request, response: Response[Definition], definition: Definition, became: bool
) -> Response[Definition]:
    """``X-Missing-Count`` when the request made the field required (counted after commit)."""
    if became:
        count = await missing_count(request.app.state.runtime, definition)
        response.headers["X-Missing-Count"] = str(count)
    return response


@get(
    "/",
    operation_id="list_custom_fields",
    summary="List custom-field definitions",
    opt={"permission": None},  # any key: forms need them (changes need manage_fields)
)
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
    response_headers=[MISSING_HEADER],
)
async def create_definition(
    request: Request, data: JSONBody[dict[str, Any]]
) -> Response[Definition]:
    definition = await _service(request).create(_body(data))
    response = _response(definition, HTTP_201_CREATED)
    response.headers["Location"] = f"/api/v1/custom-fields/{definition.id}"
    return await _with_missing(request, response, definition, definition.required)


@get(
    "/{definition_id:uuid}",
    operation_id="get_custom_field",
    summary="Read a definition",
    opt={"permission": None},
)
async def get_definition(request: Request, definition_id: FromPath[UUID]) -> Response[Definition]:
    return _response(await _service(request).get(definition_id))


@patch(
    "/{definition_id:uuid}",
    operation_id="update_custom_field",
    summary="Change a definition (label, rules, options, flags)",
    description=(
        "Partial update of a definition. The type cannot change here: use "
        "`POST /api/v1/custom-fields/{id}/change-type`. Making a field required "
        "(`required: true`) changes no record: the response carries `X-Missing-Count`, "
        "the number of live records without a value (listed by `GET .../missing`); "
        "they stay readable and updatable, but a write that sets the field to null is a 422."
    ),
    responses=problem_responses(400, 401, 404, 412, 422),
    response_headers=[MISSING_HEADER],
)
async def update_definition(
    request: Request,
    definition_id: FromPath[UUID],
    data: JSONBody[dict[str, Any]],
    if_match: IfMatch = None,
) -> Response[Definition]:
    service = _service(request)
    before = await service.get(definition_id)
    definition = await service.update(
        definition_id, _body(data), if_version=parse_if_match(if_match)
    )
    became = definition.required and not before.required
    return await _with_missing(request, _response(definition), definition, became)


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


@post(
    "/{definition_id:uuid}/change-type",
    operation_id="change_custom_field_type",
    summary="Change a field's type: dry run (default), then apply",
    description=(
        "Converts every value of the field, on every record of its entity (soft-deleted "
        'ones too), into the new type: text `"12"` → integer 12, number → text, '
        "select → multi_select `[v]`, multi_select → select when it holds exactly one "
        "value, text → select only for values among the options, and so on.\n\n"
        "`dry_run` is true unless you send false: the response then only reports "
        "`records` (holding a value), `convertible`, `unconvertible`, `changed` and the "
        "first 100 `failures` (`record_id`, `value`, `message`).\n\n"
        "With `dry_run: false` the definition, the values, one activity entry per "
        "changed record, the expression index and the multi-select index change in one "
        "transaction. If any value cannot be converted the apply is refused with 409 "
        "(the problem document carries the same report) and nothing changes, unless "
        "`force: true`: each such value is then moved aside, not lost: removed from the "
        "record, named in its activity entry and listed by "
        "`GET /api/v1/custom-fields/{id}/unconverted`. `options`, `validation` and "
        "`default` describe the new type (by default the old options, the rules that "
        "still apply and the converted default are kept). `If-Match` is honoured."
    ),
    status_code=200,
    opt={"body_type": TypeChange},
    responses=problem_responses(400, 401, 404, 409, 412, 422),
)
async def change_definition_type(
    request: Request,
    definition_id: FromPath[UUID],
    data: JSONBody[TypeChange],
    if_match: IfMatch = None,
) -> TypeChangeReport:
    return await change_type(
        request.app.state.runtime,
        definition_id,
        data,
        actor=actor_of(request),
        if_version=parse_if_match(if_match),
    )


@get(
    "/{definition_id:uuid}/missing",
    operation_id="list_custom_field_missing",
    summary="Live records without a value for this field",
    description=(
        "Ids of live (not deleted) records that have no value for the field, in id "
        "order, `limit` (1..1000, default 100) at a time; pass `next_cursor` back as "
        "`cursor`. `total` counts all of them. Use it after making a field required."
    ),
    responses=problem_responses(400, 401, 404),
)
async def list_missing(
    request: Request,
    definition_id: FromPath[UUID],
    limit: Annotated[int, QueryParameter()] = 100,
    cursor: Annotated[str | None, QueryParameter()] = None,
) -> MissingPage:
    runtime = request.app.state.runtime
    definition = await runtime.custom_fields.get(definition_id)
    return await missing_page(runtime, definition, limit=limit, cursor=cursor)


@get(
    "/{definition_id:uuid}/unconverted",
    operation_id="list_custom_field_unconverted",
    summary="Values a forced type change moved aside",
    description=(
        "The values `change-type` with `force: true` could not convert: record, old "
        "value, old and new type, reason and when, paged like `/missing`. Fix a value "
        "by writing it to the record in the field's current type."
    ),
    responses=problem_responses(400, 401, 404),
)
async def list_unconverted(
    request: Request,
    definition_id: FromPath[UUID],
    limit: Annotated[int, QueryParameter()] = 100,
    cursor: Annotated[str | None, QueryParameter()] = None,
) -> UnconvertedPage:
    runtime = request.app.state.runtime
    definition = await runtime.custom_fields.get(definition_id)
    return await unconverted_page(runtime, definition, limit=limit, cursor=cursor)


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
            change_definition_type,
            list_missing,
            list_unconverted,
        ],
        tags=["Custom fields"],
        security=[{"ApiKey": []}, {"Bearer": []}],
        opt={"permission": "manage_fields"},
    )
