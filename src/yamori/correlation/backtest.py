"""Backtest: how often a rule (single or correlation) would have fired over stored history, before it is enabled.

The rule runs with the same engine and correlator as ``yamori serve``, over the events ``yamori serve`` stored in
a time range (``yamori.store.hunt``); the report gives the alert count, alerts per day, the entities they would
have been about and a sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yamori.alerts.detection import Detection
from yamori.correlation.correlator import Observation, correlate
from yamori.correlation.ruleset import CorrelationSet, build_correlation_set
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet, load_ruleset
from yamori.exceptions import YamoriError
from yamori.hunt import HuntOptions
from yamori.triage.model import TriageAlert

SAMPLE = 10


class BacktestError(YamoriError):
    """The rule to backtest cannot be loaded, or names rules that cannot be found."""


@dataclass(slots=True)
class BacktestReport:
    rules: list[str]
    """The titles of the rules backtested."""
    events: int = 0
    alerts: int = 0
    per_day: Counter[str] = field(default_factory=Counter)
    entities: Counter[tuple[str, str]] = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "events": self.events, "alerts": self.alerts,
                "per_day": dict(sorted(self.per_day.items())),
                "top_entities": [{"kind": kind, "value": value, "alerts": count}
                                 for (kind, value), count in self.entities.most_common(20)],
                "sample": self.sample}


def target_ids(ruleset: CompiledRuleSet, rule_path: Path) -> list[str]:
    """The ids of the loaded rules (and correlations) that come from the file or folder to backtest."""
    target = rule_path.resolve()

    def inside(label: str) -> bool:
        where = Path(label.split("!", 1)[0]).resolve()  # a zip member's label is archive.zip!member
        return where == target or where.is_relative_to(target)

    found = [info.id for info in ruleset.infos if inside(info.path)]
    found += [c.info.id for c in ruleset.correlations if inside(c.info.path) and c.type != "new_terms"]
    if not found:
        reasons = "; ".join(p.reason for p in ruleset.problems if inside(p.path))[:300] or "no rule in it"
        raise BacktestError(f"{rule_path}: nothing to backtest ({reasons})")
    return found


def plan(ruleset: CompiledRuleSet, targets: Sequence[str]) -> tuple[CorrelationSet, set[str], set[str]]:
    """The correlations to run (the targets and those they read), the single rules whose own alerts count, and
    every single rule the engine must run."""
    by_id = {c.info.id: c for c in ruleset.correlations}
    full = build_correlation_set(ruleset.infos, ruleset.correlations)
    resolved = {c.id: c for c in full.correlations}
    needed: set[str] = set()
    base_needed: set[str] = set()
    pending = [t for t in targets if t in by_id]
    while pending:
        current = pending.pop()
        if current in needed:
            continue
        if current not in resolved:
            reason = next((p.reason for p in full.problems if p.rule_id == current), "cannot be resolved")
            raise BacktestError(f"correlation {current}: {reason}")
        needed.add(current)
        for source in resolved[current].sources:
            if source in by_id and source != current:
                pending.append(source)
            else:
                base_needed.add(source)
    correlations = build_correlation_set(ruleset.infos, [by_id[c] for c in needed])
    single = {t for t in targets if t not in by_id}
    return correlations, single, base_needed | single


def backtest(rule_path: Path, reference_paths: Sequence[Path], store_root: Path, start: str | None,
             end: str | None) -> BacktestReport:
    from yamori.store.hunt import iter_store_results

    ruleset = load_ruleset(_without_overlap(rule_path, reference_paths))
    targets = target_ids(ruleset, rule_path)
    correlations, single, run = plan(ruleset, targets)
    engine = Engine(ruleset, enabled=lambda info: info.id in run)
    options = HuntOptions(workers=1, correlations=correlations if correlations else None)
    titles = {info.id: info.title for info in ruleset.infos} | {c.info.id: c.info.title for c in ruleset.correlations}
    report = BacktestReport([titles.get(t, t) for t in dict.fromkeys(targets)])
    observations: list[Observation] = []
    for result in iter_store_results(store_root, engine, options, start, end):
        report.events += result.events
        observations.extend(result.observations)
        for detection in result.detections:
            if detection.rule.id in single:
                _count(report, detection, detection.event if isinstance(detection.event, dict) else {})
    wanted = set(targets)
    for alert in correlate(correlations, observations) if correlations else []:
        if alert.correlation.id in wanted:
            _count(report, alert.detection(), alert.group)
    return report


def _without_overlap(rule_path: Path, reference_paths: Sequence[Path]) -> list[Path]:
    """The paths to load, each rule file once (the rule may sit in a reference folder, or be one)."""
    target = rule_path.resolve()
    references = list({path.resolve(): path for path in reference_paths}.values())
    if any(target == ref.resolve() or target.is_relative_to(ref.resolve()) for ref in references):
        return references
    return [rule_path, *references]


def _count(report: BacktestReport, detection: Detection, fields: dict[str, Any]) -> None:
    report.alerts += 1
    report.per_day[(detection.timestamp or "unknown")[:10]] += 1
    entity = TriageAlert(alert_id="", rule_id=detection.rule.id, title=detection.rule.title,
                         level=detection.rule.level, timestamp=detection.timestamp, fields=fields)
    for kind, value in entity.entities():
        report.entities[(kind, value)] += 1
    if len(report.sample) < SAMPLE:
        report.sample.append({"timestamp": detection.timestamp, "rule": detection.rule.title,
                              "computer": detection.computer, "matched": detection.matched})


def default_reference_paths() -> list[Path]:
    from yamori.paths import default_rules_dirs

    return list(default_rules_dirs())
