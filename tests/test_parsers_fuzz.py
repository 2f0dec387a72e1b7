"""Every parser of the registry, fuzzed from its own fixtures: no exception but Malformed escapes, ever.

Seeds are the records of ``tests/fixtures/**`` that each parser produced (grouped by ``Event.parser``, which
:func:`yamori.parsers.base.finish` sets to the parser's name). Hypothesis mutates them (cuts, splices, random
bytes and characters for text; dropped keys and values of the wrong type for JSON; truncated and altered bytes
for documents) and feeds them to the parser directly, the way the readers do.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yamori.events import BadRecord, Event
from yamori.parsers.base import (
    DocumentParser,
    Envelope,
    Malformed,
    MessageParser,
    ParseContext,
    Parsed,
    Parser,
    RecordParser,
    TextParser,
)
from yamori.parsers.registry import all_parsers
from yamori.parsers.syslog import SyslogParser
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = ParseContext("fuzz", "fuzz.log", datetime(2026, 11, 28, tzinfo=UTC))
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


@cache
def _seeds() -> dict[str, dict[str, list[Any]]]:
    """parser name -> {"records": [...], "lines": [...], "documents": [...]} from the fixtures."""
    seeds: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        head = path.read_bytes()[:64].lstrip()
        for item in read_file(path):
            if not isinstance(item, Event):
                continue
            if not item.parser:
                continue
            kind = seeds[item.parser]
            if isinstance(item.raw, dict):
                kind["records"].append(item.raw)
            elif isinstance(item.raw, str):
                kind["lines"].append(item.raw)
            if path not in kind["files"]:
                kind["files"].append(path)
                if head.startswith(b"<"):
                    kind["documents"].append(path)
    return seeds


def _parsers() -> list[Parser]:
    return list(all_parsers())


def _check(items: Any) -> None:
    try:
        for item in items:
            assert isinstance(item, Parsed | BadRecord), type(item)
    except Malformed:
        pass


@st.composite
def _mutated_text(draw: st.DrawFn, seeds: list[str]) -> str:
    line = draw(st.sampled_from(seeds))
    operation = draw(st.sampled_from(["cut", "splice", "replace", "insert", "random"]))
    if operation == "random":
        return draw(st.text(max_size=200))
    at = draw(st.integers(0, len(line)))
    if operation == "cut":
        return line[:at]
    if operation == "splice":
        other = draw(st.sampled_from(seeds))
        return line[:at] + other[draw(st.integers(0, len(other))):]
    piece = draw(st.text(max_size=12) | st.sampled_from(["=", "|", '"', "\\", ":", ",", "[", "]", "{", "-", "%"]))
    if operation == "replace":
        return line[:at] + piece + line[at + len(piece):]
    return line[:at] + piece + line[at:]


@st.composite
def _mutated_record(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    record = _copy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        target, key = _pick(draw, record)
        if target is None:
            break
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(JSON_VALUES)
    return record


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _pick(draw: st.DrawFn, record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """A (dict, key) somewhere in the record, chosen at random."""
    candidates: list[tuple[dict[str, Any], str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                candidates.append((value, key))
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(record)
    if not candidates:
        return None, ""
    return draw(st.sampled_from(candidates))


def _text_items(parser: TextParser, lines: list[str]) -> Iterator[Parsed | BadRecord]:
    return parser.parse(list(enumerate(lines, 1)), CONTEXT)


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("parser", _parsers(), ids=lambda p: p.name)
def test_every_parser_has_fixtures(parser: Parser) -> None:
    seeds = _seeds().get(parser.name)
    assert seeds and any(seeds.values()), (
        f"no fixture under tests/fixtures produces an event of parser {parser.name!r}")


@pytest.mark.parametrize("parser", _parsers(), ids=lambda p: p.name)
@FUZZ
@given(data=st.data())
def test_fuzz_parser(parser: Parser, data: st.DataObject) -> None:
    seeds = _seeds().get(parser.name, {})
    if isinstance(parser, RecordParser):
        records = seeds.get("records") or [{}]
        record = data.draw(_mutated_record(records) | st.dictionaries(st.text(max_size=12), JSON_VALUES))
        try:
            if parser.accepts(record, CONTEXT):
                _check(parser.parse(record, CONTEXT))
        except Malformed:
            pass
    elif isinstance(parser, MessageParser):
        lines = seeds.get("lines") or ["x"]
        line = data.draw(_mutated_text(lines))
        syslog = SyslogParser([parser])
        try:
            syslog.parse_line(line, CONTEXT.reference_time, CONTEXT)
            parser.parse(line, Envelope(line=line), CONTEXT)
        except Malformed:
            pass
    elif isinstance(parser, TextParser):
        files = seeds.get("files") or []
        if not files:
            pytest.skip(f"{parser.name}: no text fixture")
        lines = data.draw(st.sampled_from(files)).read_text(encoding="utf-8", errors="replace").splitlines()[:60]
        lines = [line for line in lines if line.strip()] or ["x"]
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(lines) - 1))
            lines[at] = data.draw(_mutated_text(lines))
        _check(_text_items(parser, lines))
    elif isinstance(parser, DocumentParser):
        documents = seeds.get("documents") or []
        if not documents:
            pytest.skip(f"{parser.name}: no XML fixture")
        original = data.draw(st.sampled_from(documents)).read_bytes()
        at = data.draw(st.integers(0, len(original)))
        noise = data.draw(st.binary(max_size=20))
        mutated = data.draw(st.sampled_from([original[:at], original[:at] + noise + original[at:],
                                             original[:at] + noise + original[at + len(noise):]]))
        _check(parser.parse(io.BytesIO(mutated), CONTEXT))
