"""Yamori's own correlation rules (``rules/correlation/``): complete metadata, every one resolves against the
bundled rules, and each example event sequence of its ``<rule>.tests.yml`` (format in rules/README.md,
"Correlation rules") makes it fire (positive) or not (negative) when all bundled rules run over it, detection and
correlation, as ``yamori hunt`` runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rulekit import (
    CORRELATION_DIR,
    CORRELATION_FILES,
    RULES_DIR,
    check_metadata,
    examples,
    rule_document,
    sequence_event,
)
from yamori.correlation.correlator import CorrelationAlert
from yamori.correlation.offline import correlate_events, correlation_set
from yamori.correlation.ruleset import CorrelationSet
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet, load_ruleset

REQUIRED_KEYS = ("title", "id", "name", "status", "description", "references", "author", "date", "tags",
                 "correlation", "falsepositives", "level")
SEQUENCE_KEYS = {"_note", "alerts", "events"}


def _id(path: Path) -> str:
    return path.stem


@pytest.fixture(scope="module")
def bundled(rule_cache: Path) -> tuple[CompiledRuleSet, CorrelationSet]:
    ruleset = load_ruleset([RULES_DIR])
    return ruleset, correlation_set(ruleset)


def test_there_are_correlation_rules() -> None:
    assert len(CORRELATION_FILES) >= 8
    assert all(path.parent == CORRELATION_DIR for path in CORRELATION_FILES), "correlations live in rules/correlation/"


def test_every_bundled_correlation_resolves(bundled: tuple[CompiledRuleSet, CorrelationSet]) -> None:
    ruleset, correlations = bundled
    problems = [p for p in ruleset.problems if p.kind != "unmapped"]
    assert not problems, problems
    assert not correlations.problems, correlations.problems
    loaded = {c.id for c in correlations.correlations if c.rule.type != "new_terms"}  # new_terms: on detections
    assert {str(rule_document(path)["id"]) for path in CORRELATION_FILES} == loaded


@pytest.mark.parametrize("rule_file", CORRELATION_FILES, ids=_id)
def test_correlation_metadata(rule_file: Path) -> None:
    raw = rule_document(rule_file)
    check_metadata(raw, rule_file, REQUIRED_KEYS)
    assert raw["name"] == rule_file.stem
    # the description says why the numbers are what they are
    condition = raw["correlation"].get("condition")
    if isinstance(condition, dict):
        assert "Why" in raw["description"], f"{rule_file.name}: explain the threshold and timespan"


def _sources(correlations: CorrelationSet, correlation_id: str) -> set[str]:
    """Every single-event rule the correlation reads, through the correlations it reads."""
    by_id = {c.id: c for c in correlations.correlations}
    out: set[str] = set()
    for source in by_id[correlation_id].sources:
        out |= _sources(correlations, source) if source in by_id else {source}
    return out


def _alerts_of(correlation_id: str, alerts: list[CorrelationAlert]) -> list[CorrelationAlert]:
    return [alert for alert in alerts if alert.correlation.id == correlation_id]


@pytest.mark.parametrize("rule_file", CORRELATION_FILES, ids=_id)
def test_correlation_examples(rule_file: Path, bundled: tuple[CompiledRuleSet, CorrelationSet]) -> None:
    ruleset, correlations = bundled
    correlation_id = str(rule_document(rule_file)["id"])
    read = _sources(correlations, correlation_id)
    engine = Engine(ruleset)
    loaded = examples(rule_file)
    for kind in ("positive", "negative"):
        for number, sequence in enumerate(loaded[kind], 1):
            where = f"{rule_file.name} {kind} sequence {number} ({sequence.get('_note', '')})"
            assert set(sequence) <= SEQUENCE_KEYS and sequence.get("events"), where
            events = [sequence_event(example, index) for index, example in enumerate(sequence["events"], 1)]
            if kind == "positive":
                # every event of a positive sequence takes part: a typo that no rule matches would go unnoticed
                for index, event in enumerate(events, 1):
                    matched = {engine.infos[i].id for i in engine.match(event)}
                    assert matched & read, f"{where}: event {index} matches none of the rules the correlation reads"
            fired = _alerts_of(correlation_id, correlate_events(ruleset, events, correlations))
            if kind == "negative":
                assert not fired, f"{where}: fired {[(a.group, a.value) for a in fired]}"
            elif "alerts" in sequence:
                assert len(fired) == sequence["alerts"], f"{where}: {[(a.group, a.value) for a in fired]}"
            else:
                assert fired, where


def test_an_alert_references_every_event_it_rests_on(bundled: tuple[CompiledRuleSet, CorrelationSet]) -> None:
    """The first positive sequence of the per-source brute force: its alert lists the five failures it counted
    (the sixth starts the next count)."""
    ruleset, correlations = bundled
    rule_file = CORRELATION_DIR / "corr_brute_force_per_source.yml"
    sequence: dict[str, Any] = examples(rule_file)["positive"][0]
    events = [sequence_event(example, index) for index, example in enumerate(sequence["events"], 1)]
    fired = _alerts_of(str(rule_document(rule_file)["id"]), correlate_events(ruleset, events, correlations))
    assert [(a.group, a.events, a.value) for a in fired] == [({"source.ip": "203.0.113.77"},
                                                               ["1", "2", "3", "4", "5"], 5.0)]
