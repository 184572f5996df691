"""``GET /api/v1/<plural>/export``: the entity's records as a streamed file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream

from ..entity import EntityType
from ..transfer.export import prepare
from .auth import access_of, runtime_of
from .problems import problem_responses

__all__ = ["export_handlers"]


def _operation(media_types: dict[str, str]) -> type[Operation]:
    """An OpenAPI operation whose 200 lists the media type of every format."""

    @dataclass
    class ExportOperation(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if ok is not None and not isinstance(ok, str) and hasattr(ok, "content"):
                ok.content = {
                    media_type.split(";")[0]: OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING, description=f"format={name}")
                    )
                    for name, media_type in media_types.items()
                }

    return ExportOperation


def export_handlers(entity: EntityType) -> list[Any]:
    """The export route of ``entity`` (served under the entity's router).

    The OpenAPI document lists core's formats; a plugin's (``vcf`` of individuals) is
    accepted too, and named in a 400 for an unknown ``format``.
    """
    name, plural = entity.name, entity.plural
    known = {"csv": "text/csv", "jsonl": "application/x-ndjson"}

    @get(
        "/export",
        operation_id=f"export_{plural}",
        opt={"permission": (name, "export")},
        summary=f"Export {plural} as a file (CSV, JSON Lines, ...)",
        description=(
            "Streams every matching record: the list's filters, `q`, `sort` and "
            "`include_deleted` apply (`limit` caps the rows; `saved` starts from a saved "
            "search), hidden fields are left out "
            "as in reads. CSV is UTF-8 with a BOM and a header row; lists are flattened "
            "(`email_1`, `email_1_label`, ...; the first is primary), `tags` joined with "
            "`;`, custom fields as `custom.<key>`. JSON Lines is one record per line in the "
            "read shape."
        ),
        responses=problem_responses(
            400, 401, 403, 404, 409, descriptions={404: "No such saved search"}
        ),
        operation_class=_operation(known),
    )
    async def export_records(
        request: Request,
        format_: Annotated[
            str,
            QueryParameter(
                name="format",
                description="csv, jsonl, or a format a plugin adds for this entity",
            ),
        ] = "csv",
        q: Annotated[str | None, QueryParameter(description="search query")] = None,
        sort: Annotated[str | None, QueryParameter()] = None,
        include_deleted: Annotated[bool, QueryParameter()] = False,
        saved: Annotated[
            str | None,
            QueryParameter(description="a saved search (id or name): its query, and yours"),
        ] = None,
    ) -> Stream:
        runtime = runtime_of(request)
        export = await prepare(
            runtime,
            entity,
            access_of(request),
            request.query_params.multi_items(),
            format=format_,
            saved=saved,
        )
        return Stream(
            export.chunks(),
            media_type=export.media_type,
            headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
        )

    return [export_records]
