"""API-key authentication for ``/api/v1`` (``Authorization: Bearer`` or ``X-API-Key``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)

from ..apikeys import authenticate
from ..errors import Unauthorized
from ..events import Actor

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["ANONYMOUS", "ApiKeyMiddleware", "actor_of", "key_from_headers", "runtime_of"]

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
