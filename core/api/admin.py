"""``/api/v1/users``, ``/api/v1/roles``, ``/api/v1/field-permissions`` and ``/api/v1/api-keys``.

Each handler declares what it needs in ``opt["permission"]`` (checked by
:func:`~crmkit.core.api.auth.permission_guard`). Beyond that, nobody hands out more
than they have: a role, user or key can only be given, changed or revoked by someone
whose own abilities cover the role's (only an admin grants or touches ``admin``), so
``manage_users`` alone is no way to become an administrator. Everyone may see, create
and revoke their own keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from .. import apikeys, roles, users
from ..access import ABILITIES, ACTIONS, Access, FieldRule, Role
from ..errors import FieldError, Forbidden, NotFound, ValidationFailed
from ..events import Actor
from ..roles import FieldRuleBody, RoleCreate, RolePatch
from ..users import User, UserCreate, UserPage, UserPatch
from .auth import access_of, actor_of, runtime_of
from .problems import problem_responses

__all__ = ["admin_routers"]

SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
MANAGE_USERS = {"permission": "manage_users"}


# -- what nobody may do: hand out more than they have -----------------------------------


async def _may_grant(request: Request, role_name: str, field: str = "role") -> None:
    """403 unless the actor's abilities cover those of ``role_name`` (admin: admins only)."""
    access = access_of(request)
    if access.is_admin:
        return
    try:
        role = await roles.get_role(runtime_of(request), role_name)  # not a cache: exact
    except NotFound:  # an unknown role is the service's 422
        return
    beyond = set(role.abilities) - set(access.role.abilities)
    if role.name == "admin" or beyond:
        raise Forbidden(
            f"role {access.role.name!r} may not hand out or manage the role {role_name!r}",
            errors=[FieldError(field, "a role with more rights than your own")],
        )


def _may_give_abilities(access: Access, abilities: list[str]) -> None:
    beyond = sorted(set(abilities) - set(access.role.abilities))
    if beyond and not access.is_admin:
        raise Forbidden(
            f"role {access.role.name!r} may not grant {', '.join(beyond)}",
            errors=[FieldError("abilities", "more than your own role has")],
        )


# -- users -----------------------------------------------------------------------------


class Me(msgspec.Struct, kw_only=True):
    """Who the request acts as, and what it may do (for UIs)."""

    actor: Actor
    user: User | None
    role: Role
    #: Effective actions per entity (and other subjects such as ``activity``).
    grants: dict[str, list[str]]
    abilities: list[str]
    #: Fields this actor can read but not write, per entity.
    readonly_fields: dict[str, list[str]]


@get(
    "/",
    operation_id="list_users",
    summary="List users (by e-mail address)",
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403),
)
async def list_users(
    request: Request,
    active: Annotated[bool | None, QueryParameter()] = None,
    role: Annotated[str | None, QueryParameter()] = None,
    q: Annotated[str | None, QueryParameter(description="part of the name or address")] = None,
    include_deleted: Annotated[bool, QueryParameter()] = False,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, QueryParameter()] = None,
) -> UserPage:
    return await users.list_users(
        runtime_of(request),
        active=active,
        role=role,
        q=q,
        include_deleted=include_deleted,
        limit=limit,
        cursor=cursor,
    )


@post(
    "/",
    operation_id="create_user",
    summary="Add a user",
    status_code=HTTP_201_CREATED,
    opt={**MANAGE_USERS, "body_type": UserCreate},
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_user(request: Request, data: JSONBody[UserCreate]) -> Response[User]:
    await _may_grant(request, data.role)
    user = await users.create_user(runtime_of(request), data)
    return Response(
        user, status_code=HTTP_201_CREATED, headers={"Location": f"/api/v1/users/{user.id}"}
    )


@get(
    "/me",
    operation_id="get_me",
    summary="The current user (or key) and what its role allows",
    opt={"permission": None},
    responses=problem_responses(400, 401),
)
async def get_me(request: Request) -> Me:
    runtime = runtime_of(request)
    actor = actor_of(request)
    access = await runtime.permissions.access(actor)
    user = await users.get_user(runtime, actor.id) if actor.kind == "user" else None
    subjects = [*runtime.plugins.entities.names(), *roles.SUBJECTS]
    grants = {s: [a for a in ACTIONS if access.can(s, a)] for s in subjects}
    readonly = {}
    for name in runtime.plugins.entities.names():
        fields = sorted(access.readonly(name) - access.hidden(name))
        if fields:
            readonly[name] = fields
    return Me(
        actor=actor,
        user=user,
        role=access.role,
        grants={s: a for s, a in grants.items() if a},
        abilities=[a for a in ABILITIES if access.has(a)],
        readonly_fields=readonly,
    )


@get(
    "/{user_id:uuid}",
    operation_id="get_user",
    summary="Read a user",
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403, 404),
)
async def get_user(request: Request, user_id: FromPath[UUID]) -> User:
    return await users.get_user(runtime_of(request), user_id)


@patch(
    "/{user_id:uuid}",
    operation_id="update_user",
    summary="Change a user (name, address, role, active); applies to their keys at once",
    opt={**MANAGE_USERS, "body_type": UserPatch},
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def update_user(request: Request, user_id: FromPath[UUID], data: JSONBody[UserPatch]) -> User:
    runtime = runtime_of(request)
    await _may_grant(request, (await users.get_user(runtime, user_id)).role)
    if data.role is not msgspec.UNSET:
        await _may_grant(request, data.role)
    return await users.update_user(runtime, user_id, data)


@delete(
    "/{user_id:uuid}",
    operation_id="delete_user",
    summary="Deactivate a user for good (restorable); their keys stop working",
    status_code=200,
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def delete_user(request: Request, user_id: FromPath[UUID]) -> User:
    runtime = runtime_of(request)
    await _may_grant(request, (await users.get_user(runtime, user_id)).role)
    return await users.delete_user(runtime, user_id)


@post(
    "/{user_id:uuid}/restore",
    operation_id="restore_user",
    summary="Undo the deletion of a user",
    status_code=200,
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403, 404),
)
async def restore_user(request: Request, user_id: FromPath[UUID]) -> User:
    runtime = runtime_of(request)
    await _may_grant(request, (await users.get_user(runtime, user_id)).role)
    return await users.restore_user(runtime, user_id)


# -- roles -----------------------------------------------------------------------------


class RoleList(msgspec.Struct):
    data: list[Role]


@get(
    "/",
    operation_id="list_roles",
    summary="The built-in roles, then the custom ones",
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403),
)
async def list_roles(request: Request) -> RoleList:
    return RoleList(await roles.list_roles(runtime_of(request)))


@post(
    "/",
    operation_id="create_role",
    summary="Define a custom role",
    status_code=HTTP_201_CREATED,
    opt={**MANAGE_USERS, "body_type": RoleCreate},
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_role(request: Request, data: JSONBody[RoleCreate]) -> Response[Role]:
    _may_give_abilities(access_of(request), data.abilities)
    role = await roles.create_role(runtime_of(request), data)
    return Response(
        role, status_code=HTTP_201_CREATED, headers={"Location": f"/api/v1/roles/{role.name}"}
    )


@get(
    "/{name:str}",
    operation_id="get_role",
    summary="Read a role",
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403, 404),
)
async def get_role(request: Request, name: FromPath[str]) -> Role:
    return await roles.get_role(runtime_of(request), name)


@patch(
    "/{name:str}",
    operation_id="update_role",
    summary="Change a custom role (built-in ones are read-only: 409)",
    opt={**MANAGE_USERS, "body_type": RolePatch},
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def update_role(request: Request, name: FromPath[str], data: JSONBody[RolePatch]) -> Role:
    await _may_grant(request, name, "name")
    if data.abilities is not msgspec.UNSET:
        _may_give_abilities(access_of(request), data.abilities)
    return await roles.update_role(runtime_of(request), name, data)


@delete(
    "/{name:str}",
    operation_id="delete_role",
    summary="Delete a custom role nobody uses (409 naming who does)",
    status_code=HTTP_204_NO_CONTENT,
    opt=MANAGE_USERS,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def delete_role(request: Request, name: FromPath[str]) -> None:
    await _may_grant(request, name, "name")
    await roles.delete_role(runtime_of(request), name)


# -- field permissions -------------------------------------------------------------------


class FieldRuleList(msgspec.Struct):
    data: list[FieldRule]


@get(
    "/",
    operation_id="list_field_permissions",
    summary="Every field rule: built-in fields, then custom.<key> ones, per entity",
    opt={"permission": "manage_fields"},
    responses=problem_responses(400, 401, 403),
)
async def list_field_rules(request: Request) -> FieldRuleList:
    return FieldRuleList(await roles.field_rules(runtime_of(request)))


@get(
    "/{entity:str}",
    operation_id="get_field_permissions",
    summary="The field rules of one entity",
    opt={"permission": "manage_fields"},
    responses=problem_responses(400, 401, 403, 404),
)
async def get_field_rules(request: Request, entity: FromPath[str]) -> FieldRuleList:
    return FieldRuleList(await roles.field_rules(runtime_of(request), entity))


@put(
    "/{entity:str}/{field:str}",
    operation_id="put_field_permission",
    summary="Limit who reads and writes one field (empty lists: everyone the role grants allow)",
    opt={"permission": "manage_fields", "body_type": FieldRuleBody},
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def put_field_rule(
    request: Request, entity: FromPath[str], field: FromPath[str], data: JSONBody[FieldRuleBody]
) -> FieldRule:
    return await roles.put_field_rule(runtime_of(request), entity, field, data)


# -- API keys ------------------------------------------------------------------------------


class ApiKeyOut(msgspec.Struct, kw_only=True):
    """A key without its secret; ``role`` is its user's current role for a user's key."""

    id: UUID
    name: str
    role: str
    prefix: str
    user_id: UUID | None = None
    user_email: str | None = None
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    """A new key, with the key itself: shown this once, never again."""

    key: str


class ApiKeyList(msgspec.Struct):
    data: list[ApiKeyOut]


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``user_id``: a key acting as that user (omit both it and ``role`` for your own key);
    ``role``: a service key with that role."""

    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    user_id: UUID | None = None
    role: str | None = None
    expires_at: dt.datetime | None = None


def _out(info: apikeys.ApiKeyInfo) -> ApiKeyOut:
    return ApiKeyOut(**{f: getattr(info, f) for f in ApiKeyOut.__struct_fields__})


def _own(actor: Actor, info: apikeys.ApiKeyInfo) -> bool:
    if actor.kind == "user":
        return info.user_id is not None and str(info.user_id) == actor.id
    return actor.kind == "api_key" and str(info.id) == actor.id


@get(
    "/",
    operation_id="list_api_keys",
    summary="API keys: yours, or everyone's with manage_users",
    opt={"permission": None},
    responses=problem_responses(400, 401, 403),
)
async def list_api_keys(
    request: Request, user_id: Annotated[UUID | None, QueryParameter()] = None
) -> ApiKeyList:
    runtime = runtime_of(request)
    actor, access = actor_of(request), access_of(request)
    if access.has("manage_users"):
        keys = await apikeys.list_keys(runtime, user_id=user_id)
    elif actor.kind == "user":
        if user_id is not None and str(user_id) != actor.id:
            access.require_ability("manage_users")
        keys = await apikeys.list_keys(runtime, user_id=actor.id)
    else:
        own = await apikeys.get_key(runtime, actor.id) if actor.kind == "api_key" else None
        keys = [own] if own is not None and (user_id is None) else []
    return ApiKeyList([_out(k) for k in keys])


@post(
    "/",
    operation_id="create_api_key",
    summary="Create a key (returned once): your own, a user's, or a service key",
    status_code=HTTP_201_CREATED,
    opt={"permission": None, "body_type": ApiKeyCreate},
    responses=problem_responses(400, 401, 403, 422),
)
async def create_api_key(request: Request, data: JSONBody[ApiKeyCreate]) -> Response[ApiKeyCreated]:
    runtime = runtime_of(request)
    actor, access = actor_of(request), access_of(request)
    user_id = data.user_id
    if user_id is None and data.role is None:
        if actor.kind != "user":
            raise ValidationFailed(
                "a service key needs a role (or give user_id)",
                errors=[FieldError("role", "required for a service key")],
            )
        user_id = UUID(actor.id)
    if data.expires_at is not None:
        expires = data.expires_at
        expires = expires.replace(tzinfo=dt.UTC) if expires.tzinfo is None else expires
        if expires <= dt.datetime.now(dt.UTC):
            raise ValidationFailed(
                "the key would be expired already",
                errors=[FieldError("expires_at", "must be in the future")],
            )
    else:
        expires = None
    own = actor.kind == "user" and user_id is not None and str(user_id) == actor.id
    if not own:
        access.require_ability("manage_users")
        if user_id is not None:
            try:
                owner = await users.get_user(runtime, user_id)
            except NotFound:
                pass  # the service names user_id (422)
            else:
                await _may_grant(request, owner.role, "user_id")
        if data.role is not None:
            await _may_grant(request, data.role)
    info, key = await apikeys.create_key(
        runtime, name=data.name, role=data.role, expires_at=expires, user_id=user_id
    )
    body = ApiKeyCreated(key=key, **msgspec.structs.asdict(_out(info)))
    return Response(
        body, status_code=HTTP_201_CREATED, headers={"Location": f"/api/v1/api-keys/{info.id}"}
    )


async def _key_for(request: Request, key_id: UUID) -> apikeys.ApiKeyInfo:
    """The key, if it is the actor's own or the actor may manage it (404 / 403 otherwise)."""
    info = await apikeys.get_key(runtime_of(request), str(key_id))
    if not _own(actor_of(request), info):
        access_of(request).require_ability("manage_users")
        await _may_grant(request, info.role, "id")
    return info


@get(
    "/{key_id:uuid}",
    operation_id="get_api_key",
    summary="Read a key (never its secret)",
    opt={"permission": None},
    responses=problem_responses(400, 401, 403, 404),
)
async def get_api_key(request: Request, key_id: FromPath[UUID]) -> ApiKeyOut:
    return _out(await _key_for(request, key_id))


@delete(
    "/{key_id:uuid}",
    operation_id="revoke_api_key",
    summary="Revoke a key: it answers 401 from then on",
    status_code=200,
    opt={"permission": None},
    responses=problem_responses(400, 401, 403, 404),
)
async def revoke_api_key(request: Request, key_id: FromPath[UUID]) -> ApiKeyOut:
    info = await _key_for(request, key_id)
    return _out(await apikeys.revoke_key(runtime_of(request), str(info.id)))


def _router(path: str, handlers: list[Any], tag: str) -> Router:
    return Router(path=path, route_handlers=handlers, tags=[tag], security=SECURITY)


def admin_routers() -> list[Router]:
    """The routers of users, roles, field permissions and API keys."""
    return [
        _router(
            "/api/v1/users",
            [list_users, create_user, get_me, get_user, update_user, delete_user, restore_user],
            "Users",
        ),
        _router(
            "/api/v1/roles", [list_roles, create_role, get_role, update_role, delete_role], "Roles"
        ),
        _router(
            "/api/v1/field-permissions",
            [list_field_rules, get_field_rules, put_field_rule],
            "Field permissions",
        ),
        _router(
            "/api/v1/api-keys",
            [list_api_keys, create_api_key, get_api_key, revoke_api_key],
            "API keys",
        ),
    ]
