"""The Engine: routes an event to the rules of its logsource, prefilters them by literals, evaluates candidates.

The cost of an event grows with its size (one scan of its values) and with the number of candidate rules,
not with the size of the rule set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yamori.engine.compiler import RuleFunction
from yamori.engine.prefilter import AhoCorasickScanner, HyperscanScanner, Scanner, hyperscan_available
from yamori.engine.ruleset import CompiledRuleSet
from yamori.engine.runtime import SEPARATOR, forms
from yamori.events import Event, LogSource
from yamori.rules.model import RuleInfo


@dataclass(slots=True)
class Plan:
    """The rules that apply to one logsource: those always evaluated and those reached through literals."""

    always: tuple[int, ...]
    by_literal: dict[int, tuple[int, ...]]
    rule_count: int


@dataclass(slots=True)
class EngineStats:
    events: int = 0
    candidates: int = 0
    matches: int = 0
    rule_errors: int = 0
    candidate_histogram: dict[int, int] = field(default_factory=dict)

    def record_candidates(self, count: int) -> None:
        self.candidates += count
        self.candidate_histogram[count] = self.candidate_histogram.get(count, 0) + 1


def _hay_form(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is list:
        return SEPARATOR.join(forms(value))
    return "".join(forms(value))


class Engine:
    """Matches events against a compiled rule set. Not thread-safe (per-process state: plans, stats)."""

    def __init__(self, ruleset: CompiledRuleSet, scanner: Scanner | None = None,
                 enabled: Callable[[RuleInfo], bool] | None = None) -> None:
        self.ruleset = ruleset
        self.enabled = enabled
        self.infos: list[RuleInfo] = ruleset.infos
        self.functions: list[RuleFunction] = ruleset.module.functions()
        self.scanner = scanner or make_scanner(ruleset)
        self.stats = EngineStats()
        self._plans: dict[LogSource, Plan] = {}
        self._literal_rules: list[list[int]] = [[] for _ in ruleset.literals]
        for rule_index, literal_ids in enumerate(ruleset.rule_literals):
            if literal_ids is not None:
                for literal_id in literal_ids:
                    self._literal_rules[literal_id].append(rule_index)

    def plan(self, logsource: LogSource) -> Plan:
        plan = self._plans.get(logsource)
        if plan is None:
            plan = self._plans[logsource] = self._make_plan(logsource)
        return plan

    def _make_plan(self, logsource: LogSource) -> Plan:
        enabled = self.enabled
        applicable = {i for i, info in enumerate(self.infos)
                      if logsource.covers(info.product, info.category, info.service)
                      and (enabled is None or enabled(info))}
        always = tuple(sorted(i for i in applicable if self.ruleset.rule_literals[i] is None))
        by_literal: dict[int, tuple[int, ...]] = {}
        for literal_id, rules in enumerate(self._literal_rules):
            hits = tuple(r for r in rules if r in applicable)
            if hits:
                by_literal[literal_id] = hits
        return Plan(always, by_literal, len(applicable))

    def candidates(self, event: Event) -> list[int]:
        plan = self._plans.get(event.logsource) or self.plan(event.logsource)
        if not plan.by_literal:
            return list(plan.always)
        values = [v if v.__class__ is str else _hay_form(v) for v in event.fields.values()]
        haystack = (SEPARATOR + SEPARATOR.join(values) + SEPARATOR).lower()
        found = self.scanner.scan(haystack)
        if not found:
            return list(plan.always)
        selected = set(plan.always)
        by_literal = plan.by_literal
        for literal_id in found:
            rules = by_literal.get(literal_id)
            if rules is not None:
                selected.update(rules)
        return sorted(selected)

    def match(self, event: Event) -> list[int]:
        """Indices (into ``infos``) of the rules that match ``event``, in rule order."""
        candidates = self.candidates(event)
        stats = self.stats
        stats.events += 1
        stats.record_candidates(len(candidates))
        if not candidates:
            return []
        fields = event.fields
        memo: dict[str, tuple[str, ...]] = {}
        functions = self.functions
        try:
            matched = [i for i in candidates if functions[i](fields, memo)]
        except Exception:  # a rule tripped over an unexpected value: evaluate one by one, count, go on
            matched = [i for i in candidates if self._safe(functions[i], fields, memo)]
        stats.matches += len(matched)
        return matched

    def _safe(self, function: Callable[..., bool], fields: dict[str, Any],
              memo: dict[str, tuple[str, ...]]) -> bool:
        try:
            return function(fields, memo)
        except Exception:
            self.stats.rule_errors += 1
            return False


def make_scanner(ruleset: CompiledRuleSet) -> Scanner:
    if hyperscan_available():
        scanner = HyperscanScanner(ruleset.literals, ruleset.hyperscan_db or None)
        ruleset.hyperscan_db = scanner.serialized
        return scanner
    return AhoCorasickScanner(ruleset.literals)
