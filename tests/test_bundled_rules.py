"""Yamori's own rules (the top-level ``rules/`` folder): valid Sigma, complete metadata, their example events
(``<rule>.tests.yml``, format in rules/README.md) match as stated under the reference oracle, and each rule
fires on the demo events in ``demo/events/``."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from yamori import paths
from yamori.engine.oracle import oracle_match
from yamori.events import Event, LogSource
from yamori.parsers.windows import flatten_evtx_json
from yamori.sources.content import read_bytes

REPO = Path(__file__).resolve().parent.parent
RULES_DIR = REPO / "rules"
DEMO_DIR = REPO / "demo" / "events"

RULE_FILES = sorted(p for p in RULES_DIR.rglob("*.yml") if not p.name.endswith(".tests.yml"))
TESTS_FILES = sorted(RULES_DIR.rglob("*.tests.yml"))
REQUIRED_KEYS = ("title", "id", "status", "description", "references", "author", "date", "tags", "logsource",
                 "detection", "falsepositives", "level")
TACTIC_TAG = re.compile(r"^attack\.[a-z]+(-[a-z]+)*$")
TECHNIQUE_TAG = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")
FACETS = ("product", "category", "service")


def _id(path: Path) -> str:
    return path.stem


def _tests_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.stem + ".tests.yml")


@cache
def _rule(rule_file: Path) -> SigmaRule:
    collection = SigmaCollection.from_yaml(rule_file.read_text(encoding="utf-8"))
    assert not collection.errors, collection.errors
    assert len(collection.rules) == 1, f"{rule_file} must hold exactly one rule"
    rule = collection.rules[0]
    assert isinstance(rule, SigmaRule)
    return rule


def _logsource(spec: Mapping[str, Any]) -> LogSource:
    unknown = set(spec) - set(FACETS)
    assert not unknown, f"unknown _logsource keys {unknown}"

    def facet(name: str) -> tuple[str, ...]:
        value = spec.get(name)
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    return LogSource(product=facet("product"), category=facet("category"), service=facet("service"))


def _split(example: Mapping[str, Any]) -> tuple[LogSource, dict[str, Any]]:
    unknown = {k for k in example if k.startswith("_")} - {"_logsource", "_note", "_raw", "_name"}
    assert not unknown, f"unknown metadata keys {unknown}"
    if "_raw" in example:
        return _parse_raw(example)
    assert "_logsource" in example, f"example without _logsource or _raw: {example}"
    fields = {k: v for k, v in example.items() if not k.startswith("_")}
    assert fields, "example without fields"
    return _logsource(example["_logsource"]), fields


def _parse_raw(example: Mapping[str, Any]) -> tuple[LogSource, dict[str, Any]]:
    """A raw record (a log line, or a JSON object) read by Yamori's parsers, as from a file named ``_name``."""
    assert not any(not k.startswith("_") for k in example), "a _raw example has no other fields"
    raw = example["_raw"]
    data = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    items = read_bytes(data + b"\n", example.get("_name", "sample.log"))
    assert len(items) == 1 and isinstance(items[0], Event), f"{raw!r} parses to {items}"
    event = items[0]
    if "_logsource" in example:
        assert event.logsource == _logsource(example["_logsource"]), event.logsource
    return event.logsource, event.fields


def _covers(logsource: LogSource, rule: SigmaRule) -> bool:
    return logsource.covers(rule.logsource.product, rule.logsource.category, rule.logsource.service)


def test_rules_folder_layout() -> None:
    assert 5 <= len(RULE_FILES) <= 80, RULE_FILES
    assert paths.bundled_rules_dir() == RULES_DIR
    for tests_file in TESTS_FILES:
        rule_file = tests_file.with_name(tests_file.name.removesuffix(".tests.yml") + ".yml")
        assert rule_file.is_file(), f"{tests_file} has no rule beside it"
    ids = [_rule(f).id for f in RULE_FILES]
    assert len(set(ids)) == len(ids), "rule ids must be unique"
    titles = [_rule(f).title for f in RULE_FILES]
    assert len(set(titles)) == len(titles), "rule titles must be unique"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=_id)
def test_rule_metadata(rule_file: Path) -> None:
    raw = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED_KEYS if key not in raw]
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
    # the file lives where its logsource says: rules/<product or generic>/.../<category or service or generic>/
    relative = rule_file.relative_to(RULES_DIR).parts
    assert relative[0] == (raw["logsource"].get("product") or "generic")
    expected_folder = raw["logsource"].get("category") or raw["logsource"].get("service") or "generic"
    assert relative[-2] == expected_folder
    assert _tests_file(rule_file).is_file(), f"{rule_file.name} has no {_tests_file(rule_file).name}"
    _rule(rule_file)  # parses with pySigma, without errors


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=_id)
def test_rule_examples(rule_file: Path) -> None:
    rule = _rule(rule_file)
    examples = yaml.safe_load(_tests_file(rule_file).read_text(encoding="utf-8"))
    assert set(examples) == {"positive", "negative"}
    assert examples["positive"] and examples["negative"]
    for kind in ("positive", "negative"):
        for number, example in enumerate(examples[kind], 1):
            logsource, fields = _split(example)
            where = f"{rule_file.name} {kind} example {number} ({example.get('_note', '')})"
            assert _covers(logsource, rule), f"{where}: the rule does not apply to {logsource.describe()}"
            assert oracle_match(rule, fields) is (kind == "positive"), where


def _demo_events() -> list[tuple[str, dict[str, Any], LogSource]]:
    events = []
    for path in sorted(DEMO_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            fields, logsource, _ = flatten_evtx_json(json.loads(line))
            events.append((f"{path.name}:{number}", fields, logsource))
    return events


def test_demo_events_shape() -> None:
    events = _demo_events()
    assert 30 <= len(events) <= 60
    for where, fields, logsource in events:
        assert isinstance(fields.get("EventID"), int), where
        assert fields.get("Channel") and fields.get("Computer") and fields.get("EventRecordID"), where
        assert "windows" in logsource.product, where


@pytest.mark.parametrize("rule_file", [f for f in RULE_FILES if f.relative_to(RULES_DIR).parts[0] == "windows"],
                         ids=_id)
def test_rule_fires_on_demo_events(rule_file: Path) -> None:
    rule = _rule(rule_file)
    hits = [where for where, fields, logsource in _demo_events()
            if _covers(logsource, rule) and oracle_match(rule, fields)]
    assert hits, f"{rule_file.name} fires on no demo event"


def test_every_demo_file_reads_cleanly_and_gives_detections(rule_cache: Path) -> None:
    """`make demo` shows every source family: each demo file parses without a bad record and some rule fires."""
    from yamori.engine.matcher import Engine
    from yamori.engine.ruleset import load_ruleset
    from yamori.sources.files import read_file

    engine = Engine(load_ruleset([RULES_DIR]))
    files = sorted(p for p in DEMO_DIR.iterdir() if p.is_file())
    assert len(files) >= 8
    for path in files:
        items = list(read_file(path))
        assert all(isinstance(item, Event) for item in items), f"{path.name}: {items}"
        assert any(engine.match(item) for item in items if isinstance(item, Event)), f"nothing fires on {path.name}"
