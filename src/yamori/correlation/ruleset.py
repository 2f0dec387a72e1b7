"""Resolve correlation rules against the loaded rule set: references by id or name, chains, aliases, routes.

A reference that names no loaded rule, or a chain that loops, makes the correlation a RuleProblem (and every
correlation built on it); it never stops the load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from yamori.correlation.model import CorrelationRule
from yamori.rules.model import RuleInfo, RuleProblem


@dataclass(frozen=True, slots=True)
class ResolvedCorrelation:
    rule: CorrelationRule
    sources: tuple[str, ...]
    """The ids of the rules it correlates, in the order written (temporal_ordered's order)."""
    group_fields: dict[str, tuple[str, ...]]
    """Per source id: the event field read for each group-by entry (aliases applied)."""
    names: dict[str, str]
    """Per source id: the reference as written (extended conditions name rules this way)."""

    @property
    def id(self) -> str:
        return self.rule.info.id


@dataclass(slots=True)
class CorrelationSet:
    correlations: list[ResolvedCorrelation] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    routes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Source rule id → (index in ``correlations``, position among that correlation's sources)."""
    needed_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Source rule id → the event fields correlations read from its detections."""
    silenced: frozenset[str] = frozenset()
    """Rules whose own alerts are not generated: referenced only by correlations with ``generate: false``."""

    def __bool__(self) -> bool:
        return bool(self.correlations)

    @property
    def max_timespan(self) -> float:
        return max((c.rule.timespan for c in self.correlations), default=0.0)


def build_correlation_set(infos: Sequence[RuleInfo], correlations: Sequence[CorrelationRule]) -> CorrelationSet:
    result = CorrelationSet()
    by_key: dict[str, str] = {}
    for info in infos:
        by_key.setdefault(info.id, info.id)
        if info.name:
            by_key.setdefault(info.name, info.id)
    base_ids = {info.id for info in infos}
    by_id: dict[str, CorrelationRule] = {}
    for correlation in correlations:
        info = correlation.info
        if info.id in by_id or (info.id in base_ids and correlation.type != "new_terms"):
            result.problems.append(RuleProblem(info.path, f"duplicate correlation id {info.id}", info.id, info.title))
            continue
        by_id[info.id] = correlation
        if correlation.type == "new_terms":
            continue  # it reads its own rule (same id) and nothing reads it
        by_key.setdefault(info.id, info.id)
        if info.name:
            by_key.setdefault(info.name, info.id)
    order: list[str] = []
    state: dict[str, str] = {}  # visiting / done / bad

    def visit(corr_id: str) -> bool:
        status = state.get(corr_id)
        if status is not None:
            return status == "done"
        state[corr_id] = "visiting"
        correlation = by_id[corr_id]
        for reference in correlation.rules:
            target = reference if correlation.type == "new_terms" else by_key.get(reference)
            if target is None:
                return _bad(corr_id, f"correlation references unknown rule {reference!r}")
            if target in by_id and correlation.type != "new_terms":
                if state.get(target) == "visiting":
                    return _bad(corr_id, f"correlation chain loops through {reference!r}")
                if not visit(target):
                    return _bad(corr_id, f"correlation references rule {reference!r}, which cannot be evaluated")
        state[corr_id] = "done"
        order.append(corr_id)
        return True

    def _bad(corr_id: str, reason: str) -> bool:
        state[corr_id] = "bad"
        info = by_id[corr_id].info
        result.problems.append(RuleProblem(info.path, reason, info.id, info.title))
        return False

    for corr_id in by_id:
        visit(corr_id)
    generated: set[str] = set()
    referenced: set[str] = set()
    needed: dict[str, dict[str, None]] = {}
    for corr_id in order:
        rule = by_id[corr_id]
        sources = rule.rules if rule.type == "new_terms" else tuple(by_key[reference] for reference in rule.rules)
        names = dict(zip(sources, rule.rules, strict=True))
        group_fields = {source: tuple(_group_field(rule, group, names[source]) for group in rule.group_by)
                        for source in sources}
        index = len(result.correlations)
        result.correlations.append(ResolvedCorrelation(rule, sources, group_fields, names))
        for position, source in enumerate(sources):
            result.routes.setdefault(source, []).append((index, position))
            wanted = needed.setdefault(source, {})
            wanted.update(dict.fromkeys(group_fields[source]))
            if rule.field:
                wanted[rule.field] = None
            if source in base_ids:
                referenced.add(source)
                if rule.generate:
                    generated.add(source)
    result.needed_fields = {source: tuple(fields) for source, fields in needed.items()}
    result.silenced = frozenset(referenced - generated)
    return result


def _group_field(rule: CorrelationRule, group: str, reference: str) -> str:
    """The field of ``reference``'s events that group-by entry ``group`` reads: its alias mapping, else itself."""
    aliased = rule.alias_field(group, reference)
    return aliased if aliased is not None else group
