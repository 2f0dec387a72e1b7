"""Yamori's own rules (the top-level ``rules/`` folder) for tests: which files are single-event rules and which
are correlations, and the example events of ``<rule>.tests.yml`` (format in rules/README.md) turned into the
fields, logsource and Event the engine sees."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from yamori.events import Event, LogSource
from yamori.sources.content import read_bytes

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
CORRELATION_DIR = RULES_DIR / "correlation"
FACETS = ("product", "category", "service")
EVENT_KEYS = frozenset({"_logsource", "_note", "_raw", "_name"})
"""The metadata keys of an example event; a correlation's sequences add ``_time`` to each of their events."""


@cache
def rule_document(rule_file: Path) -> dict[str, Any]:
    document = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{rule_file} is not one YAML mapping"
    return document


def is_correlation(rule_file: Path) -> bool:
    return "correlation" in rule_document(rule_file)


ALL_RULE_FILES = sorted(p for p in RULES_DIR.rglob("*.yml") if not p.name.endswith(".tests.yml"))
RULE_FILES = [p for p in ALL_RULE_FILES if not is_correlation(p)]
"""Single-event rules."""
CORRELATION_FILES = [p for p in ALL_RULE_FILES if is_correlation(p)]
TESTS_FILES = sorted(RULES_DIR.rglob("*.tests.yml"))


def tests_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.stem + ".tests.yml")


def examples(rule_file: Path) -> dict[str, list[dict[str, Any]]]:
    loaded = yaml.safe_load(tests_file(rule_file).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict) and set(loaded) == {"positive", "negative"}, f"{tests_file(rule_file)}"
    assert loaded["positive"] and loaded["negative"], f"{tests_file(rule_file)} needs positive and negative examples"
    return loaded


def logsource_of(spec: Mapping[str, Any]) -> LogSource:
    unknown = set(spec) - set(FACETS)
    assert not unknown, f"unknown _logsource keys {unknown}"

    def facet(name: str) -> tuple[str, ...]:
        value = spec.get(name)
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    return LogSource(product=facet("product"), category=facet("category"), service=facet("service"))


def raw_event(example: Mapping[str, Any]) -> Event:
    """A raw record (a log line, or a JSON object) read by Yamori's parsers, as from a file named ``_name``."""
    assert not any(not k.startswith("_") for k in example), "a _raw example has no other fields"
    raw = example["_raw"]
    data = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    items = read_bytes(data + b"\n", example.get("_name", "sample.log"))
    assert len(items) == 1 and isinstance(items[0], Event), f"{raw!r} parses to {items}"
    event = items[0]
    if "_logsource" in example:
        assert event.logsource == logsource_of(example["_logsource"]), event.logsource
    return event


def split_example(example: Mapping[str, Any]) -> tuple[LogSource, dict[str, Any]]:
    """The logsource and fields of a single-event example."""
    unknown = {k for k in example if k.startswith("_")} - EVENT_KEYS
    assert not unknown, f"unknown metadata keys {unknown}"
    if "_raw" in example:
        event = raw_event(example)
        return event.logsource, event.fields
    assert "_logsource" in example, f"example without _logsource or _raw: {example}"
    fields = {k: v for k, v in example.items() if not k.startswith("_")}
    assert fields, "example without fields"
    return logsource_of(example["_logsource"]), fields


def sequence_event(example: Mapping[str, Any], position: int) -> Event:
    """One event of a correlation example's sequence: a raw record keeps the time its parser reads; flat fields
    take ``_time`` (ISO 8601, required for them)."""
    unknown = {k for k in example if k.startswith("_")} - EVENT_KEYS - {"_time"}
    assert not unknown, f"unknown metadata keys {unknown}"
    if "_raw" in example:
        assert "_time" not in example, "a _raw event has its own time: _time is for flat-field events"
        event = raw_event(example)
        assert event.timestamp, f"{example['_raw']!r}: the parser reads no time"
    else:
        assert "_time" in example, f"a flat-field event of a sequence needs _time: {example}"
        logsource, fields = split_example({k: v for k, v in example.items() if k != "_time"})
        moment = datetime.fromisoformat(str(example["_time"]))
        assert moment.tzinfo is not None, f"_time {example['_time']!r} needs a zone (Z or +hh:mm)"
        event = Event(fields=fields, logsource=logsource, timestamp=moment.isoformat())
    event.source = "example"
    event.position = str(position)
    return event


TACTIC_TAG = re.compile(r"^attack\.[a-z]+(-[a-z]+)*$")
TECHNIQUE_TAG = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")


def check_metadata(raw: Mapping[str, Any], rule_file: Path, required: tuple[str, ...]) -> None:
    """What every bundled rule (detection or correlation) must carry (rules/README.md)."""
    missing = [key for key in required if key not in raw]
    assert not missing, f"{rule_file.name} lacks {missing}"
    assert uuid.UUID(raw["id"]).version == 4
    assert raw["author"] == "Yamori"
    assert str(raw["date"]) == "2026-11-28"
    assert raw["level"] in ("informational", "low", "medium", "high", "critical")
    assert raw["status"] in ("experimental", "test", "stable")
    assert raw["references"] and raw["falsepositives"]
    tags = raw["tags"]
    assert any(TACTIC_TAG.match(t) and not TECHNIQUE_TAG.match(t) for t in tags), tags
    assert any(TECHNIQUE_TAG.match(t) for t in tags), tags
    assert all(t.startswith("attack.") for t in tags), tags
    if "name" in raw:
        assert raw["name"] == rule_file.stem, "a rule's name is its file name (correlations refer to it)"
