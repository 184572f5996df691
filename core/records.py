"""The record service: every read and write of an entity's rows goes through here.

Writes run in one transaction with their event: ``before_save`` (veto/normalise), the
row change, the tag index, ``record_changed`` (the activity log), and after commit
``after_commit``. Updates are ``WHERE id = ? AND version = ?``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.columns import Numeric

from .access import Access
from .db.sql import QueryString, join, sql
from .entity import BASE_FIELDS
from .errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from .events import Actor, Event, SaveContext, diff
from .query.compile import compile_list, encode_cursor
from .query.params import ListParams

if TYPE_CHECKING:
    from .entity import EntityType
    from .runtime import Runtime

__all__ = ["Page", "Records", "normalise_tags"]

MAX_TAG_LENGTH = 100


class Page(msgspec.Struct):
    data: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int | None = None


def normalise_tags(tags: list[str]) -> list[str]:
    """Trimmed, non-empty, unique (first spelling wins, case-insensitively), in order."""
    out: list[str] = []
    seen: set[str] = set()
    errors: list[FieldError] = []
    for i, tag in enumerate(tags):
        tag = " ".join(tag.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            errors.append(FieldError(f"tags[{i}]", f"longer than {MAX_TAG_LENGTH} characters"))
            continue
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    if errors:
        raise ValidationFailed("invalid tags", errors=errors)
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _unstorable(value: Any, path: str = "") -> list[FieldError]:
    """Values no engine stores alike: NUL characters (PostgreSQL refuses them in text and
    JSON) and non-finite numbers (``"NaN"`` decodes as a Decimal). Checked on every write
    so both engines answer with the same 422."""
    errors: list[FieldError] = []
    if isinstance(value, str):
        if "\x00" in value:
            errors.append(FieldError(path or "body", "must not contain NUL characters"))
    elif isinstance(value, decimal.Decimal | float):
        finite = value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
        if not finite:
            errors.append(FieldError(path or "body", "must be a finite number"))
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                errors.append(FieldError(path or "body", "keys must not contain NUL characters"))
                continue
            errors.extend(_unstorable(item, sub))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            errors.extend(_unstorable(item, f"{path}[{i}]"))
    return errors


def _fit_numeric(name: str, value: decimal.Decimal | int, precision: int, scale: int) -> Any:
    """``value`` rounded (half away from zero) to ``scale`` places; a 422 when it has more
    than ``precision - scale`` integer digits (PostgreSQL's rule, kept on SQLite too)."""
    value = decimal.Decimal(value)
    if not value.is_finite():
        return value  # refused with a field error by the write checks
    limit = decimal.Decimal(10) ** (precision - scale)
    if abs(value) < limit:
        context = decimal.Context(prec=max(28, precision + 2))
        value = value.quantize(decimal.Decimal(1).scaleb(-scale), decimal.ROUND_HALF_UP, context)
    if abs(value) >= limit:
        raise ValidationFailed(
            f"{name} is too large",
            errors=[FieldError(name, f"must be less than {limit} in absolute value")],
        )
    return value


class Records:
    """Reads and writes of one entity type, for the system or for one :class:`Access`.

    With an access, reads leave out the fields it cannot read and the records outside
    its scope (404, as if they did not exist); writes refuse fields it cannot write
    (403) and keep the values it cannot see.
    """

    def __init__(self, runtime: Runtime, entity: EntityType, access: Access | None = None) -> None:
        self.runtime = runtime
        self.entity = entity
        self.access = access
        self.db = runtime.db
        self.table = entity.tablename
        #: ``Numeric(digits=(precision, scale))`` columns: SQLite keeps a float, so values
        #: are rounded to the scale on the way in and given it on the way out, like
        #: PostgreSQL does, and both engines return ``"31999.90"`` for ``31999.9``.
        self.numeric_digits: dict[str, tuple[int, int]] = {
            name: tuple(c.digits)  # type: ignore[misc]
            for name, c in entity.columns.items()
            if isinstance(c, Numeric) and c.digits
        }

    # -- decoding --------------------------------------------------------------------

    def decode(self, row: dict[str, Any]) -> dict[str, Any]:
        """A database row as a record dict (JSON columns decoded)."""
        record = dict(row)
        for name in self.entity.json_columns:
            value = record.get(name)
            if isinstance(value, str | bytes):
                record[name] = msgspec.json.decode(value)
        for name in self.entity.uuid_columns:
            value = record.get(name)
            if isinstance(value, str):
                record[name] = uuid.UUID(value)
        if record.get("created_at") is not None:
            for name in ("created_at", "updated_at", "deleted_at"):
                value = record.get(name)
                if isinstance(value, dt.datetime) and value.tzinfo is None:
                    record[name] = value.replace(tzinfo=dt.UTC)
        for name, (precision, scale) in self.numeric_digits.items():
            value = record.get(name)
            if isinstance(value, decimal.Decimal) and value.is_finite():
                context = decimal.Context(prec=max(28, precision + 2))
                record[name] = value.quantize(decimal.Decimal(1).scaleb(-scale), context=context)
        return record

    async def expand(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fill the entity's read-only fields for a page of records (one call per page)."""
        if records and self.entity.expand is not None:
            await self.entity.expand(self.runtime, records)
        for record in records:
            for name in self.entity.read_only:
                record.setdefault(name, None)
        return records

    def to_read(self, record: dict[str, Any]) -> Any:
        """The record as the entity's read type (what the API returns), without the
        fields this service's access may not read."""
        hidden = self.hidden
        record = self._out(record)
        return msgspec.convert(
            {k: v for k, v in record.items() if k in self.entity.read_fields and k not in hidden},
            self.entity.read_type_without(hidden),
            strict=False,
            from_attributes=True,
        )

    # -- access --------------------------------------------------------------------

    @property
    def hidden(self) -> frozenset[str]:
        return self.access.hidden(self.entity.name) if self.access else frozenset()

    def _out(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as this access may see it: hidden fields, and the derived columns
        that would reveal them, left out."""
        if self.access is None:
            return record
        record = self.access.redact(self.entity.name, record)
        derived = self.entity.hidden_columns(self.hidden) - self.hidden
        return {k: v for k, v in record.items() if k not in derived} if derived else record

    def _scope(self) -> QueryString | None:
        """``own`` scope: records the user created, or owns or is assigned."""
        access = self.access
        if access is None or not access.own_only:
            return None
        ors = [sql("t.created_by = {}", access.actor.label)]
        if access.user_id:
            for name in self.entity.owner_fields:
                value: Any = access.user_id
                if name in self.entity.uuid_columns:
                    value = uuid.UUID(access.user_id)
                ors.append(sql(f"t.{name} = {{}}", value))
        return sql("({})", join(ors, " OR "))

    def _in_scope(self, record: dict[str, Any]) -> bool:
        access = self.access
        if access is None or not access.own_only:
            return True
        if record.get("created_by") == access.actor.label:
            return True
        return access.user_id is not None and any(
            str(record.get(name)) == access.user_id for name in self.entity.owner_fields
        )

    def _check_create(self, values: dict[str, Any]) -> None:
        if self.access is None:
            return
        defaults = {
            f.name: f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
            for f in msgspec.structs.fields(self.entity.create_type)
            if f.default is not msgspec.NODEFAULT or f.default_factory is not msgspec.NODEFAULT
        }
        defaults.update(tags=[], custom={})
        written = []
        for name, value in values.items():
            if name == "custom" and isinstance(value, dict):
                written.extend(f"custom.{k}" for k in value)
            elif name not in defaults or value != defaults[name]:
                written.append(name)
        self.access.check_writes(self.entity.name, written)

    def _check_update(self, changes: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """Refuse changes to fields the access may not write (a hidden field, even unchanged:
        its equality must not leak); keep the custom values it may not write."""
        access = self.access
        if access is None:
            return changes
        hidden = access.hidden(self.entity.name)
        readonly = access.readonly(self.entity.name)
        if not readonly:
            return changes
        written = []
        for name, value in changes.items():
            if name == "custom" and isinstance(value, dict):
                before = old.get("custom") or {}
                written.extend(
                    f"custom.{k}"
                    for k, v in value.items()
                    if f"custom.{k}" in hidden or before.get(k) != v
                )
            elif name in hidden or old.get(name) != value:
                written.append(name)
        access.check_writes(self.entity.name, written)
        if isinstance(changes.get("custom"), dict):
            kept = {k: v for k, v in (old.get("custom") or {}).items() if f"custom.{k}" in readonly}
            changes = {**changes, "custom": {**kept, **changes["custom"]}}
        return changes

    def _builtins(self, values: dict[str, Any]) -> dict[str, Any]:
        """Incoming values with JSON columns as plain data and numerics rounded to their
        column's scale, so they compare with stored ones."""
        out = {}
        for k, v in values.items():
            if k in self.entity.json_columns:
                v = msgspec.to_builtins(v)
            elif k in self.numeric_digits and isinstance(v, decimal.Decimal | int):
                v = _fit_numeric(k, v, *self.numeric_digits[k])
            out[k] = v
        return out

    def _derived(self, values: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """Columns a plugin's ``before_save`` maintains beyond the writable fields, if changed."""
        return {
            k: v
            for k, v in values.items()
            if k in self.entity.columns
            and k not in self.entity.writable
            and k not in BASE_FIELDS
            and old.get(k) != v
        }

    def _params(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            if name in self.entity.json_columns:
                value = msgspec.json.encode(value).decode()
            out[name] = value
        return out

    # -- reads -----------------------------------------------------------------------

    async def fetch_row(
        self, record_id: uuid.UUID, *, include_deleted: bool = False, lock: bool = False
    ) -> dict[str, Any]:
        query = f"SELECT t.* FROM {self.table} AS t WHERE t.id = {{}}"
        if lock and self.db.kind == "postgres":
            query += " FOR UPDATE"
        row = await self.db.fetchrow(sql(query, record_id))
        if row is None or (row["deleted_at"] is not None and not include_deleted):
            raise NotFound(f"{self.entity.name} {record_id} not found")
        record = self.decode(row)
        if not self._in_scope(record):
            raise NotFound(f"{self.entity.name} {record_id} not found")
        return record

    async def get(self, record_id: uuid.UUID, *, include_deleted: bool = False) -> dict[str, Any]:
        record = await self.fetch_row(record_id, include_deleted=include_deleted)
        return self._out((await self.expand([record]))[0])

    async def _get_raw(self, record_id: uuid.UUID, **kw: Any) -> dict[str, Any]:
        record = await self.fetch_row(record_id, **kw)
        return (await self.expand([record]))[0]

    async def get_many(self, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        if not ids:
            return []
        inner = join([sql("{}", i) for i in ids], ", ")
        rows = await self.db.fetch(
            sql(f"SELECT t.* FROM {self.table} AS t WHERE t.id IN ({{}})", inner)
        )
        records = [r for r in (self.decode(r) for r in rows) if self._in_scope(r)]
        return [self._out(r) for r in await self.expand(records)]

    async def list(self, params: ListParams, *, extra: list[QueryString] | None = None) -> Page:
        await self.runtime.custom_fields.ensure()  # the types of custom.<key> filters
        scope = self._scope()
        compiled = compile_list(
            self.db,
            self.entity,
            params,
            custom_types=self.runtime.custom_types,
            extra=[*(extra or []), *([scope] if scope is not None else [])],
            runtime=self.runtime,
            hidden=self.entity.hidden_columns(self.hidden),
        )
        where = compiled.where
        if compiled.cursor_where is not None:
            where = sql("{} AND {}", where, compiled.cursor_where)
        rows = await self.db.fetch(
            sql(
                f"SELECT t.* FROM {self.table} AS t WHERE {{}} "
                f"ORDER BY {compiled.order_by} LIMIT {int(params.limit) + 1}",
                where,
            )
        )
        records = [self.decode(r) for r in rows]
        next_cursor = None
        if len(records) > params.limit:
            records = records[: params.limit]
            next_cursor = encode_cursor(compiled.sort, records[-1])
        total = None
        if params.count:
            total = await self.db.fetchval(
                sql(f"SELECT COUNT(*) AS n FROM {self.table} AS t WHERE {{}}", compiled.where)
            )
        data = [self._out(r) for r in await self.expand(records)]
        return Page(data=data, next_cursor=next_cursor, total=total)

    # -- writes ----------------------------------------------------------------------

    async def _before_save(
        self,
        action: str,
        values: dict[str, Any],
        old: dict[str, Any] | None,
        actor: Actor,
        source: str,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        if action != "restore":
            errors = _unstorable(values)
            if errors:
                raise ValidationFailed("a value cannot be stored", errors=errors)
        values["tags"] = normalise_tags(values.get("tags") or [])
        context = SaveContext(
            runtime=self.runtime,
            entity=self.entity,
            action=action,
            values=values,
            old=old,
            actor=actor,
            source=source,
            data=data,
        )
        await self.runtime.plugins.call("before_save", context=context)
        return context.values

    async def _sync_tags(self, record_id: uuid.UUID, tags: list[str], *, fresh: bool) -> None:
        if not fresh:
            await self.db.execute(
                sql("DELETE FROM crmkit_record_tag WHERE record_id = {}", record_id)
            )
        if tags:
            rows = join([sql("({}, {}, {})", self.entity.name, record_id, t) for t in tags], ", ")
            await self.db.execute(
                sql("INSERT INTO crmkit_record_tag (entity, record_id, tag) VALUES {}", rows)
            )

    def _event(
        self, action: str, record: dict[str, Any], actor: Actor, source: str, **kw: Any
    ) -> Event:
        return Event(
            entity=self.entity.name,
            record_id=record["id"],
            action=action,
            actor=actor,
            source=source,
            record=record,
            **kw,
        )

    async def create(
        self,
        values: dict[str, Any],
        *,
        actor: Actor,
        source: str = "api",
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Insert a record from writable values (already type-checked); returns it."""
        self._check_create(values)
        return await self._create(values, actor=actor, source=source, data=data)

    async def _create(
        self,
        values: dict[str, Any],
        *,
        actor: Actor,
        source: str,
        data: dict[str, Any] | None,
    ) -> dict[str, Any]:
        data = dict(data or {})
        async with self.runtime.write():
            values = await self._before_save(
                "create", self._builtins(values), None, actor, source, data
            )
            now = _now()
            row = {
                **{k: v for k, v in values.items() if k in self.entity.columns},
                "id": values.get("id") or uuid.uuid4(),
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "created_by": actor.label,
                "updated_by": actor.label,
            }
            params = self._params(row)
            cols = list(params)
            await self.db.execute(
                sql(
                    f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES "
                    f"({', '.join('{}' for _ in cols)})",
                    *params.values(),
                )
            )
            await self._sync_tags(row["id"], row["tags"], fresh=True)
            record = (await self.expand([await self.fetch_row(row["id"])]))[0]
            changes = diff(None, record, list(self.entity.writable))
            await self.runtime.emit(
                self._event("create", record, actor, source, changes=changes, data=data)
            )
        return self._out(record)

    async def update(
        self,
        record_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        actor: Actor,
        source: str = "api",
        if_version: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply a partial update; ``if_version`` (from If-Match) must still be current."""
        data = dict(data or {})
        async with self.runtime.write():
            old = await self.fetch_row(record_id, lock=True)
            if if_version is not None and old["version"] != if_version:
                raise PreconditionFailed(
                    f"{self.entity.name} {record_id} is at version {old['version']}, "
                    f"not {if_version}",
                    extra={"current_version": old["version"]},
                )
            old = (await self.expand([old]))[0]
            changes = self._check_update(changes, old)
            merged = {k: old.get(k) for k in self.entity.writable}
            merged.update(self._builtins(changes))
            values = await self._before_save("update", merged, old, actor, source, data)
            field_changes = diff(old, values, list(self.entity.writable))
            if not field_changes:
                return self._out(old)
            changed = {c.field.split(".")[0] for c in field_changes}
            params = self._params({k: values[k] for k in self.entity.writable if k in changed})
            params.update(self._params(self._derived(values, old)))
            sets = [f"{name} = {{}}" for name in params]
            sets += ["version = version + 1", "updated_at = {}", "updated_by = {}"]
            row = await self.db.fetchrow(
                sql(
                    f"UPDATE {self.table} SET {', '.join(sets)} "
                    "WHERE id = {} AND version = {} RETURNING id",
                    *params.values(),
                    _now(),
                    actor.label,
                    record_id,
                    old["version"],
                )
            )
            if row is None:  # another writer got in between (PostgreSQL without a lock)
                raise Conflict(f"{self.entity.name} {record_id} changed meanwhile; retry")
            if "tags" in changed:
                await self._sync_tags(record_id, values["tags"], fresh=False)
            record = await self._get_raw(record_id)
            await self.runtime.emit(
                self._event("update", record, actor, source, changes=field_changes, data=data)
            )
        return self._out(record)

    async def delete(
        self,
        record_id: uuid.UUID,
        *,
        actor: Actor,
        source: str = "api",
        hard: bool = False,
        if_version: int | None = None,
    ) -> None:
        """Soft delete (``deleted_at`` set), or remove the row for good with ``hard``."""
        async with self.runtime.write():
            old = await self.fetch_row(record_id, lock=True, include_deleted=hard)
            if if_version is not None and old["version"] != if_version:
                raise PreconditionFailed(f"{self.entity.name} {record_id} has changed")
            if hard:
                await self.db.execute(
                    sql("DELETE FROM crmkit_record_tag WHERE record_id = {}", record_id)
                )
                await self.db.execute(sql(f"DELETE FROM {self.table} WHERE id = {{}}", record_id))
                await self.runtime.emit(self._event("hard_delete", old, actor, source))
                return
            now = _now()
            await self.db.execute(
                sql(
                    f"UPDATE {self.table} SET deleted_at = {{}}, version = version + 1, "
                    "updated_at = {}, updated_by = {} WHERE id = {}",
                    now,
                    now,
                    actor.label,
                    record_id,
                )
            )
            record = await self._get_raw(record_id, include_deleted=True)
            await self.runtime.emit(
                self._event(
                    "delete",
                    record,
                    actor,
                    source,
                    changes=diff(old, record, ["deleted_at"]),
                )
            )

    async def restore(
        self, record_id: uuid.UUID, *, actor: Actor, source: str = "api"
    ) -> dict[str, Any]:
        """Undo a soft delete (a no-op on a record that is not deleted)."""
        async with self.runtime.write():
            old = await self.fetch_row(record_id, lock=True, include_deleted=True)
            if old["deleted_at"] is None:
                return self._out((await self.expand([old]))[0])
            values = {k: old.get(k) for k in self.entity.writable}
            await self._before_save("restore", values, old, actor, source, {})
            await self.db.execute(
                sql(
                    f"UPDATE {self.table} SET deleted_at = NULL, version = version + 1, "
                    "updated_at = {}, updated_by = {} WHERE id = {}",
                    _now(),
                    actor.label,
                    record_id,
                )
            )
            record = await self._get_raw(record_id)
            await self.runtime.emit(
                self._event(
                    "restore", record, actor, source, changes=diff(old, record, ["deleted_at"])
                )
            )
        return self._out(record)

    async def clone(
        self,
        record_id: uuid.UUID,
        overrides: dict[str, Any],
        *,
        actor: Actor,
        source: str = "api",
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new record with the writable values of an existing one (and any overrides)."""
        original = await self._get_raw(record_id)
        if self.access is not None:
            self._check_create(overrides)
        values = {k: original.get(k) for k in self.entity.writable}
        values.update(overrides)
        data = {"cloned_from": str(record_id), **(data or {})}
        return await self._create(values, actor=actor, source=source, data=data)
