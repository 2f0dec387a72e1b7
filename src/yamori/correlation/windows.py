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


_NO_COUNTS: dict[Any, int] = {}
_NO_CHAINS: dict[int, list[tuple[float, int]]] = {}
_NO_NUMBERS: list[float] = []
"""Shared, never written: the aggregates of a window whose type does not use them."""


class Window:
    """One group's observations, with the aggregates its correlation type measures kept up to date as
    observations come and go, so that judging a window costs the same however many events it holds."""

    __slots__ = ("chains", "counts", "deadline", "items", "key", "numbers", "opened", "ordered", "total")

    def __init__(self, key: tuple[str, ...] = ()) -> None:
        self.key = key
        """The group's values, in group-by order."""
        self.deadline = math.inf
        """When the correlator next looks at it (a sliding window empty by then; a fixed window complete)."""
        self.items: list[Item] = []
        self.opened = math.inf
        """Fixed windows: the time of the first observation."""
        # the aggregates are made when a type needs them: an open group costs memory, a million of them a lot
        self.counts: dict[Any, int] = _NO_COUNTS
        """value_count: how many observations hold each value; temporal: each rule position."""
        self.chains: dict[int, list[tuple[float, int]]] = _NO_CHAINS
        """temporal_ordered: per rule position, its observations' (time, order), sorted."""
        self.total = 0.0
        self.numbers = 0
        self.ordered: list[float] = _NO_NUMBERS
        """value_median / value_percentile: the numbers, sorted."""

    def add(self, item: Item, kind: str) -> None:
        items = self.items
        if not items or (item.time, item.order) >= (items[-1].time, items[-1].order):
            items.append(item)
        else:  # chained correlation alerts may come slightly out of order
            bisect.insort(items, item)
        if item.time < self.opened:
            self.opened = item.time
        self._count(item, kind, 1)

    def slide(self, span: float, kind: str) -> None:
        """Drop what is more than ``span`` older than the newest observation (exactly ``span`` stays)."""
        items = self.items
        if not items:
            return
        cutoff = items[-1].time - span
        gone = 0
        while gone < len(items) and items[gone].time < cutoff:
            self._count(items[gone], kind, -1)
            gone += 1
        if gone:
            del items[:gone]
            self.opened = items[0].time if items else math.inf

    def _count(self, item: Item, kind: str, step: int) -> None:
        if kind == "event_count":
            return
        if kind == "temporal_ordered":
            if self.chains is _NO_CHAINS:
                self.chains = {}
            marks = self.chains.setdefault(item.position, [])
            mark = (item.time, item.order)
            if step > 0:
                bisect.insort(marks, mark)
            else:
                del marks[bisect.bisect_left(marks, mark)]
            return
        if kind == "value_count" or kind == "temporal":
            key = item.position if kind == "temporal" else _hashable(item.value)
            if key is None:
                return
            if self.counts is _NO_COUNTS:
                self.counts = {}
            left = self.counts.get(key, 0) + step
            if left:
                self.counts[key] = left
            else:
                del self.counts[key]
            return
        number = numeric(item.value)
        if number is None:
            return
        self.numbers += step
        if kind in ("value_median", "value_percentile"):
            if self.ordered is _NO_NUMBERS:
                self.ordered = []
            if step > 0:
                bisect.insort(self.ordered, number)
            else:
                del self.ordered[bisect.bisect_left(self.ordered, number)]
        elif self.numbers == 0:
            self.total = 0.0  # no drift left over once the window is empty
        else:
            self.total += number * step

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
    return sorted_percentile(sorted(values), rank)


def sorted_percentile(ordered: list[float], rank: float) -> float:
    """:func:`percentile` of values already sorted."""
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * rank / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure(correlation: ResolvedCorrelation, window: Window) -> float | None:
    """What the condition is compared with; None when there is nothing to compare (no numeric value)."""
    kind = correlation.rule.type
    if kind == "event_count":
        return float(len(window.items))
    if kind == "value_count" or kind == "temporal":
        return float(len(window.counts))
    if kind == "temporal_ordered":
        return float(window_chain(window, len(correlation.sources)))
    if not window.numbers:
        return None
    if kind == "value_sum":
        return window.total
    if kind == "value_avg":
        return window.total / window.numbers
    if kind == "value_median":
        return sorted_percentile(window.ordered, 50.0)
    return sorted_percentile(window.ordered, correlation.rule.percentile or 50.0)



def window_chain(window: Window, length: int) -> int:
    """How many of the rules, in their written order, occur one after another (each strictly later in the total
    order of time and arrival): the earliest possible chain, found by a binary search per rule."""
    after: tuple[float, float] = (-math.inf, -math.inf)
    for position in range(length):
        marks = window.chains.get(position)
        if not marks:
            return position
        found = bisect.bisect_right(marks, after)
        if found == len(marks):
            return position
        after = marks[found]
    return length


def satisfied(correlation: ResolvedCorrelation, window: Window) -> tuple[bool, float]:
    rule = correlation.rule
    items = window.items
    if rule.expression is not None:
        present_positions = set(window.counts) if rule.type == "temporal" else {i.position for i in items}
        present_names = {correlation.names[correlation.sources[p]] for p in present_positions}
        if rule.type == "temporal_ordered":
            # ordered and extended: the rules present must also have appeared in the written order
            chain = window_chain(window, len(correlation.sources))
            present_names = {correlation.names[s] for s in correlation.sources[:chain]}
        ok = evaluate_expression(rule.expression, present_names.__contains__)
        return ok, float(len(present_names))
    measured = measure(correlation, window)
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
