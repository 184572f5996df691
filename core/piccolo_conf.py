"""A ``piccolo_conf`` module for Piccolo's own tooling (``PICCOLO_CONF=crmkit.core.piccolo_conf``).

Lets plugin authors run ``piccolo migrations new <app> --auto`` against the apps of the
enabled plugins. ``DB`` is the engine the migration runner is using, or one opened from
the settings; ``APP_REGISTRY`` holds the enabled plugins' apps.
"""

from __future__ import annotations

from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

_engine: Engine | None = None


def use_engine(engine: Engine) -> None:
    """Make Piccolo's ``engine_finder()`` return this engine (called by the migration runner)."""
    global _engine
    _engine = engine


class _Registry(AppRegistry):
    def __init__(self) -> None:
        from .plugins import PluginHost
        from .settings import load_settings

        super().__init__(apps=[])
        host = PluginHost(load_settings().plugins)
        for _, app in host.piccolo_apps():
            self.app_configs[app.app_name] = app
            self.apps.append(app.app_name)


def __getattr__(name: str) -> Any:
    global _engine
    if name == "DB":
        if _engine is None:
            from .db import open_database
            from .settings import load_settings

            _engine = open_database(load_settings().database_url).engine
        return _engine
    if name == "APP_REGISTRY":
        return _Registry()
    raise AttributeError(name)
