"""The Engine: routes an event to the rules of its logsource, prefilters them by literals, evaluates candidates.

The cost of an event grows with its size (one scan of its values) and with the number of candidate rules,
not with the size of the rule set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yamori.engine.compiler import RuleFunction
from yamori.engine.prefilter import Scanner, build_scanner
from yamori.engine.ruleset import CompiledRuleSet
from yamori.engine.runtime import SEPARATOR, Memo, forms
from yamori.events import Event, LogSource
from yamori.paths import cache_dir
from yamori.rules.model import RuleInfo

CALIBRATE_AT = (100, 500)  # events of a logsource after which its literal choices are re-made
REBUILD_EVENTS_PER_LITERAL = 5  # rebuild a plan's scanner (compile time grows with its literals) once amortized


@dataclass(slots=True)
class Plan:
    """The rules that apply to one logsource: those always evaluated and those reached through literals.

    Each filterable rule is reached through one of its alternative literal sets. The plan has its own scanner,
    first over every alternative's literals: it counts how often each occurs in this logsource's events and at
    each CALIBRATE_AT point switches every rule to the set with the fewest hits (a query optimizer's statistics).
    Once the plan has seen enough events to amortize compiling a new scanner (REBUILD_EVENTS_PER_LITERAL per
    literal), it chooses a last time and rebuilds the scanner over the chosen literals only.
    """

    always: tuple[int, ...]
    filtered: tuple[int, ...]
    choice: dict[int, int]
    fields: frozenset[str] | None
    """Fields whose values go into the haystack (those the filtered rules read); None: all (keywords)."""
    int_fields: frozenset[str] | None = None
    """With ``fields`` None: the fields whose integer values go into the haystack (those the filtered rules read;
    None: all, because a keyword literal could match digits). Formatting an int costs more than a whole scan
    step, and the other integers (record ids, process ids...) no literal can reach."""
    literals: list[int] = field(default_factory=list)
    """Scanner literal id → rule-set literal id."""
    rules_of: list[tuple[int, ...]] = field(default_factory=list)
    """Scanner literal id → rules whose chosen set holds it."""
    scanner: Scanner | None = None
    caseless: bool = False
    """The scanner ignores ASCII case: only a haystack with other characters needs lower-casing."""
    events: int = 0
    hits: list[int] | None = None
    rebuild_at: int = 0


@dataclass(slots=True)
class EngineStats:
    events: int = 0
    candidates: int = 0
    matches: int = 0
    rule_errors: int = 0
    candidate_histogram: dict[int, int] = field(default_factory=dict)


def _hay_form(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is list:
        return SEPARATOR.join(forms(value))
    return "".join(forms(value))


_DIGITS = frozenset("0123456789-")


def _may_match_digits(literal: str) -> bool:
    """Whether ``literal`` could occur in a haystack where it touches an integer's decimal form: all its
    characters (separators at its ends aside) are digits or minus signs, or it spans values."""
    inner = literal.strip(SEPARATOR)
    return not inner or SEPARATOR in inner or set(inner) <= _DIGITS


class Engine:
    """Matches events against a compiled rule set. Not thread-safe (per-process state: plans, stats)."""

    def __init__(self, ruleset: CompiledRuleSet, scanner: Callable[[list[str]], Scanner] | None = None,
                 enabled: Callable[[RuleInfo], bool] | None = None, scanner_cache: Path | None = None) -> None:
        self.ruleset = ruleset
        self.enabled = enabled
        self.infos: list[RuleInfo] = ruleset.infos
        self.functions: list[RuleFunction] = ruleset.module.functions()
        cache = scanner_cache if scanner_cache is not None else cache_dir() / "scanners"
        self._scanner_factory: Callable[[list[str]], Scanner] = (
            scanner or (lambda literals: build_scanner(literals, cache)))
        self.stats = EngineStats()
        self._plans: dict[LogSource, Plan] = {}

    def plan(self, logsource: LogSource) -> Plan:
        plan = self._plans.get(logsource)
        if plan is None:
            plan = self._plans[logsource] = self._make_plan(logsource)
        return plan

    def _make_plan(self, logsource: LogSource) -> Plan:
        enabled = self.enabled
        applicable = [i for i, info in enumerate(self.infos)
                      if logsource.covers(info.product, info.category, info.service)
                      and (enabled is None or enabled(info))]
        alternatives = self.ruleset.rule_literals
        filtered = tuple(i for i in applicable if alternatives[i])
        fields: frozenset[str] | None = frozenset(f for i in filtered for f in self.infos[i].fields)
        int_fields = fields
        keyword_rules = [i for i in filtered if self.infos[i].keywords]
        if keyword_rules:
            fields = None
            literals = self.ruleset.literals
            if any(_may_match_digits(literals[g]) for i in keyword_rules for option in alternatives[i]
                   for g in option):
                int_fields = None
        plan = Plan(always=tuple(i for i in applicable if not alternatives[i]), filtered=filtered,
                    choice={i: 0 for i in filtered}, fields=fields, int_fields=int_fields)
        learning = any(len(alternatives[i]) > 1 for i in filtered)
        self._build_scanner(plan, every_alternative=learning)
        if learning:
            plan.hits = [0] * len(plan.literals)
            plan.rebuild_at = max(CALIBRATE_AT[-1], REBUILD_EVENTS_PER_LITERAL * len(plan.literals))
        return plan

    def _build_scanner(self, plan: Plan, every_alternative: bool) -> None:
        alternatives = self.ruleset.rule_literals
        wanted: set[int] = set()
        for index in plan.filtered:
            if every_alternative:
                wanted.update(literal for option in alternatives[index] for literal in option)
            else:
                wanted.update(alternatives[index][plan.choice[index]])
        plan.literals = sorted(wanted)
        if plan.literals:
            plan.scanner = self._scanner_factory([self.ruleset.literals[g] for g in plan.literals])
            plan.caseless = bool(getattr(plan.scanner, "caseless", False))
        self._index(plan)

    def _index(self, plan: Plan) -> None:
        local = {g: n for n, g in enumerate(plan.literals)}
        rules_of: list[list[int]] = [[] for _ in plan.literals]
        alternatives = self.ruleset.rule_literals
        for index in plan.filtered:
            for literal_id in alternatives[index][plan.choice[index]]:
                rules_of[local[literal_id]].append(index)
        plan.rules_of = [tuple(r) for r in rules_of]

    def _calibrate(self, plan: Plan) -> None:
        hits = dict(zip(plan.literals, plan.hits or (), strict=True))
        alternatives = self.ruleset.rule_literals
        for index in plan.filtered:
            options = alternatives[index]
            if len(options) > 1:
                costs = [sum(hits[literal_id] for literal_id in option) for option in options]
                plan.choice[index] = costs.index(min(costs))
        if plan.events >= plan.rebuild_at:
            plan.hits = None  # done learning: stop counting, scan for the chosen literals only
            self._build_scanner(plan, every_alternative=False)
        else:
            self._index(plan)

    def candidates(self, event: Event) -> list[int]:
        """The rules worth evaluating on ``event``, in rule order."""
        return sorted(self._candidates(event))

    def _candidates(self, event: Event) -> set[int] | tuple[int, ...]:
        plan = self._plans.get(event.logsource) or self.plan(event.logsource)
        if plan.scanner is None:
            return plan.always
        wanted = plan.fields
        # f"{v}" formats an int without the cost of calling str (the same text); other types through forms
        if wanted is None:
            ints = plan.int_fields
            if ints is None:
                values = [v if v.__class__ is str else f"{v}" if v.__class__ is int else _hay_form(v)
                          for v in event.fields.values()]
            else:
                values = [v if v.__class__ is str else (f"{v}" if k in ints else "") if v.__class__ is int
                          else _hay_form(v) for k, v in event.fields.items()]
        else:
            values = [v if v.__class__ is str else f"{v}" if v.__class__ is int else _hay_form(v)
                      for k, v in event.fields.items() if k in wanted]
        haystack = SEPARATOR + SEPARATOR.join(values) + SEPARATOR
        if not (plan.caseless and haystack.isascii()):
            haystack = haystack.lower()
        found = plan.scanner.scan(haystack)
        if not found and plan.hits is None:
            return plan.always
        selected = set(plan.always)
        rules_of = plan.rules_of
        for literal in found:
            selected.update(rules_of[literal])
        hits = plan.hits
        if hits is not None:  # learning: count, and re-plan at the calibration points (after using ``found``)
            plan.events += 1
            for literal in found:
                hits[literal] += 1
            if plan.events in CALIBRATE_AT or plan.events == plan.rebuild_at:
                self._calibrate(plan)
        return selected

    def match(self, event: Event) -> list[int]:
        """Indices (into ``infos``) of the rules that match ``event``, in rule order."""
        candidates = self._candidates(event)
        stats = self.stats
        stats.events += 1
        count = len(candidates)
        stats.candidates += count
        histogram = stats.candidate_histogram
        histogram[count] = histogram.get(count, 0) + 1
        if not count:
            return []
        fields = event.fields
        memo: Memo = {}
        functions = self.functions
        try:
            matched = [i for i in candidates if functions[i](fields, memo)]
        except Exception:  # a rule tripped over an unexpected value: evaluate one by one, count, go on
            matched = [i for i in candidates if self._safe(functions[i], fields, memo)]
        if not matched:
            return matched
        stats.matches += len(matched)
        matched.sort()
        return matched

    def _safe(self, function: Callable[..., bool], fields: dict[str, Any], memo: Memo) -> bool:
        try:
            return function(fields, memo)
        except Exception:
            self.stats.rule_errors += 1
            return False
