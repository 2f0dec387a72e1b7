"""The search language: Lucene/KQL-style queries parsed into a small tree and compiled to a parameterized SQL
WHERE clause over the ``events`` (or ``alerts``) view. User values only ever travel as SQL parameters.

Syntax (keywords ``AND``, ``OR``, ``NOT``, ``TO`` in any case; ``AND`` binds tighter than ``OR``; terms side by
side are ANDed)::

    user:alice                    the field equals the value (strings: case-insensitive)
    user:"Alice Smith"            a quoted phrase (no wildcards; \\" and \\\\ are escapes, other backslashes stay)
    image:*\\\\powershell.exe       wildcards * (any run) and ? (one character); \\* is a literal star
    src_port:>=1024  dst_port<1024  comparisons, Lucene (field:>=v) or KQL (field >= v); numbers or strings
    dst_port:[1 TO 1023]  dst_port:{0 TO 1024}  @timestamp:[2026-11-01 TO now-1d]   ranges, * = open end
    _exists_:CommandLine  CommandLine:*        the field is present and not null
    NOT user:alice  -user:alice  !user:alice   negation (an absent field is "not alice")
    user:(alice OR bob)           several values of one field
    mimikatz  "lsass.exe"         free text: a case-insensitive substring of the raw message or the field JSON
    *                             everything

Fields: the stored columns (``host``, ``user``, ``src_ip``, ``event_code``...), their ECS names as aliases
(``host.name``, ``source.ip``, ``event.code``...), and any other name is read from the event's field JSON by its
exact (flat, dotted) key; ``fields.<name>`` forces the JSON when a column has the same name. ``message`` matches
substrings (it is free text); the logsource columns ``product``, ``category``, ``service`` and JSON lists match
when any of their values does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from yamori.exceptions import QueryError

# ---------------------------------------------------------------------------------------------------- the tree

Piece = tuple[bool, str]
"""Part of a wildcard pattern: (True, "*" or "?") for a wildcard, (False, text) for literal text."""


@dataclass(frozen=True, slots=True)
class Match:
    """``field`` matches ``value`` (``field`` None: free text). ``pattern`` is set when wildcards are used."""

    field: str | None
    value: str
    pattern: tuple[Piece, ...] | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: Literal[">", ">=", "<", "<="]
    value: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    low: str | None
    high: str | None
    include_low: bool
    include_high: bool
    position: int = 0


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


Node = Match | Exists | Compare | Range | MatchAll | Not | And | Or

# ---------------------------------------------------------------------------------------------------- lexing

TokenKind = Literal["word", "phrase", "range", "(", ")", ":", "cmp", "and", "or", "not", "plus", "eof"]
_KEYWORDS: dict[str, TokenKind] = {"and": "and", "or": "or", "not": "not"}
_STOP = frozenset(" \t\r\n\f\v()\":<>")
_VALUE_STOP = frozenset(" \t\r\n\f\v()\"")


@dataclass(slots=True)
class Token:
    kind: TokenKind
    position: int
    text: str = ""
    pattern: tuple[Piece, ...] | None = None
    """For a word with unescaped wildcards."""
    escaped: bool = False
    """The word had a backslash escape (so it is never a keyword)."""
    bounds: tuple[str | None, str | None, bool, bool] | None = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        # right after "field:" (no space) or a comparison a word is a value: it may hold ':' (IPv6, times) or
        # start with '-' (a negative number), and is never a keyword
        previous = tokens[-1] if tokens else None
        value_position = previous is not None and (previous.kind == "cmp" or (
            previous.kind == ":" and previous.position + 1 == i))
        if char in "()":
            tokens.append(Token(char, i))  # type: ignore[arg-type]
            i += 1
        elif char == '"':
            phrase, i = _phrase(text, i)
            tokens.append(phrase)
        elif char in "[{":
            tokens.append(_range(text, i))
            i = _range_end(text, i) + 1
        elif char == ":":
            tokens.append(Token(":", i))
            i += 1
        elif char in "<>":
            op = char + "=" if text.startswith("=", i + 1) else char
            tokens.append(Token("cmp", i, op))
            i += len(op)
        elif text.startswith("&&", i):
            tokens.append(Token("and", i))
            i += 2
        elif text.startswith("||", i):
            tokens.append(Token("or", i))
            i += 2
        elif char in "-!" and not value_position and i + 1 < n and not text[i + 1].isspace():
            tokens.append(Token("not", i))
            i += 1
        elif char == "+" and not value_position and i + 1 < n and not text[i + 1].isspace():
            tokens.append(Token("plus", i))
            i += 1
        else:
            word, i = _word(text, i, _VALUE_STOP if value_position else _STOP)
            tokens.append(word)
    tokens.append(Token("eof", n))
    return tokens


def _word(text: str, start: int, stop: frozenset[str]) -> tuple[Token, int]:
    pieces: list[Piece] = []
    literal: list[str] = []
    wild = escaped = False
    i, n = start, len(text)
    while i < n and text[i] not in stop:
        char = text[i]
        if char == "\\":
            if i + 1 >= n:
                raise QueryError("a backslash must escape a character", i)
            literal.append(text[i + 1])
            escaped = True
            i += 2
            continue
        if char in "*?":
            if literal:
                pieces.append((False, "".join(literal)))
                literal = []
            pieces.append((True, char))
            wild = True
        else:
            literal.append(char)
        i += 1
    if literal:
        pieces.append((False, "".join(literal)))
    plain = "".join(part for _, part in pieces)
    kind: TokenKind = "word"
    if not escaped and not wild and plain.lower() in _KEYWORDS and stop is _STOP:
        kind = _KEYWORDS[plain.lower()]
    return Token(kind, start, plain, tuple(pieces) if wild else None, escaped), i


def _phrase(text: str, start: int) -> tuple[Token, int]:
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return Token("phrase", start, "".join(out)), i + 1
        out.append(char)
        i += 1
    raise QueryError("unterminated quoted phrase", start)


def _range_end(text: str, start: int) -> int:
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            i = _phrase(text, i)[1]
            continue
        if char in "]}":
            return i
        i += 1
    raise QueryError("unterminated range: expected ']' or '}'", start)


_RANGE_PART = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^\s"]+)')


def _range(text: str, start: int) -> Token:
    end = _range_end(text, start)
    inner = text[start + 1:end]
    parts: list[tuple[str, bool]] = []
    offset = 0
    while True:
        match = _RANGE_PART.match(inner, offset)
        if match is None:
            if inner[offset:].strip():
                raise QueryError("malformed range", start + 1 + offset)
            break
        raw = match.group(1)
        quoted = raw.startswith('"')
        parts.append((_phrase(raw, 0)[0].text if quoted else raw, quoted))
        offset = match.end()
    if len(parts) != 3 or parts[1][1] or parts[1][0].lower() != "to":
        raise QueryError("a range is [low TO high] or {low TO high}", start)
    (low, low_quoted), _, (high, high_quoted) = parts
    return Token("range", start, inner, bounds=(
        None if low == "*" and not low_quoted else low, None if high == "*" and not high_quoted else high,
        text[start] == "[", text[end] == "]"))


# ---------------------------------------------------------------------------------------------------- parsing

_STARTS = frozenset(("word", "phrase", "(", "not", "plus", "range"))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            return MatchAll()
        node = self.or_expr(None)
        if self.peek().kind != "eof":
            token = self.peek()
            what = "')'" if token.kind == ")" else repr(token.text or token.kind)
            raise QueryError(f"unexpected {what}", token.position)
        return node

    def or_expr(self, field: str | None) -> Node:
        items = [self.and_expr(field)]
        while self.peek().kind == "or":
            self.next()
            items.append(self.and_expr(field))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, field: str | None) -> Node:
        items = [self.unary(field)]
        while True:
            if self.peek().kind == "and":
                self.next()
                items.append(self.unary(field))
            elif self.peek().kind in _STARTS or (field is not None and self.peek().kind == "cmp"):
                items.append(self.unary(field))
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, field: str | None) -> Node:
        token = self.peek()
        if token.kind == "not":
            self.next()
            return Not(self.unary(field))
        if token.kind == "plus":
            self.next()
            return self.unary(field)
        return self.primary(field)

    def primary(self, field: str | None) -> Node:
        token = self.peek()
        if token.kind == "(":
            self.next()
            node = self.or_expr(field)
            if self.peek().kind != ")":
                raise QueryError("missing ')' to close the '(' here", token.position)
            self.next()
            return node
        if field is not None:
            return self.value(field, token)
        if token.kind == "word" and self.tokens[self.at + 1].kind in (":", "cmp"):
            self.next()
            name = token.text
            if token.pattern is not None and name != "*":
                raise QueryError("a field name cannot hold wildcards", token.position)
            if self.peek().kind == "cmp":
                return self.value(name, self.peek())
            colon = self.next()
            if name == "_exists_":
                target = self.next()
                if target.kind not in ("word", "phrase") or not target.text:
                    raise QueryError("expected a field name after '_exists_:'", target.position)
                return Exists(target.text, target.position)
            if self.peek().kind == "(":
                group = self.next()
                node = self.or_expr(name)
                if self.peek().kind != ")":
                    raise QueryError("missing ')' to close the '(' here", group.position)
                self.next()
                return node
            if self.peek().kind in ("eof", ")", "and", "or"):
                raise QueryError(f"expected a value after '{name}:'", colon.position + 1)
            return self.value(None if name == "*" else name, self.peek())
        if token.kind == "word":
            self.next()
            if token.pattern is not None and all(wild and part == "*" for wild, part in token.pattern):
                return MatchAll()
            return Match(None, token.text, token.pattern, token.position)
        if token.kind == "phrase":
            self.next()
            return Match(None, token.text, None, token.position)
        if token.kind == "range":
            raise QueryError("a range needs a field: field:[low TO high]", token.position)
        if token.kind == "eof":
            raise QueryError("the query ends where a term was expected", token.position)
        what = "')'" if token.kind == ")" else repr(token.text or token.kind.upper())
        raise QueryError(f"unexpected {what} where a term was expected", token.position)

    def value(self, name: str | None, token: Token) -> Node:
        """The value part of ``name:...`` (``name`` None: ``*:value``, free text)."""
        if token.kind == "cmp":
            self.next()
            target = self.next()
            if target.kind not in ("word", "phrase") or not target.text:
                raise QueryError(f"expected a value after '{token.text}'", target.position)
            if name is None:
                raise QueryError("a comparison needs a field", token.position)
            return Compare(name, token.text, target.text, target.position)  # type: ignore[arg-type]
        if token.kind == "range":
            self.next()
            if name is None:
                raise QueryError("a range needs a field: field:[low TO high]", token.position)
            assert token.bounds is not None
            low, high, include_low, include_high = token.bounds
            return Range(name, low, high, include_low, include_high, token.position)
        if token.kind == "word":
            self.next()
            if token.pattern is not None and all(wild and part == "*" for wild, part in token.pattern):
                return MatchAll() if name is None else Exists(name, token.position)
            return Match(name, token.text, token.pattern, token.position)
        if token.kind == "phrase":
            self.next()
            return Match(name, token.text, None, token.position)
        if token.kind in ("eof", ")"):
            raise QueryError("expected a value", token.position)
        raise QueryError(f"unexpected {token.text or token.kind.upper()!r} where a value was expected",
                         token.position)


def parse_query(text: str) -> Node:
    """The tree of a query; :class:`QueryError` (with the position) when it is malformed."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------------- schema

ColumnKind = Literal["keyword", "text", "multi", "int", "float", "time", "list", "json"]


@dataclass(frozen=True, slots=True)
class Schema:
    """How field names of a query map to one view's columns."""

    view: str
    columns: dict[str, ColumnKind]
    aliases: dict[str, str]
    json_column: str
    free_text: tuple[str, ...]
    """Columns free-text terms search (the JSON column is searched with JSON escaping)."""
    time_column: str = "timestamp"


EVENTS = Schema(
    "events",
    {"event_id": "keyword", "seq": "int", "idx": "int", "timestamp": "time", "received": "time",
     "input": "keyword", "source": "keyword", "position": "keyword", "parser": "keyword", "product": "multi",
     "category": "multi", "service": "multi", "host": "keyword", "user": "keyword", "src_ip": "keyword",
     "dst_ip": "keyword", "src_port": "int", "dst_port": "int", "event_code": "keyword", "action": "keyword",
     "outcome": "keyword", "message": "text", "fields": "text"},
    {"@timestamp": "timestamp", "host.name": "host", "user.name": "user", "source.ip": "src_ip",
     "destination.ip": "dst_ip", "source.port": "src_port", "destination.port": "dst_port",
     "event.code": "event_code", "event.action": "action", "event.outcome": "outcome"},
    "fields", ("message", "fields"))

ALERTS = Schema(
    "alerts",
    {"alert_id": "keyword", "event_id": "keyword", "seq": "int", "idx": "int", "timestamp": "time",
     "detected": "time", "received": "time", "latency_ms": "float", "rule_id": "keyword", "title": "text",
     "level": "keyword", "status": "keyword", "tactics": "list", "techniques": "list", "computer": "keyword",
     "input": "keyword", "source": "keyword", "position": "keyword", "matched": "text"},
    {"@timestamp": "timestamp", "rule.id": "rule_id", "rule.name": "title", "host.name": "computer",
     "host": "computer"},
    "matched", ("title", "matched"))

JSON_PREFIX = "fields."


@dataclass(frozen=True, slots=True)
class Resolved:
    kind: ColumnKind
    column: str
    """The column; for a JSON field (kind ``json``) the JSON column."""
    key: str | None = None
    """For a JSON field: its flat key."""


def json_pointer(name: str) -> str:
    """The JSON pointer of a flat key: dots are not separators there, so ``host.name`` is one key."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def resolve(schema: Schema, name: str) -> Resolved:
    """A field name of a query as a column of ``schema``, or as a key of its JSON column."""
    if name.startswith(JSON_PREFIX) and len(name) > len(JSON_PREFIX):
        return Resolved("json", schema.json_column, name[len(JSON_PREFIX):])
    column = schema.aliases.get(name, name)
    kind = schema.columns.get(column)
    if kind is not None:
        return Resolved(kind, column)
    return Resolved("json", schema.json_column, name)


# ---------------------------------------------------------------------------------------------------- times

_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(\d+)\s*(ms|s|m|h|d|w)$", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$", re.IGNORECASE)
_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
          "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(text: str) -> timedelta:
    """``15m``, ``1h``, ``7d``, ``2w``, ``30s``, ``500ms``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise QueryError(f"not a duration: {text!r} (use e.g. 30s, 15m, 1h, 7d, 2w)")
    duration = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if duration <= timedelta(0):
        raise QueryError(f"a duration must be positive: {text!r}")
    return duration


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC unless it names a zone), ``now``, or relative to now: ``-1h``, ``now-7d``, ``-30m``."""
    value = text.strip()
    moment = now or datetime.now(UTC)
    if value.lower() == "now":
        return moment
    relative = _RELATIVE.match(value)
    if relative is not None:
        delta = int(relative.group(2)) * _UNITS[relative.group(3).lower()]
        return moment - delta if relative.group(1) == "-" else moment + delta
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    except ValueError:
        raise QueryError(f"not a time: {text!r} (use ISO 8601, 'now', or -15m, -1h, -7d)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ---------------------------------------------------------------------------------------------------- compiling


def like_pattern(pieces: tuple[Piece, ...] | None, value: str, contains: bool = False,
                 literal: Any = None) -> str:
    """A LIKE pattern (escape character ``\\``) for a wildcard pattern or a literal value.

    ``literal`` transforms literal text before it is escaped (JSON escaping for the field JSON).
    """
    parts: list[str] = []
    for wild, text in pieces if pieces is not None else ((False, value),):
        if wild:
            parts.append("%" if text == "*" else "_")
        else:
            if literal is not None:
                text = literal(text)
            parts.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    body = "".join(parts)
    return f"%{body}%" if contains else body


def json_escaped(text: str) -> str:
    """``text`` as it appears inside a JSON string written by orjson."""
    return orjson.dumps(text).decode()[1:-1]


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(slots=True)
class Compiled:
    where: str
    """A SQL boolean expression with numbered parameters ``$1``, ``$2``... (``$n`` may appear several times)."""
    params: list[Any] = field(default_factory=list)


class Compiler:
    """Builds SQL with every user value as a numbered parameter; one per query (or count-by, histogram...)."""

    def __init__(self, schema: Schema, now: datetime | None = None) -> None:
        self.schema = schema
        self.now = now
        self.params: list[Any] = []
        self._pointers: dict[str, str] = {}
        self._guards: dict[str, str] = {}

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def pointer(self, key: str) -> str:
        """The parameter holding a JSON key's pointer (one per key, however often the query names it)."""
        found = self._pointers.get(key)
        if found is None:
            found = self._pointers[key] = self.param(json_pointer(key))
        return found

    def value_sql(self, target: Resolved) -> str:
        """The SQL of a field's value: the column, or the JSON key's value as text (a JSON list as its JSON)."""
        if target.kind == "json":
            key = target.key or ""
            guard = self._guards.get(key)
            if guard is None:
                guard = self._guards[key] = self.param(f'"{json_escaped(key)}":')
            # only documents holding the key are parsed: the text test is several times cheaper than a parse
            return (f"CASE WHEN contains({target.column}, {guard}) THEN "
                    f"json_extract_string({target.column}, {self.pointer(key)}) END")
        return f'"{target.column}"'

    def values_sql(self, target: Resolved) -> str:
        """The SQL of a field's values, one row each (``unnest``): facets, lists and JSON lists are split."""
        value = self.value_sql(target)
        if target.kind == "multi":
            return f"unnest(string_split({value}, '|'))"
        if target.kind == "list":
            return f"unnest({value})"
        if target.kind == "json":
            pointer = self.pointer(target.key or "")
            return (f"unnest(CASE WHEN starts_with({value}, '[') THEN CASE WHEN json_type({target.column}, {pointer}) "
                    f"= 'ARRAY' THEN json_extract_string(json_extract({target.column}, {pointer}), '$[*]') "
                    f"ELSE [{value}] END ELSE [{value}] END)")
        return value

    def node(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.node(item) for item in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.node(item) for item in node.items) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.item)})"
        if isinstance(node, MatchAll):
            return "TRUE"
        if isinstance(node, Match) and node.field is None:
            return self.free_text(node)
        # every leaf is TRUE or FALSE, never NULL, so that NOT is the complement (an absent field is "not x")
        return f"COALESCE({self.leaf(node)}, FALSE)"

    def free_text(self, node: Match) -> str:
        tests = []
        for column in self.schema.free_text:
            escape = json_escaped if column == self.schema.json_column else None
            pattern = self.param(like_pattern(node.pattern, node.value, contains=True, literal=escape))
            tests.append(f"COALESCE(\"{column}\" ILIKE {pattern} ESCAPE '\\', FALSE)")
        return "(" + " OR ".join(tests) + ")"

    def leaf(self, node: Node) -> str:
        assert isinstance(node, Match | Exists | Compare | Range) and node.field is not None
        target = resolve(self.schema, node.field)
        value = self.value_sql(target)
        if isinstance(node, Exists):
            return f"({value} IS NOT NULL)"
        if target.kind in ("int", "float"):
            return self.numeric(node, value)
        if target.kind == "time":
            return self.time(node, value)
        return self.any_value(target, value, lambda item: self.string_test(node, target.kind, item))

    def any_value(self, target: Resolved, value: str, test: Callable[[str], str]) -> str:
        """``test`` on the value, or on any element of a multi-valued one (facets, lists, JSON arrays)."""
        if target.kind == "multi":
            return f"list_bool_or(list_transform(string_split({value}, '|'), lambda x: {test('x')}))"
        if target.kind == "list":
            return f"list_bool_or(list_transform({value}, lambda x: {test('x')}))"
        if target.kind == "json":
            pointer = self.pointer(target.key or "")
            # a JSON list matches when an element does; the value is bound once (lambda over a one-item list) so
            # that each document is parsed once, and CASE keeps the element test off scalar rows
            return (f"list_bool_or(list_transform([{value}], lambda v: {test('v')} OR CASE WHEN starts_with(v, '[') "
                    f"THEN list_bool_or(list_transform(json_extract_string(json_extract({target.column}, {pointer}), "
                    f"'$[*]'), lambda x: {test('x')})) ELSE FALSE END))")
        return test(value)

    def string_test(self, node: Node, kind: ColumnKind, value: str) -> str:
        if isinstance(node, Match):
            if kind == "text":  # free-text columns match substrings
                pattern = self.param(like_pattern(node.pattern, node.value, contains=True))
                return f"({value} ILIKE {pattern} ESCAPE '\\')"
            if node.pattern is not None:
                return f"({value} ILIKE {self.param(like_pattern(node.pattern, node.value))} ESCAPE '\\')"
            return f"(lower({value}) = {self.param(node.value.lower())})"
        return "(" + " AND ".join(self.compare_text(value, op, bound) for op, bound in bounds(node)) + ")"

    def compare_text(self, value: str, op: str, bound: str) -> str:
        if _NUMBER.match(bound):  # numbers compare as numbers, also when stored as text ("4624")
            return f"(TRY_CAST({value} AS DOUBLE) {op} {self.param(float(bound))})"
        return f"({value} {op} {self.param(bound)})"

    def numeric(self, node: Node, value: str) -> str:
        if isinstance(node, Match):
            if node.pattern is not None:
                return f"(CAST({value} AS VARCHAR) LIKE {self.param(like_pattern(node.pattern, node.value))} " \
                       "ESCAPE '\\')"
            if not _NUMBER.match(node.value):
                return "FALSE"  # a port is never "abc"
            return f"({value} = {self.param(_number(node.value))})"
        tests = []
        for op, bound in bounds(node):
            if not _NUMBER.match(bound):
                raise QueryError(f"{node.field} holds numbers; {bound!r} is not one",  # type: ignore[union-attr]
                                 node.position)  # type: ignore[union-attr]
            tests.append(f"({value} {op} {self.param(_number(bound))})")
        return "(" + " AND ".join(tests) + ")"

    def time(self, node: Node, value: str) -> str:
        if isinstance(node, Match):
            if node.pattern is not None:
                pattern = self.param(like_pattern(node.pattern, node.value))
                return f"(strftime({value}, '%Y-%m-%dT%H:%M:%S.%fZ') LIKE {pattern} ESCAPE '\\')"
            moment = self.moment(node.value, node.position)
            if _DATE.match(node.value):  # a day means the whole day
                low, high = self.param(moment), self.param(moment + timedelta(days=1))
                return f"({value} >= {low} AND {value} < {high})"
            return f"({value} = {self.param(moment)})"
        position = node.position  # type: ignore[union-attr]
        return "(" + " AND ".join(f"({value} {op} {self.param(self.moment(bound, position))})"
                                  for op, bound in bounds(node)) + ")"

    def moment(self, text: str, position: int) -> datetime:
        try:
            return parse_time(text, self.now)
        except QueryError as exc:
            raise QueryError(exc.reason, position) from None


def bounds(node: Node) -> list[tuple[str, str]]:
    """A comparison or range as (operator, bound) pairs; a range open at both ends is ``>= ''``-free: no pair."""
    if isinstance(node, Compare):
        return [(node.op, node.value)]
    assert isinstance(node, Range)
    found = []
    if node.low is not None:
        found.append((">=" if node.include_low else ">", node.low))
    if node.high is not None:
        found.append(("<=" if node.include_high else "<", node.high))
    return found


def _number(text: str) -> int | float:
    return int(text) if _INTEGER.match(text) else float(text)


def compile_query(query: str | Node, schema: Schema = EVENTS, now: datetime | None = None) -> Compiled:
    """A SQL boolean expression over ``schema``'s view and its parameters (in order)."""
    node = parse_query(query) if isinstance(query, str) else query
    compiler = Compiler(schema, now)
    where = compiler.node(node)
    return Compiled(where, compiler.params)
