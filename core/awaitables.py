"""One helper for hook results that may be awaitables (Datasette's ``await_me_maybe``)."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["await_all", "await_me_maybe"]


async def await_me_maybe(value: Any) -> Any:
    """Return ``value``, awaiting it first when it is awaitable (or calling it when it is a coroutine function)."""
    if callable(value) and inspect.iscoroutinefunction(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


async def await_all(values: list[Any]) -> list[Any]:
    """Await each hook result in turn (never concurrently: they may share one connection)."""
    return [await await_me_maybe(v) for v in values]
