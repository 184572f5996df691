"""The search query language of ``q=`` (API.md "Query language"), parsed once into a tree.

Each backend compiles the tree (SQLite FTS5, PostgreSQL tsvector); user text never
reaches ``MATCH`` or ``to_tsquery``. The tree keeps the text as typed: the compilers
apply :func:`normalize` / :func:`words` to the query and the index alike, so both
sides agree on case, accents and word boundaries. docs/search.md has the grammar.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Literal, NamedTuple, TypeAlias, cast

import msgspec

from ..errors import BadRequest, FieldError

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_TERMS",
    "And",
    "Compare",
    "FieldTerm",
    "Leaf",
    "Node",
    "Not",
    "Op",
    "Or",
    "Phrase",
    "QuerySyntaxError",
    "Term",
    "normalize",
    "parse",
    "unparse",
    "words",
]

#: Longest query, in characters (code points).
MAX_LENGTH = 1000
#: Most nested parentheses and negations (``NOT``, ``-``) around a term.
MAX_DEPTH = 20
#: Most terms (leaves: words, phrases, field terms, comparisons) in one query.
MAX_TERMS = 50

Op: TypeAlias = Literal[">", ">=", "<", "<=", "="]
OPS: tuple[str, ...] = (">=", "<=", ">", "<", "=")
OPERATORS = frozenset({"OR", "AND", "NOT"})


class Term(msgspec.Struct, frozen=True, tag=True):
    """A word as typed: matches a record with a word starting with it (prefix match).

    A term of several words (``kari@acme.no``: kari, acme, no) matches them adjacent
    and in order, the last one as a prefix.
    """

    text: str


class Phrase(msgspec.Struct, frozen=True, tag=True):
    """``"john smith"``: these whole words, adjacent and in order (no prefix match).

    ``text`` has its whitespace collapsed to single spaces and is never blank.
    """

    text: str


class FieldTerm(msgspec.Struct, frozen=True, tag=True):
    """``field:value`` / ``field:"a phrase"``: the value within one field.

    For a field with a fixed set of values (``type``, ``tag``, a select) or a
    ``custom.<key>`` the compiler treats it as equality; the field is resolved (or
    refused with a 400) by the compiler, not here.
    """

    field: str
    value: Term | Phrase


class Compare(msgspec.Struct, frozen=True, tag=True):
    """``field:>=value``. For ``> >= < <=`` the value reads as a number or an ISO date.

    ``value`` stays text: the compiler converts it to the field's type.
    """

    field: str
    op: Op
    value: str


class Not(msgspec.Struct, frozen=True, tag=True):
    """``-x`` / ``NOT x``: records not matching ``node``."""

    node: Node


class And(msgspec.Struct, frozen=True, tag=True):
    """All of ``nodes`` (two or more, none an :class:`And`: nested ones are flattened)."""

    nodes: tuple[Node, ...]


class Or(msgspec.Struct, frozen=True, tag=True):
    """Any of ``nodes`` (two or more, none an :class:`Or`)."""

    nodes: tuple[Node, ...]


Leaf: TypeAlias = Term | Phrase | FieldTerm | Compare
Node: TypeAlias = Term | Phrase | FieldTerm | Compare | Not | And | Or


class QuerySyntaxError(BadRequest):
    """A malformed ``q=``: a 400 naming the 0-based position (in code points) of the problem."""

    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position
        where = f"{message} at position {position}"
        super().__init__(
            f"q: {where}", errors=[FieldError("q", where)], extra={"position": position}
        )


# --- normalisation --------------------------------------------------------------------

#: Scripts whose combining marks are accents (dropped); elsewhere marks are kept
#: (Devanagari or Thai vowel signs, the Japanese voicing marks).
_ACCENTED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "HEBREW", "ARABIC")
#: Latin letters that Unicode does not decompose but readers treat as accented.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ħ": "h",
        "\u0131": "i",  # dotless i
        "ŧ": "t",
    }
)


@functools.lru_cache(maxsize=4096)
def _takes_accents(base: str) -> bool:
    return unicodedata.name(base, "").startswith(_ACCENTED_SCRIPTS)


def normalize(text: str) -> str:
    """Casefold and strip accents: ``Åse`` → ``ase``, ``José`` → ``jose``, ``Straße`` → ``strasse``.

    NFKD also folds compatibility forms (``ﬁ`` → ``fi``, full-width letters → ASCII).
    The compilers apply it to the index and the query alike.
    """
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    out: list[str] = []
    base = ""
    for ch in folded:
        if unicodedata.category(ch) == "Mn":
            if base and _takes_accents(base):
                continue
        else:
            base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).translate(_FOLD)


def words(text: str) -> list[str]:
    """The words of ``text`` as search sees them: :func:`normalize`, then split.

    Every character that is not a letter, digit or mark separates words:
    ``kari@acme.no`` → kari, acme, no; ``o'brien`` → o, brien; ``+47 22`` → 47, 22.
    """
    out: list[str] = []
    current: list[str] = []
    for ch in normalize(text):
        if ch.isalnum() or unicodedata.category(ch)[0] == "M":
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


# --- tokens ---------------------------------------------------------------------------

_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*):")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
#: A phone number typed in groups: ``+47`` starts it, digit groups continue it.
_PHONE_START = re.compile(r"\+\d+(?:[-./]\d+)*")
_DIGIT_GROUP = re.compile(r"\d+(?:[-./]\d+)*")
#: A written form ending in a phone start that a following digit group would join.
_PHONE_END = re.compile(r"(?:^|[\s:-])\+\d+(?:[-./]\d+)*$")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?", re.ASCII | re.DOTALL)
_DELIMITERS = frozenset('()"')


def _orderable(value: str) -> bool:
    """A number or an ISO 8601 date / date-time (what ``> >= < <=`` compare)."""
    if _NUMBER.fullmatch(value):
        return True
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class _Tok(NamedTuple):
    kind: str  # "leaf", "(", ")", "OR", "AND", "NOT", "-"
    pos: int
    leaf: Leaf | None = None


class _Lexer:
    """Cuts the query into tokens; every leaf (term, phrase, field term) is one token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.tokens: list[_Tok] = []
        self.leaves = 0

    def run(self) -> list[_Tok]:
        text, n, i = self.text, self.n, 0
        while i < n:
            ch = text[i]
            if ch.isspace():
                i += 1
            elif ch in "()":
                self.tokens.append(_Tok(ch, i))
                i += 1
            elif ch == '"':
                phrase, end = self._phrase(i)
                self._leaf(Phrase(phrase), i)
                i = end
            elif ch == "-":
                if i + 1 == n or text[i + 1].isspace():
                    raise QuerySyntaxError("expected a term right after '-' (no space)", i + 1)
                self.tokens.append(_Tok("-", i))
                i += 1
            else:
                end = self._word_end(i)
                word = text[i:end]
                if word in OPERATORS:
                    self.tokens.append(_Tok(word, i))
                    i = end
                else:
                    leaf, end = self._word(word, i, end)
                    self._leaf(leaf, i)
                    i = end
        return self.tokens

    def _leaf(self, leaf: Leaf, pos: int) -> None:
        self.leaves += 1
        if self.leaves > MAX_TERMS:
            raise QuerySyntaxError(f"more than {MAX_TERMS} terms", pos)
        self.tokens.append(_Tok("leaf", pos, leaf))

    def _word_end(self, i: int) -> int:
        text, n = self.text, self.n
        while i < n and not text[i].isspace() and text[i] not in _DELIMITERS:
            i += 1
        return i

    def _phrase(self, start: int) -> tuple[str, int]:
        """The phrase opening at ``start`` (``\\"`` and ``\\\\`` escape) and where it ends."""
        text, n = self.text, self.n
        buf: list[str] = []
        i = start + 1
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                phrase = " ".join("".join(buf).split())
                if not phrase:
                    raise QuerySyntaxError("empty phrase", start)
                return phrase, i + 1
            buf.append(ch)
            i += 1
        raise QuerySyntaxError("unbalanced quote: this '\"' is never closed", start)

    def _word(self, word: str, start: int, end: int) -> tuple[Leaf, int]:
        """The leaf a bare word starts: a term, a field term or a comparison."""
        m = _FIELD.match(word)
        if m is None or word.startswith("//", m.end()):  # https://acme.com is a plain word
            return self._phone(word, end)
        name, rest, at = m.group(1), word[m.end() :], start + m.end()
        if rest[:1] in ("<", ">", "="):
            return self._compare(name, rest, at, end)
        if not rest:
            if end < self.n and self.text[end] == '"':
                phrase, end = self._phrase(end)
                return FieldTerm(name, Phrase(phrase)), end
            hint = ""
            if end < self.n and self.text[end] == "(":
                hint = f" (a field takes one value: write ({name}:a OR {name}:b))"
            raise QuerySyntaxError(f"expected a value after '{name}:'{hint}", at)
        value, end = self._phone(rest, end)
        return FieldTerm(name, value), end

    def _compare(self, name: str, rest: str, at: int, end: int) -> tuple[Leaf, int]:
        op = rest[: len(rest) - len(rest.lstrip("<>="))]
        if op not in OPS:
            raise QuerySyntaxError(f"bad comparison operator {op!r} (use >, >=, <, <= or =)", at)
        value, vpos = rest[len(op) :], at + len(op)
        if not value:
            if end < self.n and self.text[end] == '"':
                value, end = self._phrase(end)
            else:
                raise QuerySyntaxError(f"expected a value after '{name}:{op}'", vpos)
        if op != "=" and not _orderable(value):
            raise QuerySyntaxError(
                f"expected a number or a date (YYYY-MM-DD) after '{op}', found {value!r}", vpos
            )
        return Compare(name, cast(Op, op), value), end

    def _phone(self, word: str, end: int) -> tuple[Term | Phrase, int]:
        """``+47 22 33 44 55``: a ``+``-number followed by digit groups is one phrase."""
        if not _PHONE_START.fullmatch(word):
            return Term(word), end
        text, n = self.text, self.n
        groups = [word]
        while end < n and text[end].isspace():
            j = end
            while j < n and text[j].isspace():
                j += 1
            k = self._word_end(j)
            if not _DIGIT_GROUP.fullmatch(text[j:k]):
                break
            groups.append(text[j:k])
            end = k
        if len(groups) == 1:
            return Term(word), end
        return Phrase(" ".join(groups)), end


# --- parser ---------------------------------------------------------------------------

_LABELS = {"OR": "OR", "AND": "AND", "NOT": "NOT", "-": "'-'", "(": "'('", ")": "')'"}


def _join(kind: type[And] | type[Or], nodes: list[Node]) -> Node:
    """One node, or an And/Or of them with nested ones of the same kind flattened."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, kind) else (node,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


class _Parser:
    """Recursive descent over the tokens: OR of ANDs of (negated) primaries."""

    def __init__(self, tokens: list[_Tok], length: int) -> None:
        self.tokens = tokens
        self.length = length
        self.i = 0
        self.depth = 0
        self.parens = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def query(self) -> Node:
        node = self.or_expr(None)
        tok = self.peek()
        if tok is not None:  # or_expr stops only at the end or at ')'
            raise QuerySyntaxError("unbalanced parenthesis: ')' without a matching '('", tok.pos)
        return node

    def or_expr(self, after: _Tok | None) -> Node:
        nodes = [self.and_expr(after)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            nodes.append(self.and_expr(tok))
        return _join(Or, nodes)

    def and_expr(self, after: _Tok | None) -> Node:
        nodes = [self.unary(after)]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.i += 1
                nodes.append(self.unary(tok))
            else:
                nodes.append(self.unary(None))
        return _join(And, nodes)

    def unary(self, after: _Tok | None) -> Node:
        tok = self.peek()
        if tok is None or tok.kind in ("OR", "AND", ")"):
            raise self._expected(after, tok)
        self.i += 1
        if tok.kind in ("NOT", "-"):
            self._enter(tok)
            node: Node = Not(self.unary(tok))
            self.depth -= 1
            return node
        if tok.kind == "(":
            self._enter(tok)
            self.parens += 1
            node = self.or_expr(tok)
            if self.peek() is None:
                raise QuerySyntaxError("unbalanced parenthesis: this '(' is never closed", tok.pos)
            self.i += 1
            self.parens -= 1
            self.depth -= 1
            return node
        assert tok.leaf is not None
        return tok.leaf

    def _enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"nested deeper than {MAX_DEPTH} levels (parentheses and negations)", tok.pos
            )

    def _expected(self, after: _Tok | None, found: _Tok | None) -> QuerySyntaxError:
        """A term was due: say what came instead, where."""
        if found is None:
            what, pos = "the end of the query", self.length
        else:
            what, pos = _LABELS[found.kind], found.pos
        if found is not None and found.kind == ")" and self.parens == 0:
            return QuerySyntaxError("unbalanced parenthesis: ')' without a matching '('", pos)
        if after is None:
            return QuerySyntaxError(f"{what} needs a term before it", pos)
        if after.kind == "(" and found is None:
            return QuerySyntaxError("unbalanced parenthesis: this '(' is never closed", after.pos)
        return QuerySyntaxError(f"expected a term after {_LABELS[after.kind]}, found {what}", pos)


def _check_characters(text: str) -> None:
    for i, ch in enumerate(text):
        if ch == "\x00":
            raise QuerySyntaxError("NUL characters are not allowed", i)
        if "\ud800" <= ch <= "\udfff":
            raise QuerySyntaxError("invalid character (a lone surrogate)", i)


def parse(text: str) -> Node | None:
    """Parse a ``q=`` query into its tree; ``None`` for a blank query.

    Raises :class:`QuerySyntaxError` (a 400) for a malformed query, a query longer than
    :data:`MAX_LENGTH`, nested deeper than :data:`MAX_DEPTH` or with more than
    :data:`MAX_TERMS` terms. Field names are not checked here: the compiler knows
    the entity.
    """
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(f"the query is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    _check_characters(text)
    if not text.strip():
        return None
    return _Parser(_Lexer(text).run(), len(text)).query()


# --- unparse --------------------------------------------------------------------------


def _plain_word(text: str) -> bool:
    """Written bare, ``text`` reads back as one word (no separators, nothing forbidden)."""
    if not text:
        return False
    for ch in text:
        if ch.isspace() or ch in _DELIMITERS or ch == "\x00" or "\ud800" <= ch <= "\udfff":
            return False
    return True


def _phrase_text(text: str) -> str:
    if not text.strip():
        raise ValueError("a phrase cannot be blank")
    if "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text):
        raise ValueError(f"{text!r} holds a character no query may hold")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _term_text(text: str) -> str:
    """A term on its own: a plain word that reads as neither an operator nor a field."""
    m = _FIELD.match(text)
    if (
        not _plain_word(text)
        or text in OPERATORS
        or text.startswith("-")
        or (m is not None and not text.startswith("//", m.end()))
    ):
        raise ValueError(f"the term {text!r} cannot be written bare (quote it as a phrase)")
    return text


def _field_name(name: str) -> str:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a field name")
    return name


def _leaf_text(node: Leaf) -> str:
    if isinstance(node, Term):
        return _term_text(node.text)
    if isinstance(node, Phrase):
        return _phrase_text(node.text)
    if isinstance(node, FieldTerm):
        value = node.value
        if isinstance(value, Phrase):
            return f"{_field_name(node.field)}:{_phrase_text(value.text)}"
        if not _plain_word(value.text) or value.text[0] in "<>=" or value.text.startswith("//"):
            raise ValueError(f"the value {value.text!r} cannot be written bare (use a Phrase)")
        return f"{_field_name(node.field)}:{value.text}"
    if not isinstance(node, Compare):
        raise TypeError(f"not a query node: {node!r}")
    if node.op not in OPS:
        raise ValueError(f"{node.op!r} is not a comparison operator")
    if node.op != "=" and not _orderable(" ".join(node.value.split())):
        raise ValueError(f"{node.value!r} is neither a number nor a date")
    bare = _plain_word(node.value) and node.value[0] not in "<>="
    value = node.value if bare else _phrase_text(node.value)
    return f"{_field_name(node.field)}:{node.op}{value}"


def unparse(node: Node) -> str:
    """The canonical query string of a tree: ``parse(unparse(tree)) == tree``.

    Canonical: single spaces, implicit AND, ``-`` for negation, parentheses only
    where precedence needs them, phrases with ``\\"``/``\\\\`` escapes. Nested
    And/Or come back flattened. Raises ``ValueError`` for a node no query reads as
    (a term ``OR``, a blank phrase, a comparison ``>`` with a word).
    """
    if isinstance(node, Not):
        inner = unparse(node.node)
        return f"-({inner})" if isinstance(node.node, And | Or) else f"-{inner}"
    if isinstance(node, And):
        parts: list[str] = []
        for child in node.nodes:
            text = unparse(child)
            if isinstance(child, Or):
                text = f"({text})"
            # "+47 22" would read as one phone number: keep the two terms apart.
            if (
                parts
                and isinstance(child, Term)
                and _DIGIT_GROUP.fullmatch(child.text)
                and _PHONE_END.search(parts[-1])
            ):
                parts.append("AND")
            parts.append(text)
        if not parts:
            raise ValueError("an And needs at least one node")
        return " ".join(parts)
    if isinstance(node, Or):
        if not node.nodes:
            raise ValueError("an Or needs at least one node")
        return " OR ".join(unparse(child) for child in node.nodes)
    return _leaf_text(node)
