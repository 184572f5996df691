"""Requests per minute per API key (Litestar's rate-limit middleware): a 429 problem
with ``Retry-After`` when a key goes over ``rate_limit`` (``CRMKIT_RATE_LIMIT``; 0: off).

Counted per key, before authentication, so a flood of bad keys is limited too: the key's
public prefix identifies it (never the secret); requests without a key count per
client address. Counts live in the process (Litestar's memory store): with several
workers, each allows ``rate_limit`` — put a shared limit in the proxy in front if needed.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address

from .auth import key_from_headers

__all__ = ["rate_limit_config"]


def _identifier(request: Request[Any, Any, Any]) -> str:
    key = key_from_headers(request.headers)
    if key:
        parts = key.strip().split("_")
        if len(parts) >= 3 and parts[0] == "crm":
            return f"key:{parts[1]}"
    return f"addr:{get_remote_address(request)}"


def rate_limit_config(per_minute: int, public: list[str]) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=_identifier,
        exclude=public,
    )
