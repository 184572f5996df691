"""crmkit core: the plugin host, the entity machinery and the API they build.

Plugin authors import from here and nowhere deeper.
"""

from .api.auth import actor_of, runtime_of
from .api.entities import etag, request_data
from .api.problems import Problem, problem_responses
from .db.sql import join, sql
from .entity import EntityExtension, EntityType, Filter, Schema
from .errors import (
    BadRequest,
    Conflict,
    CrmError,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PluginError,
    PreconditionFailed,
    SettingsError,
    Unauthorized,
    ValidationFailed,
)
from .events import SYSTEM, Actor, Event, FieldChange, RecordRef, SaveContext
from .fields import FieldType
from .hookspecs import hookimpl
from .migrations.helpers import MigrationManager, add_index, create_table, entity_columns, run_sql
from .query.params import ListParams
from .records import Page, Records
from .runtime import Runtime
from .settings import Settings, load_settings
from .tables import EntityTable
from .tabs import TabPage, TabProvider
from .validation import validate

__all__ = [
    "SYSTEM",
    "Actor",
    "BadRequest",
    "Conflict",
    "CrmError",
    "EntityExtension",
    "EntityTable",
    "EntityType",
    "Event",
    "FieldChange",
    "FieldError",
    "FieldType",
    "Filter",
    "Forbidden",
    "ListParams",
    "MigrationManager",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PluginError",
    "PreconditionFailed",
    "Problem",
    "RecordRef",
    "Records",
    "Runtime",
    "SaveContext",
    "Schema",
    "Settings",
    "SettingsError",
    "TabPage",
    "TabProvider",
    "Unauthorized",
    "ValidationFailed",
    "actor_of",
    "add_index",
    "create_table",
    "entity_columns",
    "etag",
    "hookimpl",
    "join",
    "load_settings",
    "problem_responses",
    "request_data",
    "run_sql",
    "runtime_of",
    "sql",
    "validate",
]
