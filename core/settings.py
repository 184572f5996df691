"""Settings: ``CRMKIT_*`` environment variables over an optional ``crmkit.toml``.

One typed object, decoded with msgspec, so a wrong value is a one-line error naming
the setting instead of a surprise at run time.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from .errors import SettingsError

__all__ = ["Settings", "load_settings", "settings_path"]

DEFAULT_DATABASE_URL = "sqlite:///crmkit.db"


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every setting of a crmkit deployment (environment name in brackets)."""

    #: Where the data lives (``CRMKIT_DATABASE_URL``): ``sqlite:///path`` or ``postgresql://…``.
    database_url: str = DEFAULT_DATABASE_URL
    #: Enabled plugins (``CRMKIT_PLUGINS``, comma list); ``None`` means every installed plugin.
    plugins: list[str] | None = None
    #: Folder for uploaded files (``CRMKIT_DATA_DIR``).
    data_dir: str = "data"
    #: Require an API key on ``/api/v1`` (``CRMKIT_AUTH``). Only for local experiments.
    auth: bool = True
    #: Default and maximum page sizes for lists.
    page_size: int = 50
    max_page_size: int = 500
    #: Largest request body in bytes (``CRMKIT_MAX_BODY_SIZE``); larger is a 413.
    max_body_size: int = 10_000_000
    #: Largest upload in bytes (``CRMKIT_MAX_UPLOAD_SIZE``).
    max_upload_size: int = 50_000_000
    #: Requests per minute per API key (``CRMKIT_RATE_LIMIT``); 0 switches the limit off.
    rate_limit: int = 1200
    #: Connection pool size (PostgreSQL) and reader connections (SQLite).
    pool_size: int = 10
    #: Seconds a SQLite writer waits for the lock before giving up.
    sqlite_busy_timeout: float = 30.0
    #: Default region for phone numbers without a country code (ISO 3166-1 alpha-2).
    default_region: str = "NO"
    #: Settings of individual plugins, by plugin name (``[plugin.individuals]`` in the toml).
    plugin: dict[str, dict[str, Any]] = {}
    #: The toml file these settings were read from, if any.
    config_path: str | None = None

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The ``[plugin.<name>]`` table of the toml file (empty when absent)."""
        return self.plugin.get(name, {})


_LIST_SETTINGS = {"plugins"}


def settings_path(environ: Mapping[str, str] | None = None) -> Path:
    """The toml file in use: ``CRMKIT_CONFIG`` or ``./crmkit.toml``."""
    env = os.environ if environ is None else environ
    return Path(env.get("CRMKIT_CONFIG", "crmkit.toml"))


def _from_environ(env: Mapping[str, str]) -> dict[str, Any]:
    names = {f.name for f in msgspec.structs.fields(Settings)} - {"plugin", "config_path"}
    values: dict[str, Any] = {}
    for name in names:
        raw = env.get(f"CRMKIT_{name.upper()}")
        if raw is None:
            continue
        if name in _LIST_SETTINGS:
            values[name] = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            values[name] = raw
    return values


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the settings: keyword overrides > environment > toml file > defaults."""
    env = os.environ if environ is None else environ
    path = settings_path(env)
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text("utf-8")))
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        values["config_path"] = str(path)
    values.update(_from_environ(env))
    values.update(overrides)
    try:
        # strict=False: environment values are strings ("false", "500").
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
