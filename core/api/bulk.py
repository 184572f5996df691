"""``POST /api/v1/<plural>/bulk``: one action on many records, all or nothing.

The body is a tagged union on ``action``: one struct per action (the core's and the
plugins' for this entity), so the OpenAPI document shows each action's own members
(``set`` typed as the entity's patch, a plugin action's parameters). msgspec stops at the
first problem, so the body is checked before Litestar decodes it, listing every problem
(those inside ``set`` included).
"""

import typing
from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.params import JSONBody

from ..bulk import (
    CORE_ACTIONS,
    MAX_RECORDS,
    SAMPLE_SIZE,
    BulkAction,
    BulkResult,
    TagsParams,
    bulk_permissions,
    run_bulk,
)
from ..entity import EntityType
from ..errors import BadRequest, FieldError, ValidationFailed
from ..validation import field_errors
from .auth import access_of, actor_of, check_permission, runtime_of
from .entities import request_data
from .problems import problem_responses

__all__ = ["bulk_body_types", "bulk_handlers"]

Ids = Annotated[
    list[UUID],
    msgspec.Meta(
        min_length=1,
        max_length=MAX_RECORDS,
        description=f"The records, by id (at most {MAX_RECORDS}; duplicates count once).",
    ),
]
Query = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=(
            'The records a list with these filters and `q` returns (`{"q": "acme", '
            '"type": "customer", "tag": ["vip", "nordic"], "custom.budget__gt": 1000}`); '
            f"more than {MAX_RECORDS} is a 422."
        )
    ),
]
DryRun = Annotated[
    bool,
    msgspec.Meta(
        description=(
            "Run the action and roll it back: the response tells what would change, the "
            f"problems it would meet and the first {SAMPLE_SIZE} records matched."
        )
    ),
]
_COMMON: list[tuple[str, Any, Any]] = [
    ("ids", Ids | msgspec.UnsetType, msgspec.UNSET),
    ("query", Query | msgspec.UnsetType, msgspec.UNSET),
    ("dry_run", DryRun, False),
]
_ABOUT = {
    "update": "Set fields (`set`, as in a PATCH; `custom` keys merge into each record's).",
    "delete": "Soft-delete the records (already deleted ones are left as they are).",
    "restore": "Restore deleted records (with `query`: the deleted ones it matches).",
    "add_tags": "Add tags to each record.",
    "remove_tags": "Remove tags from each record (case-insensitive).",
}


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _param_fields(params: type[msgspec.Struct]) -> list[tuple[str, Any, Any]]:
    hints = typing.get_type_hints(params, include_extras=True)
    out: list[tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(params):
        if f.default is not msgspec.NODEFAULT:
            out.append((f.name, hints[f.name], f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            out.append((f.name, hints[f.name], msgspec.field(default_factory=f.default_factory)))
        else:
            out.append((f.name, hints[f.name], msgspec.NODEFAULT))
    return out


def bulk_body_types(
    entity: EntityType, actions: Sequence[BulkAction] = ()
) -> dict[str, type[msgspec.Struct]]:
    """The body struct of each action on ``entity`` (tagged by ``action``), by name."""
    own: dict[str, list[tuple[str, Any, Any]]] = {
        "update": [("set", entity.patch_type, msgspec.NODEFAULT)],
        "delete": [],
        "restore": [],
        "add_tags": _param_fields(TagsParams),
        "remove_tags": _param_fields(TagsParams),
    }
    for action in actions:
        own[action.name] = _param_fields(action.params)
    types: dict[str, type[msgspec.Struct]] = {}
    for name, fields in own.items():
        members = [
            (n, tp) if default is msgspec.NODEFAULT else (n, tp, default)
            for n, tp, default in [*_COMMON, *fields]
        ]
        struct = msgspec.defstruct(
            f"{_pascal(entity.name)}Bulk{_pascal(name)}",
            members,
            tag_field="action",
            tag=name,
            kw_only=True,
            forbid_unknown_fields=True,
            module=entity.schema.__module__,
        )
        types[name] = struct
    return types


def _body_errors(
    entity: EntityType, types: dict[str, type[msgspec.Struct]], obj: Any
) -> list[FieldError]:
    """Every problem of a bulk body (msgspec would stop at the first)."""
    if not isinstance(obj, dict):
        return [FieldError("body", "expected a JSON object")]
    action = obj.get("action")
    tp = types.get(action) if isinstance(action, str) else None
    if tp is None:
        message = "required" if action is None else f"must be one of {', '.join(types)}"
        return [FieldError("action", message)]
    rest = {k: v for k, v in obj.items() if k != "action"}
    errors = field_errors(tp, rest)
    if action == "update" and isinstance(rest.get("set"), dict):
        inside = field_errors(entity.patch_type, rest["set"], prefix="set")
        errors = [
            e for e in errors if not (e.field == "set" or e.field.startswith(("set.", "set[")))
        ] + inside
    if ("ids" in rest) == ("query" in rest) and not any(
        e.field.split(".")[0].split("[")[0] in ("ids", "query") for e in errors
    ):
        errors.append(FieldError("ids", "give either ids or query (not both)"))
    return errors


def bulk_handlers(entity: EntityType, actions: Sequence[BulkAction] = ()) -> list[Any]:
    """The bulk route of ``entity`` with the core's actions and ``actions`` (plugins')."""
    name, plural = entity.name, entity.plural
    types = bulk_body_types(entity, actions)
    action_of = {tp: action for action, tp in types.items()}
    plugin = {a.name: a for a in actions}
    Body = typing.Union[tuple(types.values())]  # type: ignore[valid-type]  # noqa: UP007

    async def check_body(request: Request) -> None:
        try:
            obj = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise BadRequest(
                "malformed JSON body", errors=[FieldError("body", "malformed JSON")]
            ) from None
        errors = _body_errors(entity, types, obj)
        if errors:
            raise ValidationFailed(
                f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the request body",
                errors=errors,
            )

    listed = "\n".join(
        [f"- `{a}` ({CORE_ACTIONS[a]}): {_ABOUT[a]}" for a in CORE_ACTIONS]
        + [
            f"- `{a.name}` ({', '.join([*a.actions, *(f'{e} {n}' for e, n in a.requires)])}): "
            f"{a.summary or 'a plugin action.'}"
            for a in actions
        ]
    )

    @post(
        "/bulk",
        operation_id=f"bulk_{plural}",
        summary=f"Apply one action to many {plural}, all or nothing",
        description=(
            f"Name the records by `ids` or by `query` (at most {MAX_RECORDS}). One "
            "transaction: when any record fails, nothing is changed and the 422 lists every "
            "problem by record (`id`, `field`, `message`). Each changed record gets an "
            "activity entry with source `bulk`; `changed` counts the records that really "
            "changed. Needs the `bulk` permission and the action's own (in brackets):\n\n"
            f"{listed}"
        ),
        status_code=200,
        opt={"permission": [(name, "bulk")]},
        before_request=check_body,
        responses=problem_responses(400, 401, 403, 422),
    )
    async def bulk(request: Request, data: JSONBody[Body]) -> BulkResult:  # type: ignore[valid-type]
        runtime = runtime_of(request)
        access = access_of(request)
        action = action_of[type(data)]
        check_permission(access, bulk_permissions(runtime, entity, action))
        params: Any = None
        if action == "update":
            params = {"set": data.set}
        elif action in ("add_tags", "remove_tags"):
            params = TagsParams(tags=data.tags)
        elif action in plugin:
            params_type = plugin[action].params
            params = params_type(
                **{f.name: getattr(data, f.name) for f in msgspec.structs.fields(params_type)}
            )
        return await run_bulk(
            runtime,
            entity,
            action,
            ids=None if data.ids is msgspec.UNSET else data.ids,
            query=None if data.query is msgspec.UNSET else data.query,
            params=params,
            dry_run=data.dry_run,
            actor=actor_of(request),
            access=access,
            data=request_data(request),
        )

    return [bulk]
