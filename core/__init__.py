"""crmkit core: the plugin host, the entity machinery and the API they build.

Plugin authors import from here and nowhere deeper.
"""

from .access import ACTIONS, BUILTIN_ROLES, Access, FieldRule, Role, current_access
from .api.auth import access_of, actor_of, check_permission, runtime_of
from .api.entities import etag, request_data
from .api.problems import Problem, problem_responses
from .bulk import BulkAction, for_each_record
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
from .search import reindex as reindex_search
from .settings import Settings, load_settings
from .tables import EntityTable
from .tabs import TabPage, TabProvider
from .transfer.registry import ExportFormat, TransferColumns
from .validation import validate

__all__ = [
    "ACTIONS",
    "BUILTIN_ROLES",
    "SYSTEM",
    "Access",
    "Actor",
    "BadRequest",
    "BulkAction",
    "Conflict",
    "CrmError",
    "EntityExtension",
    "EntityTable",
    "EntityType",
    "Event",
    "ExportFormat",
    "FieldChange",
    "FieldError",
    "FieldRule",
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
    "Role",
    "Runtime",
    "SaveContext",
    "Schema",
    "Settings",
    "SettingsError",
    "TabPage",
    "TabProvider",
    "TransferColumns",
    "Unauthorized",
    "ValidationFailed",
    "access_of",
    "actor_of",
    "add_index",
    "check_permission",
    "create_table",
    "current_access",
    "entity_columns",
    "etag",
    "for_each_record",
    "hookimpl",
    "join",
    "load_settings",
    "problem_responses",
    "reindex_search",
    "request_data",
    "run_sql",
    "runtime_of",
    "sql",
    "validate",
]
