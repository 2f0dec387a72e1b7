"""One group's window of one correlation rule, and what it measures.

A window holds its observations sorted by (time, arrival order). Eager windows (lower-bound conditions) slide:
they keep the observations within ``timespan`` of the newest and are judged after every addition. Other
windows are fixed: they open at their first observation, take what falls within ``timespan`` of it (inclusive)
and are judged once complete. docs/correlation.md explains why.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

from yamori.correlation.model import evaluate_expression
from yamori.correlation.ruleset import ResolvedCorrelation


@dataclass(slots=True, order=True)
class Item:
    time: float
    order: int
    ref: str
    position: int
    """The source rule's place in the correlation's ``rules``."""
    value: Any = None
    identity: str = ""
    """The observation's identity (its record's fingerprint): the same in a file hunt and a store hunt."""


class Window:
    __slots__ = ("items", "opened")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.opened = math.inf
        """Fixed windows: the time of the first observation."""

    def add(self, item: Item) -> None:
        items = self.items
        if not items or (item.time, item.order) >= (items[-1].time, items[-1].order):
            items.append(item)
        else:  # chained correlation alerts may come slightly out of order
            bisect.insort(items, item)
        if item.time < self.opened:
            self.opened = item.time

    def slide(self, span: float) -> None:
        """Drop what is more than ``span`` older than the newest observation (exactly ``span`` stays)."""
        items = self.items
        if items and items[0].time < items[-1].time - span:
            cut = bisect.bisect_left([i.time for i in items], items[-1].time - span)
            del items[:cut]
            self.opened = items[0].time if items else math.inf

    @property
    def last(self) -> float:
        return self.items[-1].time if self.items else -math.inf


def numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def percentile(values: list[float], rank: float) -> float:
    """The ``rank``-th percentile with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * rank / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(correlation: ResolvedCorrelation, items: list[Item]) -> float | None:
    """What the condition is compared with; None when there is nothing to compare (no numeric value)."""
    kind = correlation.rule.type
    if kind == "event_count":
        return float(len(items))
    if kind == "value_count":
        return float(len({_hashable(i.value) for i in items if i.value is not None}))
    if kind == "temporal":
        return float(len({i.position for i in items}))
    if kind == "temporal_ordered":
        return float(ordered_chain(items, len(correlation.sources)))
    numbers = [n for n in (numeric(i.value) for i in items) if n is not None]
    if not numbers:
        return None
    if kind == "value_sum":
        return math.fsum(numbers)
    if kind == "value_avg":
        return math.fsum(numbers) / len(numbers)
    if kind == "value_median":
        return percentile(numbers, 50.0)
    return percentile(numbers, correlation.rule.percentile or 50.0)


def ordered_chain(items: list[Item], length: int) -> int:
    """How many of the rules, in their written order, occur one after another (strictly later in the total
    order of time and arrival): greedy from the earliest observation, which finds the longest such prefix."""
    expected = 0
    for item in items:
        if item.position == expected:
            expected += 1
            if expected == length:
                break
    return expected


def satisfied(correlation: ResolvedCorrelation, items: list[Item]) -> tuple[bool, float]:
    rule = correlation.rule
    if rule.expression is not None:
        present_positions = {i.position for i in items}
        present_names = {correlation.names[correlation.sources[p]] for p in present_positions}
        if rule.type == "temporal_ordered":
            # ordered and extended: the rules present must also have appeared in the written order
            chain = ordered_chain(items, len(correlation.sources))
            present_names = {correlation.names[s] for s in correlation.sources[:chain]}
        ok = evaluate_expression(rule.expression, present_names.__contains__)
        return ok, float(len(present_names))
    measured = measure(correlation, items)
    if measured is None:
        return False, math.nan
    return rule.holds(measured), measured


def contributing(correlation: ResolvedCorrelation, items: list[Item]) -> list[Item]:
    """The observations an alert references: all of the window's, except for temporal_ordered, where those from
    the chain's first observation to its last are kept."""
    if correlation.rule.type != "temporal_ordered":
        return list(items)
    expected = 0
    start = 0
    end = len(items)
    for index, item in enumerate(items):
        if item.position == expected:
            if expected == 0:
                start = index
            expected += 1
            if expected == len(correlation.sources):
                end = index + 1
                break
    return items[start:end]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
