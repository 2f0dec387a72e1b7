"""Correlation rules as Yamori evaluates them: picklable, frozen dataclasses built from pySigma's rules."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from yamori.rules.model import RuleInfo

CorrelationType = Literal["event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg",
                          "value_percentile", "value_median", "new_terms"]
"""The Sigma correlation types, and ``new_terms``: Yamori's extension for a value combination not seen before."""
Op = Literal["gt", "gte", "lt", "lte", "eq", "neq"]
METRIC_TYPES = ("value_sum", "value_avg", "value_percentile", "value_median")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq,
    "neq": operator.ne}


@dataclass(frozen=True, slots=True)
class Threshold:
    op: Op
    value: float

    def holds(self, measured: float) -> bool:
        return _COMPARE[self.op](measured, self.value)

    @property
    def lower_bound(self) -> bool:
        """Reached once and kept as a window grows (gt, gte): can be decided before the window is complete."""
        return self.op in ("gt", "gte")


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule named in an extended temporal condition."""

    name: str


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[BoolExpr, ...]


@dataclass(frozen=True, slots=True)
class NoneOf:
    item: BoolExpr


BoolExpr = RuleRef | AllOf | AnyOf | NoneOf


def evaluate_expression(expression: BoolExpr, present: Callable[[str], bool]) -> bool:
    if isinstance(expression, RuleRef):
        return present(expression.name)
    if isinstance(expression, AllOf):
        return all(evaluate_expression(item, present) for item in expression.items)
    if isinstance(expression, AnyOf):
        return any(evaluate_expression(item, present) for item in expression.items)
    return not evaluate_expression(expression.item, present)


def has_negation(expression: BoolExpr) -> bool:
    if isinstance(expression, NoneOf):
        return True
    if isinstance(expression, AllOf | AnyOf):
        return any(has_negation(item) for item in expression.items)
    return False


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    """One Sigma correlation rule.

    ``rules`` are the references as written (ids or names); ``aliases`` maps an alias to (reference, field)
    pairs; ``thresholds`` all hold for the condition to hold (a range is two thresholds).
    """

    info: RuleInfo
    type: CorrelationType
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float
    """Seconds."""
    thresholds: tuple[Threshold, ...]
    field: str | None = None
    """The field a value_count or metric correlation reads."""
    percentile: float | None = None
    generate: bool = False
    aliases: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    expression: BoolExpr | None = None
    """An extended temporal condition over rule names (``a and not b``); thresholds are then unused."""
    learning: float = 0.0
    """new_terms: seconds of event time, from the first observation, that only learn (no alert)."""

    @property
    def eager(self) -> bool:
        """True when the condition can fire as soon as a window reaches it (lower bounds only, no ``not``);
        otherwise it is judged on complete windows (docs/correlation.md)."""
        if self.expression is not None:
            return not has_negation(self.expression)
        return all(threshold.lower_bound for threshold in self.thresholds)

    def holds(self, measured: float) -> bool:
        return all(threshold.holds(measured) for threshold in self.thresholds)

    def alias_field(self, alias: str, reference: str) -> str | None:
        for name, mapping in self.aliases:
            if name == alias:
                for ref, field_name in mapping:
                    if ref == reference:
                        return field_name
        return None
