"""Core's own Piccolo app: the tag index and API keys."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from .tables import CORE_TABLES

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(CORE_TABLES),
)
