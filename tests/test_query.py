"""The search language: every syntax form parses to the expected tree, malformed queries are errors with a
position, hostile values stay literal, and DuckDB's answer to the compiled SQL equals a plain Python evaluation
of the same tree (hypothesis)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yamori.events import Event, LogSource
from yamori.exceptions import QueryError
from yamori.store.events import EventStore
from yamori.store.model import StoredEvent
from yamori.store.query import (
    EVENTS,
    And,
    Compare,
    Compiler,
    Exists,
    Match,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    compile_query,
    json_escaped,
    parse_duration,
    parse_query,
    parse_time,
    resolve,
)
from yamori.store.search import connect, search

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def m(field: str | None, value: str, *pattern: tuple[bool, str]) -> Match:
    return Match(field, value, pattern or None)


def strip(node: Node) -> Node:
    """The tree without positions, to compare with expected trees."""
    if isinstance(node, And | Or):
        return type(node)(tuple(strip(item) for item in node.items))
    if isinstance(node, Not):
        return Not(strip(node.item))
    if isinstance(node, Match | Exists | Compare | Range):
        return type(node)(**{**{name: getattr(node, name) for name in node.__slots__}, "position": 0})
    return node


@pytest.mark.parametrize(("query", "tree"), [
    ("user:alice", m("user", "alice")),
    ('user:"Alice Smith"', m("user", "Alice Smith")),
    ('CommandLine:"C:\\Windows\\cmd.exe /c \\"x\\""', m("CommandLine", 'C:\\Windows\\cmd.exe /c "x"')),
    ('path:"a\\\\b"', m("path", "a\\b")),
    ('msg:"no * wildcard ?"', m("msg", "no * wildcard ?")),
    ("image:*\\\\powershell.exe", m("image", "*\\powershell.exe", (True, "*"), (False, "\\powershell.exe"))),
    ("user:al?ce", m("user", "al?ce", (False, "al"), (True, "?"), (False, "ce"))),
    ("user:a\\*b", m("user", "a*b")),
    ("src_port:>=1024", Compare("src_port", ">=", "1024")),
    ("src_port:<1024", Compare("src_port", "<", "1024")),
    ("dst_port<=22", Compare("dst_port", "<=", "22")),
    ("dst_port > 22", Compare("dst_port", ">", "22")),
    ("n > -5 AND -a:b", And((Compare("n", ">", "-5"), Not(m("a", "b"))))),
    ("n:<-5", Compare("n", "<", "-5")),
    ("dst_port:[1 TO 1023]", Range("dst_port", "1", "1023", True, True)),
    ("dst_port:{0 TO 1024}", Range("dst_port", "0", "1024", False, False)),
    ("dst_port:[1024 TO *}", Range("dst_port", "1024", None, True, False)),
    ('name:["a b" to "c\\"d"]', Range("name", "a b", 'c"d', True, True)),
    ("timestamp:[2026-11-01T00:00:00Z TO now-1d]", Range("timestamp", "2026-11-01T00:00:00Z", "now-1d", True, True)),
    ("_exists_:CommandLine", Exists("CommandLine")),
    ("CommandLine:*", Exists("CommandLine")),
    ("NOT user:alice", Not(m("user", "alice"))),
    ("not user:alice", Not(m("user", "alice"))),
    ("-user:alice", Not(m("user", "alice"))),
    ("!user:alice", Not(m("user", "alice"))),
    ("+user:alice", m("user", "alice")),
    ("a:1 AND b:2 OR c:3", Or((And((m("a", "1"), m("b", "2"))), m("c", "3")))),
    ("a:1 OR b:2 and c:3", Or((m("a", "1"), And((m("b", "2"), m("c", "3")))))),
    ("a:1 b:2", And((m("a", "1"), m("b", "2")))),
    ("a:1 && b:2 || c:3", Or((And((m("a", "1"), m("b", "2"))), m("c", "3")))),
    ("a:1 AND (b:2 OR c:3)", And((m("a", "1"), Or((m("b", "2"), m("c", "3")))))),
    ("user:(alice OR bob)", Or((m("user", "alice"), m("user", "bob")))),
    ("user:(alice bob)", And((m("user", "alice"), m("user", "bob")))),
    ("user:(NOT alice) port:(>1 AND <5)", And((Not(m("user", "alice")),
                                             And((Compare("port", ">", "1"), Compare("port", "<", "5")))))),
    ("mimikatz", m(None, "mimikatz")),
    ('"lsass.exe dump"', m(None, "lsass.exe dump")),
    ("mimi*", m(None, "mimi*", (False, "mimi"), (True, "*"))),
    ("*", MatchAll()),
    ("*:*", MatchAll()),
    ("", MatchAll()),
    ("   ", MatchAll()),
    ("a\\:b:c", m("a:b", "c")),
    ("src_ip:2001:db8::1", m("src_ip", "2001:db8::1")),
    ("timestamp:>2026-11-01T10:00:00Z", Compare("timestamp", ">", "2026-11-01T10:00:00Z")),
    ("user:and", m("user", "and")),
    ('"and"', m(None, "and")),
    ("user: alice", m("user", "alice")),
    ("fields.category:x", m("fields.category", "x")),
])
def test_every_syntax_form_parses(query: str, tree: Node) -> None:
    assert strip(parse_query(query)) == strip(tree)


@pytest.mark.parametrize(("query", "message", "position"), [
    ("user:", "expected a value after 'user:'", 5),
    ("user: AND x", "expected a value after 'user:'", 5),
    ("(a:b", "missing ')'", 0),
    ("a:b)", "unexpected ')'", 3),
    ('x "abc', "unterminated quoted phrase", 2),
    ("a:[1 TO", "unterminated range", 2),
    ("a:[1 2]", "a range is [low TO high]", 2),
    ("AND a:b", "unexpected 'AND'", 0),
    ("a:b OR", "the query ends where a term was expected", 6),
    ("[1 TO 2]", "a range needs a field", 0),
    ("abc\\", "a backslash must escape a character", 3),
    ("a*:b", "a field name cannot hold wildcards", 0),
    ("a:>", "expected a value after '>'", 3),
    ("user:(alice OR", "expected a value", 14),
    ("_exists_:(x)", "expected a field name after '_exists_:'", 9),
])
def test_syntax_errors_say_what_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert message in caught.value.reason and caught.value.position == position
    assert f"at position {position}" in str(caught.value)


@pytest.mark.parametrize(("query", "message", "position"), [
    ("src_port:>abc", "src_port holds numbers", 10),
    ("dst_port:[a TO 9]", "dst_port holds numbers", 9),
    ("timestamp:>yesterday", "not a time", 11),
])
def test_type_errors_have_a_position(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        compile_query(query, now=NOW)
    assert message in caught.value.reason and caught.value.position == position


def test_times_and_durations() -> None:
    assert parse_time("now", NOW) == NOW
    assert parse_time("-1h", NOW) == NOW - timedelta(hours=1)
    assert parse_time("now-7d", NOW) == NOW - timedelta(days=7)
    assert parse_time("-30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_time("+2w", NOW) == NOW + timedelta(weeks=2)
    assert parse_time("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01T10:00:00+02:00", NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_time("2026-11-01 10:00:00", NOW) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    with pytest.raises(QueryError, match="not a time"):
        parse_time("last tuesday", NOW)
    assert parse_duration("15m") == timedelta(minutes=15) and parse_duration("1d") == timedelta(days=1)
    with pytest.raises(QueryError):
        parse_duration("0h")
    with pytest.raises(QueryError):
        parse_duration("soon")


def test_user_values_are_parameters_never_sql_text() -> None:
    hostile = "x'); DROP TABLE events; --"
    compiled = compile_query(f'user:"{hostile}" AND "{hostile}" AND weird\\"key:1', now=NOW)
    assert "DROP" not in compiled.where and "weird" not in compiled.where
    assert hostile.lower() in compiled.params and '/weird"key' in compiled.params


def test_field_names_resolve_to_columns_aliases_or_json_keys() -> None:
    assert resolve(EVENTS, "host").column == "host" and resolve(EVENTS, "host.name").column == "host"
    assert resolve(EVENTS, "source.ip").column == "src_ip" and resolve(EVENTS, "event.code").column == "event_code"
    assert resolve(EVENTS, "@timestamp").kind == "time"
    json = resolve(EVENTS, "process.command_line")
    assert (json.kind, json.key) == ("json", "process.command_line")
    assert resolve(EVENTS, "fields.category").key == "category"  # the JSON key, not the logsource column


# ------------------------------------------------------------------------------------------------ against DuckDB

VALUES = ["alice", "Alice", "ALICE", "bob", "a_b", "a%b", "x*y", "10", "9", "100", "-5", "2.5",
          "C:\\Win\\cmd.exe", "it's", 'say "hi"', "", "[x", "a|b", "x' OR '1'='1"]
WORDS = ["alice", "bob", "a_b", "10", "9", "100", "x", "cmd.exe", "hi", "a%b", "[x"]
FIELDS = ["host", "user", "a", "b.c", "tags", "n", "src_port", "service", "message", "missing", "fields.a",
          "weird\"key'"]
ROWS = 80


def _events() -> Iterator[StoredEvent]:
    import random

    rng = random.Random(4)
    start = datetime(2026, 11, 28, 10, tzinfo=UTC)
    for seq in range(ROWS):
        fields: dict[str, Any] = {}
        for key in ("a", "b.c", "weird\"key'"):
            if rng.random() < 0.8:
                fields[key] = rng.choice([*VALUES, 10, 9, -5, True, None])
        if rng.random() < 0.7:
            fields["tags"] = rng.choice([[rng.choice(VALUES), rng.choice(VALUES)], [], [1, "x"], rng.choice(VALUES)])
        if rng.random() < 0.7:
            fields["n"] = rng.choice([1, 9, 10, 100, -5, "10", "abc", 2.5])
        for ecs in ("host.name", "user.name"):
            if rng.random() < 0.8:
                fields[ecs] = rng.choice(VALUES[:15])
        if rng.random() < 0.7:
            fields["source.port"] = rng.choice([22, 1024, 9, 65535])
        services = rng.choice([(), ("sshd",), ("auth", "sshd"), ("a_b", "x")])
        raw = rng.choice([None, "line with alice and bob", 'quote "hi" 50%', "C:\\Win\\cmd.exe ran"])
        when = (start + timedelta(minutes=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = Event(fields, LogSource((), (), services), "src", str(seq), when, raw, "p")
        yield StoredEvent(seq, 0, "test", 0, event)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query") / "store"
    events = list(_events())
    EventStore(root).write_batch(events[:40], [], 0, 39)
    EventStore(root).write_batch(events[40:], [], 40, ROWS - 1)
    return root


@pytest.fixture(scope="module")
def table(store: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, list[dict[str, Any]]]]:
    connection = connect(store)
    names = [row[0] for row in connection.execute("DESCRIBE events").fetchall()]
    rows = [dict(zip(names, record, strict=True)) for record in connection.execute("SELECT * FROM events").fetchall()]
    yield connection, rows
    connection.close()


def duck(connection: duckdb.DuckDBPyConnection, query: str) -> set[str]:
    compiled = compile_query(query, now=NOW)
    return {row[0] for row in connection.execute(f"SELECT event_id FROM events WHERE {compiled.where}",
                                                 compiled.params).fetchall()}


# --- the oracle: the same tree, evaluated in plain Python over the stored rows

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


def _text(value: Any) -> str | None:
    """A JSON value as DuckDB's json_extract_string gives it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return orjson.dumps(value).decode()
    return orjson.dumps(value).decode()


def _like(pattern: tuple[tuple[bool, str], ...] | None, value: str, text: str, contains: bool,
          cased: bool = False) -> bool:
    parts = "".join((".*" if part == "*" else ".") if wild else re.escape(part)
                    for wild, part in (pattern or ((False, value),)))
    regex = f".*{parts}.*" if contains else parts
    return re.fullmatch(regex, text, re.DOTALL | (0 if cased else re.IGNORECASE)) is not None


def _compare(text: str, op: str, bound: str) -> bool:
    if _NUMBER.match(bound):
        return bool(_NUMBER.match(text.strip())) and _OPS[op](float(text), float(bound))
    return _OPS[op](text, bound)


def _bounds(node: Compare | Range) -> list[tuple[str, str]]:
    if isinstance(node, Compare):
        return [(node.op, node.value)]
    found = []
    if node.low is not None:
        found.append((">=" if node.include_low else ">", node.low))
    if node.high is not None:
        found.append(("<=" if node.include_high else "<", node.high))
    return found


def oracle(node: Node, row: dict[str, Any]) -> bool:
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(oracle(item, row) for item in node.items)
    if isinstance(node, Or):
        return any(oracle(item, row) for item in node.items)
    if isinstance(node, Not):
        return not oracle(node.item, row)
    if isinstance(node, Match) and node.field is None:
        message = row["message"] or ""
        escaped = tuple((wild, part if wild else json_escaped(part)) for wild, part in
                        (node.pattern or ((False, node.value),)))
        return _like(node.pattern, node.value, message, True) or _like(escaped, "", row["fields"], True)
    assert isinstance(node, Match | Exists | Compare | Range) and node.field is not None
    target = resolve(EVENTS, node.field)
    if target.kind == "json":
        raw = orjson.loads(row["fields"]).get(target.key)
        scalar = _text(raw)
        values = [scalar] + ([_text(item) for item in raw] if isinstance(raw, list) else [])
    elif target.kind == "multi":
        scalar = row[target.column]
        values = scalar.split("|") if scalar is not None else [None]
    else:
        scalar = row[target.column]
        values = [scalar]
    if isinstance(node, Exists):
        return scalar is not None
    if target.kind == "int":
        if scalar is None:
            return False
        if isinstance(node, Match):
            if node.pattern is not None:
                return _like(node.pattern, node.value, str(scalar), False, cased=True)
            return bool(_NUMBER.match(node.value)) and scalar == float(node.value)
        return all(_OPS[op](scalar, float(bound)) for op, bound in _bounds(node))
    texts = [value for value in values if value is not None]
    if isinstance(node, Match):
        if target.kind == "text":
            return any(_like(node.pattern, node.value, text, True) for text in texts)
        if node.pattern is not None:
            return any(_like(node.pattern, node.value, text, False) for text in texts)
        return any(text.lower() == node.value.lower() for text in texts)
    return any(all(_compare(text, op, bound) for op, bound in _bounds(node)) for text in texts)


def _word(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(WORDS))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(word)))
        word = word[:at] + draw(st.sampled_from(["*", "?"])) + word[at:]
    return word.replace("[", "\\[") if word.startswith("[") else word


def _phrase(draw: st.DrawFn) -> str:
    value = draw(st.sampled_from(VALUES))
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(FIELDS))
    return name.replace('"', '\\"').replace("'", "\\'")


@st.composite
def leaves(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["eq", "eq", "phrase", "cmp", "range", "exists", "free", "free_phrase"]))
    name = _field(draw)
    number = draw(st.sampled_from(["9", "10", "1024", "-5", "2.5"]))
    if kind == "eq":
        return f"{name}:{_word(draw)}"
    if kind == "phrase":
        return f"{name}:{_phrase(draw)}"
    if kind == "cmp":
        op = draw(st.sampled_from([">", ">=", "<", "<="]))
        bound = number if name == "src_port" or draw(st.booleans()) else draw(st.sampled_from(["alice", "b", "Z"]))
        return f"{name}:{op}{bound}" if draw(st.booleans()) else f"{name} {op} {bound}"
    if kind == "range":
        low, high = sorted([draw(st.sampled_from(["1", "9", "10", "100"])) for _ in range(2)], key=float)
        if name != "src_port" and draw(st.booleans()):
            low, high = "a", "bob"
        return f"{name}:{draw(st.sampled_from('[{'))}{low} TO {high}{draw(st.sampled_from(']}'))}"
    if kind == "exists":
        return f"_exists_:{name}" if draw(st.booleans()) else f"{name}:*"
    return _word(draw) if kind == "free" else _phrase(draw)


@st.composite
def queries(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(leaves())
    left, right = draw(queries(depth + 1)), draw(queries(depth + 1))
    joined = draw(st.sampled_from([f"{left} AND {right}", f"{left} OR {right}", f"{left} {right}",
                                   f"({left} OR {right})", f"NOT ({left})", f"-{left}" if ":" in left else left]))
    return joined


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries())
def test_duckdb_agrees_with_a_python_evaluation_of_the_query(
        table: tuple[duckdb.DuckDBPyConnection, list[dict[str, Any]]], query: str) -> None:
    connection, rows = table
    node = parse_query(query)
    expected = {row["event_id"] for row in rows if oracle(node, row)}
    assert duck(connection, query) == expected, query


@pytest.mark.parametrize(("query", "count"), [
    ("user:alice", None),  # sanity: the fixtures hold matches for the forms below
    ('a:"x\' OR \'1\'=\'1"', None),
    ("service:sshd", None),
    ("tags:bob", None),
    ('"say \\"hi\\""', None),
    ("a:a_b", None),
    ("a:a%b", None),
])
def test_each_form_matches_something_in_the_fixture(table: tuple[duckdb.DuckDBPyConnection,
                                                                 list[dict[str, Any]]], query: str,
                                                     count: int | None) -> None:
    connection, rows = table
    found = duck(connection, query)
    assert found and found == {row["event_id"] for row in rows if oracle(parse_query(query), row)}


@pytest.mark.parametrize("query", [
    "\"x'); DROP TABLE events; --\"",
    "x'\\); DROP TABLE events; --",
    "user:\"'; DELETE FROM events; --\"",
    "user:\\'\\)\\ OR\\ 1=1\\ --",
    "fields.x\\'\\)\\;\\ DROP:1",
    "src_port:1 OR 1=1",
    "a:%",
    "a:_",
    "\"%\"",
])
def test_hostile_queries_stay_literal(store: Path, table: tuple[duckdb.DuckDBPyConnection,
                                                                list[dict[str, Any]]], query: str) -> None:
    connection, rows = table
    assert duck(connection, query) == {row["event_id"] for row in rows if oracle(parse_query(query), row)}
    assert len(search(store, "*", limit=1000)) == ROWS  # nothing was changed


def test_literal_percent_and_underscore_are_not_wildcards(table: tuple[duckdb.DuckDBPyConnection,
                                                                       list[dict[str, Any]]]) -> None:
    connection, rows = table
    exact = {row["event_id"] for row in rows if orjson.loads(row["fields"]).get("a") == "a_b"}
    assert exact and duck(connection, "a:a_b") == exact
    assert duck(connection, "a:a?b") >= exact


def test_compiler_reuses_one_parameter_per_json_key() -> None:
    compiler = Compiler(EVENTS)
    compiler.node(parse_query("a:1 OR a:2 OR _exists_:a"))
    assert compiler.params.count("/a") == 1
