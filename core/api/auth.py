"""API-key authentication for ``/api/v1`` (``Authorization: Bearer`` or ``X-API-Key``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)

from ..access import Access, set_current_access
from ..apikeys import authenticate
from ..errors import PluginError, Unauthorized
from ..events import Actor

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = [
    "ANONYMOUS",
    "ApiKeyMiddleware",
    "Permission",
    "access_of",
    "actor_of",
    "check_permission",
    "key_from_headers",
    "permission_guard",
    "runtime_of",
]

#: What a route needs, in its ``opt={"permission": ...}``: ``None`` (any valid key), an
#: ability (``"manage_users"``), an ``(entity, action)`` pair, a list of those (all
#: needed), or a function of the connection returning one of those.
Permission = Any
_ACCESS = "crmkit.access"

#: The actor of requests when auth is switched off (``CRMKIT_AUTH=false``, local only).
ANONYMOUS = Actor(id="anonymous", name="anonymous (auth off)", role="admin", kind="anonymous")


def key_from_headers(headers: Any) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("x-api-key") or None


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to the :class:`Actor` behind the key; 401 otherwise."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        runtime: Runtime = connection.app.state.runtime
        if not runtime.settings.auth:
            return AuthenticationResult(user=ANONYMOUS, auth=None)
        try:
            actor = await authenticate(runtime, key_from_headers(connection.headers))
        except Unauthorized as exc:
            raise NotAuthorizedException(
                detail=exc.detail, headers={"WWW-Authenticate": 'Bearer realm="crmkit"'}
            ) from None
        return AuthenticationResult(user=actor, auth=actor.id)


def actor_of(connection: ASGIConnection) -> Actor:
    user = connection.scope.get("user")
    return user if isinstance(user, Actor) else ANONYMOUS


def runtime_of(connection: ASGIConnection) -> Runtime:
    """The :class:`Runtime` serving this request (for plugin route handlers)."""
    return connection.app.state.runtime


def check_permission(access: Access, permission: Permission) -> None:
    """Raise :class:`~crmkit.core.errors.Forbidden` unless ``access`` has ``permission``."""
    if permission is None:
        return
    if isinstance(permission, str):
        access.require_ability(permission)
    elif isinstance(permission, tuple):
        access.require(*permission)
    elif isinstance(permission, list):
        for item in permission:
            check_permission(access, item)
    else:
        raise PluginError(f"not a permission: {permission!r}")


async def permission_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every ``/api/`` route: the actor's :class:`Access`, checked against the route's
    declared ``permission`` (a 403 problem when it falls short)."""
    if not connection.scope["path"].startswith("/api/"):
        return
    runtime = runtime_of(connection)
    access = await runtime.permissions.access(actor_of(connection))
    connection.scope[_ACCESS] = access  # type: ignore[literal-required]
    set_current_access(access)  # for tab providers and other code without the request
    permission = handler.opt.get("permission")
    if callable(permission):
        permission = permission(connection)
    check_permission(access, permission)


def access_of(connection: ASGIConnection) -> Access:
    """What the actor of this request may do (set by :func:`permission_guard`)."""
    access = connection.scope.get(_ACCESS)  # type: ignore[call-overload]
    if isinstance(access, Access):
        return access
    return Access.full(actor_of(connection))
