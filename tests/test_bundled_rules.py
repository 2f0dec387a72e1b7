"""Yamori's own single-event rules (the top-level ``rules/`` folder): valid Sigma, complete metadata, their
example events (``<rule>.tests.yml``, format in rules/README.md) match as stated under the reference oracle, and
each rule fires on the demo events in ``demo/events/``. The correlation rules (``rules/correlation/``) and their
event sequences are checked in test_bundled_correlations.py."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from rulekit import (
    ALL_RULE_FILES,
    REPO,
    RULE_FILES,
    RULES_DIR,
    TESTS_FILES,
    check_metadata,
    examples,
    split_example,
)
from rulekit import tests_file as _tests_file
from yamori import paths
from yamori.engine.oracle import oracle_match
from yamori.events import Event, LogSource
from yamori.parsers.windows import flatten_evtx_json

DEMO_DIR = REPO / "demo" / "events"

REQUIRED_KEYS = ("title", "id", "status", "description", "references", "author", "date", "tags", "logsource",
                 "detection", "falsepositives", "level")


def _id(path: Path) -> str:
    return path.stem


@cache
def _rule(rule_file: Path) -> SigmaRule:
    collection = SigmaCollection.from_yaml(rule_file.read_text(encoding="utf-8"))
    assert not collection.errors, collection.errors
    assert len(collection.rules) == 1, f"{rule_file} must hold exactly one rule"
    rule = collection.rules[0]
    assert isinstance(rule, SigmaRule)
    return rule


def _covers(logsource: LogSource, rule: SigmaRule) -> bool:
    return logsource.covers(rule.logsource.product, rule.logsource.category, rule.logsource.service)


def test_rules_folder_layout() -> None:
    assert 5 <= len(ALL_RULE_FILES) <= 80, ALL_RULE_FILES
    assert paths.bundled_rules_dir() == RULES_DIR
    for tests_file in TESTS_FILES:
        rule_file = tests_file.with_name(tests_file.name.removesuffix(".tests.yml") + ".yml")
        assert rule_file.is_file(), f"{tests_file} has no rule beside it"
    documents = [yaml.safe_load(f.read_text(encoding="utf-8")) for f in ALL_RULE_FILES]
    ids = [str(d["id"]) for d in documents]
    assert len(set(ids)) == len(ids), "rule ids must be unique (correlations included)"
    titles = [d["title"] for d in documents]
    assert len(set(titles)) == len(titles), "rule titles must be unique (correlations included)"
    names = [d["name"] for d in documents if "name" in d]
    assert len(set(names)) == len(names), "rule names must be unique (correlations refer to rules by name)"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=_id)
def test_rule_metadata(rule_file: Path) -> None:
    raw = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
    check_metadata(raw, rule_file, REQUIRED_KEYS)
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
    loaded = examples(rule_file)
    for kind in ("positive", "negative"):
        for number, example in enumerate(loaded[kind], 1):
            logsource, fields = split_example(example)
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
    assert 30 <= len(events) <= 70
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
