"""The rows of an import file: CSV, JSON Lines (vCards are in ``vcards.py``), read as a
stream, each row mapped, parsed and checked against the entity's create type.

A source turns a binary file into :class:`SourceRow` items, one at a time, so a file of
any size is read in constant memory. Rows are numbered from 1: the first data row of a
CSV file (the header is not a row), the first line of a JSON Lines file (blank lines
keep their number, so a row number is the line number), the first card of a vCard file.

Everything wrong with the file as a whole (no header, a ``mapping`` naming a column
that does not exist, a column the importer may not write, an encoding that is not the
one announced) is raised by the constructor, before any row is read: a 400 or 403 and
nothing written. Everything wrong with one row is a list of field errors on that row.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import msgspec

from ..entity import BASE_FIELDS
from ..errors import BadRequest, FieldError
from ..validation import field_errors
from .kinds import StructListColumns

if TYPE_CHECKING:
    from ..access import Access
    from ..entity import EntityType
    from .columns import ColumnModel
    from .presets import Preset

__all__ = [
    "ColumnMapping",
    "CsvSource",
    "JsonlSource",
    "Source",
    "SourceRow",
    "check_writable",
    "field_of",
    "is_column",
    "open_text",
    "parse_mapping",
    "releasing",
    "typed_row",
]

#: ``mapping``: source column -> target column (``None``: ignore the column).
ColumnMapping = dict[str, str | None]
#: Ignored columns listed (JSON Lines may have new keys on every line).
MAX_UNKNOWN = 100
_SNIFF = 65536
_DELIMITERS = (",", ";", "\t", "|")
_PATH = re.compile(r"^(?P<field>\w+)\[(?P<index>\d+)\](?:\.(?P<sub>\w+))?(?P<rest>.*)$")
#: csv's default limit is 128 KiB a cell; notes may be long, files may be odd.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class SourceRow:
    """One row of a file, parsed and checked.

    ``values`` is the full create body (defaults filled, typed) or ``None`` when the row
    has errors. ``given`` holds only the fields the row sets to something (not blank,
    not null, not an empty list): what an update changes. ``extra`` is what plugin
    columns parsed (``organization``); ``id`` the row's ``id`` column, if any.
    """

    number: int
    values: dict[str, Any] | None = None
    given: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID | None = None


def releasing(init: Callable[..., None]) -> Callable[..., None]:
    """A source's ``__init__`` that lets go of the file when it raises (a 400 for the
    file): the text wrapper would otherwise close it when collected."""

    @functools.wraps(init)
    def wrapper(self: Source, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except BaseException:
            self.close()
            raise

    return wrapper


class Source:
    """Base of the readers: rows, the columns it ignored, how far it has read."""

    def __init__(self, binary: IO[bytes]) -> None:
        self.binary = binary
        #: Columns (CSV), keys (JSON Lines) or properties (vCard) that were ignored.
        self.unknown: list[str] = []
        self._text: io.TextIOWrapper | None = None

    def text(self, encoding: str) -> io.TextIOWrapper:
        """The file as text (see :func:`open_text`); :meth:`close` lets go of it."""
        self._text = open_text(self.binary, encoding)
        return self._text

    def close(self) -> None:
        """Let go of the file without closing it (its owner closes it)."""
        if self._text is not None:
            try:
                self._text.detach()
            except ValueError:  # already detached, or the file was closed
                pass
            self._text = None

    def rows(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def position(self) -> int:
        """Bytes read so far (for a progress bar; approximate: reads are buffered)."""
        try:
            return self.binary.tell()
        except (OSError, ValueError):
            return 0

    def _ignore(self, name: str) -> None:
        if name not in self.unknown and len(self.unknown) < MAX_UNKNOWN:
            self.unknown.append(name)


# -- helpers -------------------------------------------------------------------------------


def parse_mapping(value: Any, name: str = "mapping") -> ColumnMapping:
    """A ``mapping`` from JSON text (or an object): every key a column, every value a
    column name or ``null``; anything else is a 400 naming it."""
    if value is None or value == "":
        return {}
    if isinstance(value, str | bytes):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            raise BadRequest(
                f"{name} is not valid JSON", errors=[FieldError(name, "expected a JSON object")]
            ) from None
    if not isinstance(value, dict):
        raise BadRequest(
            f"{name} must be a JSON object", errors=[FieldError(name, "expected a JSON object")]
        )
    out: ColumnMapping = {}
    errors = []
    for source, target in value.items():
        if target is not None and (not isinstance(target, str) or not target.strip()):
            errors.append(FieldError(f"{name}.{source}", "expected a column name or null"))
            continue
        out[str(source)] = target.strip() if isinstance(target, str) else None
    if errors:
        raise BadRequest(f"invalid {name}", errors=errors)
    return out


def clean(name: str) -> str:
    """A column name as the column model compares it."""
    return name.strip().lstrip("\ufeff").strip().lower()


def _check_encoding(binary: IO[bytes], encoding: str) -> str:
    """The codec to read with; a file that does not decode at its start is a 400."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise BadRequest(
            f"unknown encoding {encoding!r}", errors=[FieldError("encoding", "unknown encoding")]
        ) from None
    codec = "utf-8-sig" if info.name == "utf-8" else info.name
    start = binary.tell()
    head = binary.read(_SNIFF)
    binary.seek(start)
    try:
        codecs.getincrementaldecoder(codec)().decode(head, final=len(head) < _SNIFF)
    except UnicodeDecodeError as exc:
        hint = " (files from Excel or Outlook are often cp1252: send encoding=cp1252)"
        raise BadRequest(
            f"the file is not {info.name} at byte {exc.start}"
            + (hint if info.name == "utf-8" else ""),
            errors=[FieldError("encoding", f"the file does not decode as {info.name}")],
        ) from None
    return codec


def open_text(binary: IO[bytes], encoding: str = "utf-8") -> io.TextIOWrapper:
    """The file as text, read lazily; UTF-8 with or without a byte-order mark.

    The start of the file is checked up front (a 400 when it does not decode); a bad
    byte further on becomes U+FFFD and the row holding it an error.
    """
    codec = _check_encoding(binary, encoding)
    return io.TextIOWrapper(binary, encoding=codec, errors="replace", newline="")  # type: ignore[arg-type]


def _given(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def typed_row(
    entity: EntityType, number: int, raw: dict[str, Any], errors: list[FieldError]
) -> SourceRow:
    """Check ``raw`` (a create body) against the create type: every problem listed."""
    struct = None
    if not errors:
        try:
            struct = msgspec.convert(raw, entity.create_type)
        except msgspec.ValidationError:
            pass
    if struct is None:  # every problem, field by field (slower: only for bad rows)
        # Both the column parsing and the type check may name a missing required field.
        errors = list(dict.fromkeys([*errors, *field_errors(entity.create_type, raw)]))
        return SourceRow(number, errors=errors or [FieldError("row", "invalid")])
    values = msgspec.structs.asdict(struct)
    given = {k: values[k] for k, v in raw.items() if k != "custom" and _given(v)}
    custom = {k: values["custom"][k] for k, v in (raw.get("custom") or {}).items() if _given(v)}
    if custom:
        given["custom"] = custom
    return SourceRow(number, values=values, given=given)


def _replaced(text: Any) -> bool:
    return isinstance(text, str) and "\ufffd" in text


def check_writable(access: Access | None, entity: EntityType, fields: list[str]) -> None:
    """A 403 naming every field in ``fields`` the importer may not write (up front)."""
    if access is not None:
        access.check_writes(entity.name, sorted(set(fields)))


def field_of(model: ColumnModel, column: str) -> str | None:
    """The field a column writes (``email_2`` -> ``emails``, ``custom.budget`` as it is, a
    plugin's column the field it reveals); ``None`` for ``id`` and for names that are
    not columns of ``model``."""
    name = clean(column)
    if name.startswith("custom."):
        return name if any(c.name == name for c in model.custom or ()) else None
    for f in model.fields:
        if isinstance(f, StructListColumns):
            if f.match(name) is not None:
                return f.name
        elif f.name == name:
            return name
    for columns in model.plugins:
        if name in columns.names:
            return columns.reveals[0] if columns.reveals else columns.names[0]
    return None


def is_column(model: ColumnModel, column: str) -> bool:
    """Whether ``column`` is a column of ``model`` (without filling its plan cache)."""
    return clean(column) == "id" or field_of(model, column) is not None


def column_path(model: ColumnModel, path: str) -> str:
    """A create-body path as the CSV column it came from: ``emails[1].label`` ->
    ``email_2_label``; other paths unchanged."""
    match = _PATH.match(path)
    if match is None:
        return path
    for f in model.fields:
        if isinstance(f, StructListColumns) and f.name == match["field"]:
            sub = match["sub"] or f.main or ""
            if sub == "primary":
                return f.column(int(match["index"]) + 1, f.main or "")
            return f.column(int(match["index"]) + 1, sub) + match["rest"]
    return path


# -- CSV -----------------------------------------------------------------------------------


def _delimiter(line: str) -> str:
    """The separator of a header line: the most frequent of ``, ; TAB |`` outside quotes
    (Excel in many European locales writes ``;``)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvSource(Source):
    """A CSV file with a header row, through the entity's column model.

    ``mapping`` renames source columns (matched trimmed and case-insensitively) to
    columns of the model; ``None`` ignores one. A ``preset`` converts the columns of a
    known export (Google, Outlook) first; the mapping wins over it. Columns that are
    then neither known nor mapped are ignored and listed once in :attr:`unknown`.
    """

    @releasing
    def __init__(
        self,
        binary: IO[bytes],
        model: ColumnModel,
        full: ColumnModel,
        *,
        access: Access | None,
        mapping: ColumnMapping | None = None,
        preset: Preset | None = None,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(binary)
        self.model = model
        self.entity = model.entity
        self.preset = preset
        text = self.text(encoding)
        first = text.readline()
        if not first.strip():
            raise BadRequest(
                "the file is empty or has no header row",
                errors=[FieldError("body", "expected a header row")],
            )
        lines = _chain(first, text)
        self._reader = csv.reader(lines, delimiter=_delimiter(first), strict=False)
        source = next(self._reader)
        self.source = [s.strip().lstrip("\ufeff").strip() for s in source]
        wanted = {clean(k): v for k, v in (mapping or {}).items()}
        self._check_targets(full, wanted)
        # Each source column is direct (as it is, or renamed by the mapping: its index in
        # ``_direct``, its name in ``header``), the preset's (``_preset``), or ignored.
        self.header: list[str] = []
        self._direct: list[int] = []
        self._preset: list[int] = []
        targets: list[str] = []
        for j, name in enumerate(self.source):
            key = clean(name)
            if key in wanted:
                target = wanted[key]
                if target is not None:
                    self._direct.append(j)
                    self.header.append(target)
                    targets.append(target)
            elif preset is not None and preset.claims(name) is not None:
                self._preset.append(j)
                claimed = preset.claims(name)
                if claimed and is_column(full, claimed):
                    targets.append(claimed)
            else:
                self._direct.append(j)
                self.header.append(name)
                targets.append(name)
        self._identity = self._direct == list(range(len(self.source)))
        self._full = full
        #: Whether the entity has a column a preset writes (``organization`` only with
        #: the organizations plugin): the others are dropped, not reported on every row.
        self._has: dict[str, bool] = {}
        check_writable(access, self.entity, [f for f in (field_of(full, t) for t in targets) if f])
        for name in model.unknown(self.header):
            self._ignore(name)

    def _check_targets(self, full: ColumnModel, wanted: Mapping[str, str | None]) -> None:
        errors = [
            FieldError(f"mapping.{source}", f"{target!r} is not a column of {self.entity.name}")
            for source, target in wanted.items()
            if target is not None and not is_column(full, target)
        ]
        if errors:
            raise BadRequest("mapping names unknown columns", errors=errors)

    def rows(self) -> Iterator[SourceRow]:
        model, header, direct = self.model, self.header, self._direct
        number = 0
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield SourceRow(number, errors=[FieldError("row", f"not valid CSV: {exc}")])
                continue
            number += 1
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if any(_replaced(c) for c in cells):
                bad = [n for n, c in zip(self.source, cells, strict=False) if _replaced(c)]
                message = "not valid text in the file's encoding"
                yield SourceRow(number, errors=[FieldError(b, message) for b in bad or ["row"]])
                continue
            if self.preset is None:
                row_header, row = header, (cells if self._identity else _pick(cells, direct))
            else:
                row_header, row = self._with_preset(cells)
            parsed = model.from_row(row_header, row)
            errors = [FieldError(column_path(model, e.field), e.message) for e in parsed.errors]
            out = typed_row(self.entity, number, parsed.values, errors)
            if out.errors:
                out.errors = [
                    FieldError(column_path(model, e.field), e.message) for e in out.errors
                ]
            out.extra, out.id = parsed.extra, parsed.id
            yield out

    def _with_preset(self, cells: list[str]) -> tuple[list[str], list[str]]:
        assert self.preset is not None
        raw = {self.source[j]: cells[j] if j < len(cells) else "" for j in self._preset}
        converted = {k: v for k, v in self.preset.convert(raw).items() if self._known(k)}
        for name, j in zip(self.header, self._direct, strict=True):
            text = cells[j] if j < len(cells) else ""
            if text.strip() or clean(name) not in converted:
                converted[clean(name)] = text
        return list(converted), list(converted.values())

    def _known(self, column: str) -> bool:
        known = self._has.get(column)
        if known is None:
            known = self._has[column] = is_column(self._full, column)
        return known


def _pick(cells: list[str], indexes: list[int]) -> list[str]:
    return [cells[j] if j < len(cells) else "" for j in indexes]


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


# -- JSON Lines ------------------------------------------------------------------------------


class JsonlSource(Source):
    """One JSON object per line: a create body, or a record as export writes it.

    Read-only keys of the read shape (``version``, ``created_at`` ...) are skipped,
    ``id`` finds the record to update; ``mapping`` renames top-level keys (``custom.<key>``
    targets go into ``custom``); other unknown top-level keys are ignored and listed
    once in :attr:`unknown`.
    """

    @releasing
    def __init__(
        self,
        binary: IO[bytes],
        entity: EntityType,
        *,
        access: Access | None,
        custom_keys: set[str] | None,
        mapping: ColumnMapping | None = None,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(binary)
        self.entity = entity
        self.mapping = dict(mapping or {})
        self.custom_keys = custom_keys
        self.lines = self.text(encoding)
        self._skip = (set(BASE_FIELDS) | set(entity.read_only)) - {"id"}
        errors = []
        targets = []
        for source, target in self.mapping.items():
            if target is None:
                continue
            if target.startswith("custom."):
                ok = custom_keys is not None and target[7:] in custom_keys
            else:
                ok = target in entity.writable and target != "custom"
            if not ok:
                errors.append(
                    FieldError(f"mapping.{source}", f"{target!r} is not a field of {entity.name}")
                )
            targets.append(target)
        if errors:
            raise BadRequest("mapping names unknown fields", errors=errors)
        check_writable(access, entity, targets)

    def rows(self) -> Iterator[SourceRow]:
        writable = self.entity.writable
        for number, line in enumerate(self.lines, start=1):
            if not line.strip():
                continue
            if _replaced(line):
                yield SourceRow(
                    number, errors=[FieldError("row", "not valid text in the file's encoding")]
                )
                continue
            try:
                obj = msgspec.json.decode(line)
            except msgspec.DecodeError as exc:
                yield SourceRow(number, errors=[FieldError("row", f"not valid JSON: {exc}")])
                continue
            if not isinstance(obj, dict):
                yield SourceRow(number, errors=[FieldError("row", "expected a JSON object")])
                continue
            raw: dict[str, Any] = {}
            errors: list[FieldError] = []
            record_id = None
            for key, value in obj.items():
                if key in self.mapping:
                    key = self.mapping[key]
                if key is None or key in self._skip:
                    continue
                if key == "id":
                    try:
                        record_id = None if value in (None, "") else uuid.UUID(str(value))
                    except ValueError:
                        errors.append(FieldError("id", "expected a UUID"))
                elif key.startswith("custom.") and self.custom_keys is not None:
                    raw.setdefault("custom", {})
                    if isinstance(raw["custom"], dict):
                        raw["custom"][key[7:]] = value
                elif key in writable:
                    if key == "custom" and isinstance(value, dict) and "custom" in raw:
                        raw["custom"] = {**value, **raw["custom"]}
                    else:
                        raw[key] = value
                else:
                    self._ignore(key)
            out = typed_row(self.entity, number, raw, errors)
            out.id = record_id
            yield out
