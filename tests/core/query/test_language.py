"""The ``q=`` query language (API.md "Query language"): tree, errors, limits, normalisation.

Pure Python: no database is involved until the backend compilers exist.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import msgspec
import pytest
from crmkit.core import BadRequest, FieldError
from crmkit.core.api.problems import EXCEPTION_HANDLERS
from crmkit.core.query.language import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    And,
    Compare,
    FieldTerm,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Term,
    normalize,
    parse,
    unparse,
    words,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from litestar import Request, get
from litestar.testing import create_test_client

T = Term


def F(field: str, value: str) -> FieldTerm:
    return FieldTerm(field, Term(value))


def A(*nodes: Node) -> And:
    return And(tuple(nodes))


def O(*nodes: Node) -> Or:  # noqa: E743
    return Or(tuple(nodes))


def error(text: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    return info.value


# -- the table of API.md ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("john", T("john")),
        ("jo sm", A(T("jo"), T("sm"))),
        ('"john smith"', Phrase("john smith")),
        ("email:acme.com", F("email", "acme.com")),
        (
            "type:customer tag:vip org:acme",
            A(F("type", "customer"), F("tag", "vip"), F("org", "acme")),
        ),
        ("custom.budget:>100000", Compare("custom.budget", ">", "100000")),
        ("custom.budget:100000", F("custom.budget", "100000")),
        ("custom.size:=XL", Compare("custom.size", "=", "XL")),
        ("-tag:churned", Not(F("tag", "churned"))),
        ("NOT tag:churned", Not(F("tag", "churned"))),
        ("a OR b", O(T("a"), T("b"))),
        ("(a OR b) c", A(O(T("a"), T("b")), T("c"))),
        ("a AND b", A(T("a"), T("b"))),
    ],
)
def test_every_form_of_the_table(query: str, tree: Node) -> None:
    assert parse(query) == tree


def test_the_tree_keeps_the_text_as_typed() -> None:
    assert parse('Åse "JOSÉ  Smith" Email:ACME') == A(
        T("Åse"), Phrase("JOSÉ Smith"), F("Email", "ACME")
    )


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "\u3000"])
def test_a_blank_query_is_none(query: str) -> None:
    assert parse(query) is None


# -- precedence and grouping -----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a b OR c", O(A(T("a"), T("b")), T("c"))),
        ("a OR b c", O(T("a"), A(T("b"), T("c")))),
        ("a AND b OR c AND d", O(A(T("a"), T("b")), A(T("c"), T("d")))),
        ("a (b OR c)", A(T("a"), O(T("b"), T("c")))),
        ("(a b) c", A(T("a"), T("b"), T("c"))),
        ("a OR (b OR c) OR d", O(T("a"), T("b"), T("c"), T("d"))),
        ("((a))", T("a")),
        ("a OR b AND c", O(T("a"), A(T("b"), T("c")))),
        ("NOT a b", A(Not(T("a")), T("b"))),
        ("a NOT b OR c", O(A(T("a"), Not(T("b"))), T("c"))),
        ("a(b)c", A(T("a"), T("b"), T("c"))),
    ],
)
def test_and_binds_tighter_than_or_and_nesting_is_flattened(query: str, tree: Node) -> None:
    assert parse(query) == tree


def test_lowercase_operators_are_words() -> None:
    assert parse("a or b and not c") == A(T("a"), T("or"), T("b"), T("and"), T("not"), T("c"))
    assert parse('"OR" tag:OR') == A(Phrase("OR"), F("tag", "OR"))


# -- negation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("-word", Not(T("word"))),
        ('-"a phrase"', Not(Phrase("a phrase"))),
        ("-(a OR b)", Not(O(T("a"), T("b")))),
        ("NOT (a OR b)", Not(O(T("a"), T("b")))),
        ("NOT(a b)", Not(A(T("a"), T("b")))),
        ("-custom.budget:>5", Not(Compare("custom.budget", ">", "5"))),
        ("--a", Not(Not(T("a")))),
        ("NOT -a", Not(Not(T("a")))),
        ("a -b", A(T("a"), Not(T("b")))),
        ('"x"-y', A(Phrase("x"), Not(T("y")))),
        ("foo-bar", T("foo-bar")),
        ("tag:-x", F("tag", "-x")),
    ],
)
def test_negation(query: str, tree: Node) -> None:
    assert parse(query) == tree


# -- fields and comparisons ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ('email:"kari nordmann"', FieldTerm("email", Phrase("kari nordmann"))),
        ('name:"  a   b "', FieldTerm("name", Phrase("a b"))),
        ("custom.budget:>=100", Compare("custom.budget", ">=", "100")),
        ("custom.budget:<1.5e3", Compare("custom.budget", "<", "1.5e3")),
        ("custom.budget:<=-20", Compare("custom.budget", "<=", "-20")),
        ("custom.budget:>.5", Compare("custom.budget", ">", ".5")),
        ("created_at:>2024-05-01", Compare("created_at", ">", "2024-05-01")),
        ("created_at:<2024-05-01T10:00:00Z", Compare("created_at", "<", "2024-05-01T10:00:00Z")),
        (
            'created_at:>="2024-05-01 10:00+02:00"',
            Compare("created_at", ">=", "2024-05-01 10:00+02:00"),
        ),
        ('custom.color:="dark  blue"', Compare("custom.color", "=", "dark blue")),
        ("custom.code:=a:b", Compare("custom.code", "=", "a:b")),
        ("time:12:30", F("time", "12:30")),
        ("a.b_2.c:x", F("a.b_2.c", "x")),
        ("nosuchfield:x", F("nosuchfield", "x")),  # the compiler refuses unknown fields
    ],
)
def test_fields_and_comparisons(query: str, tree: Node) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("x:>", 3, "expected a value after 'x:>'"),
        ("x:>abc", 3, "expected a number or a date"),
        ("x:>2024-13-01", 3, "expected a number or a date"),
        ("x:<5kr", 3, "expected a number or a date"),
        ("x:>nan", 3, "expected a number or a date"),
        ("x:>>5", 2, "bad comparison operator '>>'"),
        ("x:=>5", 2, "bad comparison operator '=>'"),
        ("x:<>5", 2, "bad comparison operator '<>'"),
        ('x:>""', 3, "empty phrase"),
    ],
)
def test_bad_comparisons(query: str, position: int, message: str) -> None:
    exc = error(query)
    assert exc.position == position
    assert message in exc.message


# -- tokenization ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("kari@acme.no", T("kari@acme.no")),
        ("john@example", T("john@example")),
        ("o'brien", T("o'brien")),
        ("o\u2019brien smith", A(T("o\u2019brien"), T("smith"))),
        ("foo-bar", T("foo-bar")),
        ("https://acme.com/x", T("https://acme.com/x")),
        ("web:https://acme.com", F("web", "https://acme.com")),
        ("12:30", T("12:30")),
        ("::", T("::")),
        (":x", T(":x")),
        ("é:x", T("é:x")),  # field names are ASCII identifiers
        ("a\u00a0b", A(T("a"), T("b"))),  # any Unicode space separates
        ("C#", T("C#")),
        ("100%", T("100%")),
        # A phone number in groups is one phrase when it starts with "+".
        ("+47 22 33 44 55", Phrase("+47 22 33 44 55")),
        ("+47  22-33.44/55 john", A(Phrase("+47 22-33.44/55"), T("john"))),
        ("phone:+47 22 33 44 55", FieldTerm("phone", Phrase("+47 22 33 44 55"))),
        ("-+47 22", Not(Phrase("+47 22"))),
        ("+47", T("+47")),
        ("+47 AND 22", A(T("+47"), T("22"))),
        ("+47 (22)", A(T("+47"), T("22"))),
        ("22 33 44 55", A(T("22"), T("33"), T("44"), T("55"))),
        ("+47 22 OR 33", O(Phrase("+47 22"), T("33"))),
    ],
)
def test_tokenization(query: str, tree: Node) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        (r'"say \"hi\""', Phrase('say "hi"')),
        (r'"back\\slash"', Phrase("back\\slash")),
        (r'"C:\path"', Phrase("C:\\path")),
        ('"a"b', A(Phrase("a"), T("b"))),
        ('a"b c"', A(T("a"), Phrase("b c"))),
    ],
)
def test_phrases_and_escapes(query: str, tree: Node) -> None:
    assert parse(query) == tree


# -- odd input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "result"),
    [
        ("john@example", T("john@example")),
        ("foo-bar", T("foo-bar")),
        ("o'brien", T("o'brien")),
        ('"', 0),
        ("(", 0),
        (")", 0),
        ("OR", 0),
        ("AND", 0),
        ("NOT", 3),
        ("-", 1),
        ("::", T("::")),
        ("a:", 2),
        ("😀", T("😀")),
        ("👩‍👩‍👧 smith", A(T("👩‍👩‍👧"), T("smith"))),
        ("שלום עולם", A(T("שלום"), T("עולם"))),
        ("مرحبا OR שלום", O(T("مرحبا"), T("שלום"))),
        ("\u202eevil\u202c", T("\u202eevil\u202c")),
        ("a\x00b", 1),
        ("\x00", 0),
        ("\ud800", 0),
        ("x" * 10_000, MAX_LENGTH),
        ("\\", T("\\")),
        ("'", T("'")),
        ("*", T("*")),
    ],
)
def test_odd_input_is_a_tree_or_a_400(query: str, result: Node | int) -> None:
    if isinstance(result, int):
        assert error(query).position == result
    else:
        assert parse(query) == result


# -- error positions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ('"john smith', 0, "unbalanced quote"),
        ('a "b" "c', 6, "unbalanced quote"),
        ('email:"kari', 6, "unbalanced quote"),
        (r'"ends in backslash\"', 0, "unbalanced quote"),
        ("(a OR b", 0, "unbalanced parenthesis"),
        ("a (b (c)", 2, "unbalanced parenthesis"),
        ("a OR b)", 6, "unbalanced parenthesis: ')' without"),
        ("(a))", 3, "unbalanced parenthesis: ')' without"),
        ("()", 1, "expected a term after '(', found ')'"),
        ("a OR", 4, "expected a term after OR, found the end of the query"),
        ("a OR   ", 7, "expected a term after OR, found the end of the query"),
        ("OR a", 0, "OR needs a term before it"),
        ("a OR OR b", 5, "expected a term after OR, found OR"),
        ("a AND", 5, "expected a term after AND"),
        ("AND a", 0, "AND needs a term before it"),
        ("a AND OR b", 6, "expected a term after AND, found OR"),
        ("(OR a)", 1, "expected a term after '(', found OR"),
        ("a NOT", 5, "expected a term after NOT"),
        ("NOT OR a", 4, "expected a term after NOT, found OR"),
        ("a (NOT)", 6, "expected a term after NOT, found ')'"),
        ("a - b", 3, "expected a term right after '-'"),
        ("a -", 3, "expected a term right after '-'"),
        ("(a -)", 4, "expected a term after '-', found ')'"),
        ("email:", 6, "expected a value after 'email:'"),
        ("email: kari", 6, "expected a value after 'email:'"),
        ("tag:(a OR b)", 4, "expected a value after 'tag:' (a field takes one value"),
        ('""', 0, "empty phrase"),
        ('a "   "', 2, "empty phrase"),
        ("ab\x00", 2, "NUL"),
    ],
)
def test_error_positions(query: str, position: int, message: str) -> None:
    exc = error(query)
    assert (exc.position, exc.message[: len(message)]) == (position, message)


def test_positions_count_code_points() -> None:
    assert error('😀 "x').position == 2
    assert error("Åse OR").position == 6


# -- limits ----------------------------------------------------------------------------


def test_length_limit() -> None:
    assert parse("x" * MAX_LENGTH) == T("x" * MAX_LENGTH)
    exc = error("x" * (MAX_LENGTH + 1))
    assert exc.position == MAX_LENGTH and "longer than 1000" in exc.message
    assert error(" " * 10_000).position == MAX_LENGTH  # even when blank


def test_term_limit() -> None:
    fifty = " ".join(f"w{i}" for i in range(MAX_TERMS))
    assert len(parse(fifty).nodes) == MAX_TERMS  # type: ignore[union-attr]
    exc = error(fifty + " w50 w51")
    assert exc.position == len(fifty) + 1 and "more than 50 terms" in exc.message
    # A phone number in groups is one term; so are a field term and a comparison.
    assert parse(" ".join(["+47 22 33 44 55", "a:b", "c:>1", *["x"] * 47])) is not None


def test_depth_limit() -> None:
    deep = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(deep) == T("a")
    exc = error("(" + deep + ")")
    assert exc.position == MAX_DEPTH and "deeper than 20" in exc.message
    assert parse("-" * MAX_DEPTH + "a") is not None
    assert error("-" * (MAX_DEPTH + 1) + "a").position == MAX_DEPTH
    assert error("NOT " * 10 + "-" * 5 + "(" * 6 + "a" + ")" * 6).position == 50
    # The parser never recurses without bound, whatever the input.
    assert error("(" * 999).position == MAX_DEPTH
    assert error("NOT " * 250).position == 4 * MAX_DEPTH


# -- the error is a 400 ----------------------------------------------------------------


def test_a_syntax_error_is_a_bad_request_naming_q_and_the_position() -> None:
    exc = error("a OR")
    assert isinstance(exc, BadRequest) and exc.status == 400
    assert exc.position == 4 and exc.message.startswith("expected a term after OR")
    assert exc.errors == [FieldError("q", f"{exc.message} at position 4")]
    assert exc.extra == {"position": 4}
    assert "position 4" in exc.detail and exc.detail.startswith("q: ")


def test_the_api_answers_400_problem_json_with_the_position() -> None:
    @get("/search", sync_to_thread=False)
    def search(request: Request) -> dict[str, str]:
        return {"tree": repr(parse(request.query_params.get("q", "")))}

    with create_test_client([search], exception_handlers=EXCEPTION_HANDLERS) as client:
        r = client.get("/search", params={"q": 'email:"kari'})
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["position"] == 6
        assert body["errors"] == [
            {"field": "q", "message": "unbalanced quote: this '\"' is never closed at position 6"}
        ]
        assert body["type"] == "https://crmkit.dev/problems/bad-request"
        assert client.get("/search", params={"q": "a OR b"}).status_code == 200


# -- unparse ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("  john   smith ", "john smith"),
        ("a AND b", "a b"),
        ("NOT a AND b", "-a b"),
        ("NOT (a OR b)", "-(a OR b)"),
        ("(a b) OR c", "a b OR c"),
        ("a AND (b OR c)", "a (b OR c)"),
        ("((a OR b))", "a OR b"),
        ('"  x   y "', '"x y"'),
        (r'"say \"hi\" \\o/"', r'"say \"hi\" \\o/"'),
        ("email:  x", None),
        ('tag:"vip"', 'tag:"vip"'),
        ('n:>="5"', "n:>=5"),
        ('n:="a b"', 'n:="a b"'),
        ("+47 22 33", '"+47 22 33"'),
        ("+47 AND 22", "+47 AND 22"),
        ("a -+47 AND 22", "a -+47 AND 22"),
        ("p:+47 AND 22", "p:+47 AND 22"),
        ("NOT NOT a", "--a"),
    ],
)
def test_unparse_is_canonical(query: str, canonical: str | None) -> None:
    if canonical is None:
        error(query)
        return
    tree = parse(query)
    assert tree is not None
    assert unparse(tree) == canonical
    assert parse(canonical) == tree


def test_unparse_flattens_nested_nodes() -> None:
    assert unparse(A(T("a"), A(T("b"), T("c")))) == "a b c"
    assert unparse(O(T("a"), O(T("b"), A(T("c"), T("d"))))) == "a OR b OR c d"
    assert unparse(A(O(T("a"), T("b")), Not(A(T("c"), T("d"))))) == "(a OR b) -(c d)"
    assert unparse(A(A(T("x"), T("+47")), T("22"))) == "x +47 AND 22"


@pytest.mark.parametrize(
    "node",
    [
        T("OR"),
        T("NOT"),
        T(""),
        T("-a"),
        T("a b"),
        T('a"b'),
        T("a(b"),
        T("email:x"),
        T("a:"),
        T("a\x00"),
        Phrase(""),
        Phrase("   "),
        Phrase("a\x00"),
        F("tag", ">5"),
        F("tag", "//x"),
        F("tag", ""),
        F("bad field", "x"),
        F("1a", "x"),
        Compare("n", ">", "abc"),
        Compare("n", "!=", "1"),  # type: ignore[arg-type]
        Compare("n", "=", ""),
        And(()),
        Or(()),
    ],
)
def test_unparse_refuses_a_node_no_query_reads_as(node: Node) -> None:
    with pytest.raises(ValueError):
        unparse(node)


def test_the_tree_is_hashable_and_round_trips_through_json() -> None:
    tree = parse('a -(b OR tag:"x y") n:>=5')
    assert tree is not None
    assert hash(tree) == hash(parse('a -(b OR tag:"x y") n:>=5'))
    data = msgspec.json.encode(tree)
    assert msgspec.json.decode(data, type=Node) == tree
    assert msgspec.json.decode(data)["nodes"][0] == {"type": "Term", "text": "a"}


# -- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Åse", "ase"),
        ("José", "jose"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("ÉCOLE", "ecole"),
        ("Jose\u0301", "jose"),  # decomposed input
        ("Bjørn Ærø", "bjorn aero"),
        ("Łódź", "lodz"),
        ("İstanbul", "istanbul"),
        ("Άλφα", "αλφα"),
        ("Ёжик", "ежик"),
        ("ﬁne", "fine"),
        ("\uff21\uff22\uff23\uff11\uff12", "abc12"),
        ("שָׁלוֹם", "שלום"),
        ("が", "が"),  # the Japanese voicing mark is not an accent
        ("हिंदी", "हिंदी"),  # nor are Devanagari vowel signs
        ("kari@ACME.no", "kari@acme.no"),
    ],
)
def test_normalize(text: str, normalized: str) -> None:
    assert normalize(text) == normalized


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kari@acme.no", ["kari", "acme", "no"]),
        ("o'brien", ["o", "brien"]),
        ("foo-bar", ["foo", "bar"]),
        ("+47 22 33 44 55", ["47", "22", "33", "44", "55"]),
        ("José Ærø", ["jose", "aero"]),
        ("हिंदी भाषा", ["हिंदी", "भाषा"]),
        ("😀 & --", []),
        ("snake_case", ["snake", "case"]),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


# -- properties ------------------------------------------------------------------------

SPECIAL = ['"', "(", ")", "-", ":", "\\", " ", "OR", "AND", "NOT", ">", "=", "<", "+47", "22"]
query_text = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.one_of(
            st.sampled_from([*SPECIAL, "a", "x:", "custom.b:", "2024-01-01", "5", "\x00", "😀"]),
            st.text(max_size=4),
        ),
        max_size=25,
    ).map("".join),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(query_text)
def test_any_text_is_a_tree_or_a_syntax_error(text: str) -> None:
    try:
        tree = parse(text)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message
        return
    if tree is not None:  # and whatever parses has a canonical form that reads the same
        assert parse(unparse(tree)) == tree


def _canonical_phrase(text: str) -> str:
    return " ".join(text.split())


def _plain(ch: str) -> bool:
    return not ch.isspace() and ch not in '()"\x00'


word_chars = st.characters(
    categories=("L", "N", "M", "S", "P"), exclude_characters='()"\\\x00:'
).filter(_plain)
terms = st.one_of(
    st.text(word_chars, min_size=1, max_size=8).filter(
        lambda t: t not in ("OR", "AND", "NOT") and not t.startswith("-")
    ),
    st.sampled_from(["12:30", "::", "https://acme.com", "o'brien", "+47", "22", "\\x", "😀"]),
).map(Term)
phrases = (
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
    .map(_canonical_phrase)
    .filter(bool)
    .map(Phrase)
)
field_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}(\.[a-z0-9_]{1,6}){0,2}", fullmatch=True)
field_values = st.one_of(
    st.text(st.one_of(word_chars, st.sampled_from(":-")), min_size=1, max_size=8)
    .filter(lambda t: t[0] not in "<>=" and not t.startswith("//"))
    .map(Term),
    phrases,
)
numbers = st.one_of(
    st.integers(-(10**9), 10**9).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
)
dates = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))])).map(
        lambda d: d.isoformat(sep=" ")
    ),
)
comparisons = st.one_of(
    st.builds(Compare, field_names, st.sampled_from([">", ">=", "<", "<="]), numbers | dates),
    st.builds(Compare, field_names, st.just("="), phrases.map(lambda p: p.text)),
)
leaves = st.one_of(terms, phrases, st.builds(FieldTerm, field_names, field_values), comparisons)


def _join(kind: type[And] | type[Or], nodes: list[Node]) -> Node:
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, kind) else (node,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=4).map(lambda ns: _join(And, ns)),
        st.lists(children, min_size=2, max_size=4).map(lambda ns: _join(Or, ns)),
    ),
    max_leaves=12,
)


def _nesting(node: Node) -> int:
    """Parentheses and negations the canonical form nests (what MAX_DEPTH limits)."""
    if isinstance(node, Not):
        return 1 + _nesting(node.node) + isinstance(node.node, And | Or)
    if isinstance(node, And):
        return max(_nesting(n) + isinstance(n, Or) for n in node.nodes)
    if isinstance(node, Or):
        return max(_nesting(n) for n in node.nodes)
    return 0


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_parse_of_unparse_is_the_tree(tree: Node) -> None:
    assume(_nesting(tree) <= MAX_DEPTH)
    text = unparse(tree)
    assume(len(text) <= MAX_LENGTH)
    assert parse(text) == tree
    assert unparse(parse(text)) == text  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_normalize_is_idempotent_and_words_are_normalized(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert words(once) == words(text)
    for word in words(text):
        assert word == normalize(word)
        assert all(ch.isalnum() or unicodedata.category(ch)[0] == "M" for ch in word)
