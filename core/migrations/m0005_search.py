"""Core: the search index (one table for every entity; FTS5 on SQLite, tsvector + GIN and
pg_trgm on PostgreSQL). See docs/search.md and ``crmkit.core.search``."""

from crmkit.core.migrations.helpers import MigrationManager, run_sql
from piccolo.engine import engine_finder

ID = "0005_search"
VERSION = "1.38.0"
DESCRIPTION = "search index"

# One row per indexed value of a record: ``body`` holds its words (normalised, joined by
# single spaces), ``digits`` the digit strings of a phone number.
_COLUMNS = """
    entity VARCHAR(100) NOT NULL,
    record_id UUID NOT NULL,
    field VARCHAR(100) NOT NULL,
    weight INTEGER NOT NULL DEFAULT 1,
    body TEXT NOT NULL,
    digits TEXT NULL"""

_INDEX = "CREATE INDEX crmkit_search_record_idx ON crmkit_search (record_id, entity)"

# SQLite: two external-content FTS5 tables over crmkit_search, kept in step by triggers
# (in the writer's transaction). Words are already normalised and separated by single
# spaces, so the tokenizer only splits at spaces: marks count as letters (Devanagari
# vowel signs stay in their word) and no diacritics are removed twice. ``prefix``
# indexes make 2- and 3-letter prefixes cheap; ``columnsize=0``: no bm25, no sizes.
SQLITE = [
    f"CREATE TABLE crmkit_search (id INTEGER PRIMARY KEY,{_COLUMNS})",
    _INDEX,
    "CREATE VIRTUAL TABLE crmkit_search_fts USING fts5(body, content='crmkit_search', "
    "content_rowid='id', tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\", "
    "prefix='2 3', columnsize=0)",
    "CREATE VIRTUAL TABLE crmkit_search_digits USING fts5(digits, content='crmkit_search', "
    "content_rowid='id', tokenize='trigram', detail=none, columnsize=0)",
    "CREATE TRIGGER crmkit_search_ai AFTER INSERT ON crmkit_search BEGIN "
    "INSERT INTO crmkit_search_fts (rowid, body) VALUES (new.id, new.body); "
    "INSERT INTO crmkit_search_digits (rowid, digits) SELECT new.id, new.digits "
    "WHERE new.digits IS NOT NULL; END",
    "CREATE TRIGGER crmkit_search_ad AFTER DELETE ON crmkit_search BEGIN "
    "INSERT INTO crmkit_search_fts (crmkit_search_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO crmkit_search_digits (crmkit_search_digits, rowid, digits) "
    "SELECT 'delete', old.id, old.digits WHERE old.digits IS NOT NULL; END",
    "CREATE TRIGGER crmkit_search_au AFTER UPDATE ON crmkit_search BEGIN "
    "INSERT INTO crmkit_search_fts (crmkit_search_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO crmkit_search_digits (crmkit_search_digits, rowid, digits) "
    "SELECT 'delete', old.id, old.digits WHERE old.digits IS NOT NULL; "
    "INSERT INTO crmkit_search_fts (rowid, body) VALUES (new.id, new.body); "
    "INSERT INTO crmkit_search_digits (rowid, digits) SELECT new.id, new.digits "
    "WHERE new.digits IS NOT NULL; END",
]
SQLITE_BACK = [
    "DROP TRIGGER IF EXISTS crmkit_search_au",
    "DROP TRIGGER IF EXISTS crmkit_search_ad",
    "DROP TRIGGER IF EXISTS crmkit_search_ai",
    "DROP TABLE IF EXISTS crmkit_search_digits",
    "DROP TABLE IF EXISTS crmkit_search_fts",
    "DROP TABLE IF EXISTS crmkit_search",
]

# PostgreSQL: ``doc`` is the body as a tsvector with positions, written by the core
# (never parsed by a text-search configuration: Python's ``words`` decided the words).
# pg_trgm is installed in ``public`` when possible (so a schema dropped later cannot take
# it along), else in the current schema; the trigram index is built with the operator
# class of wherever it is, and skipped where the extension is not available at all.
POSTGRES = [
    f"CREATE TABLE crmkit_search (id BIGSERIAL PRIMARY KEY,{_COLUMNS},\n    doc TSVECTOR NOT NULL)",
    _INDEX,
    "CREATE INDEX crmkit_search_doc_idx ON crmkit_search USING GIN (doc)",
    """DO $$
DECLARE
    home TEXT;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        EXCEPTION
            WHEN insufficient_privilege OR invalid_schema_name THEN
                BEGIN
                    CREATE EXTENSION IF NOT EXISTS pg_trgm;
                EXCEPTION WHEN OTHERS THEN
                    NULL;
                END;
            WHEN unique_violation OR duplicate_object THEN
                NULL;
            WHEN undefined_file OR feature_not_supported THEN
                NULL;
        END;
    END IF;
    SELECT n.nspname INTO home FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF home IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX crmkit_search_digits_idx ON crmkit_search '
            'USING GIN (digits %I.gin_trgm_ops) WHERE digits IS NOT NULL',
            home
        );
    END IF;
END $$""",
]
POSTGRES_BACK = [
    "DROP TABLE IF EXISTS crmkit_search",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    engine = engine_finder()
    if engine is not None and engine.engine_type == "postgres":
        run_sql(manager, POSTGRES, POSTGRES_BACK)
    else:
        run_sql(manager, SQLITE, SQLITE_BACK)
    return manager
