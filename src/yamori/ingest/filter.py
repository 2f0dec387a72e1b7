"""Ingest filtering: drop, keep and sample rules evaluated on each event before detection and storage.

Rules are tried in order and the first that matches decides (as in the routing tables of log shippers):
``drop`` discards the event, ``keep`` keeps it (put it before a broader ``drop`` to make an exception),
``sample`` keeps one event in ``rate`` (counter-based, so exactly 1/rate of the matching events are kept).
An event no rule matches is kept. Each rule counts what it matched, dropped and sampled out.

A rule matches when its ``inputs`` glob matches the event's input (when given), each logsource facet it names is
one of the event's, and every field condition holds: ``where = {field = value or [values]}``, values compared
case-insensitively as strings, ``*`` and ``?`` wildcards, a list meaning any of them (an absent field matches
nothing). Dropped and sampled-out events are neither detected nor stored: that is the point of the filter.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from yamori.events import Event
from yamori.exceptions import YamoriError

Action = Literal["drop", "keep", "sample"]


class FilterError(YamoriError):
    """An ingest filter rule in the configuration is invalid."""


@dataclass(slots=True)
class FilterRule:
    name: str
    action: Action
    inputs: str | None = None
    product: str | None = None
    category: str | None = None
    service: str | None = None
    where: dict[str, tuple[re.Pattern[str] | None, ...]] = field(default_factory=dict)
    rate: int = 1
    matched: int = 0
    dropped: int = 0
    _input_pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if self.inputs is not None:
            self._input_pattern = re.compile(fnmatch.translate(self.inputs))

    def matches(self, event: Event, input_name: str) -> bool:
        if self._input_pattern is not None and not self._input_pattern.match(input_name):
            return False
        if not event.logsource.covers(self.product, self.category, self.service):
            return False
        fields = event.fields
        for name, patterns in self.where.items():
            value = fields.get(name)
            if not any(_value_matches(pattern, value) for pattern in patterns):
                return False
        return True

    def keeps(self) -> bool:
        """Record a match and say whether the event stays."""
        self.matched += 1
        if self.action == "keep":
            return True
        if self.action == "sample" and (self.matched - 1) % self.rate == 0:
            return True
        self.dropped += 1
        return False


def _value_matches(pattern: re.Pattern[str] | None, value: Any) -> bool:
    if pattern is None:
        return value is None
    if value is None:
        return False
    if isinstance(value, list):
        return any(_value_matches(pattern, item) for item in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    return pattern.fullmatch(str(value)) is not None


def _compile_value(value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    parts = []
    for char in text:
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class IngestFilter:
    """The ordered filter rules of a server; ``keep(event, input)`` is the one call per event."""

    def __init__(self, rules: Sequence[FilterRule] = ()) -> None:
        self.rules = list(rules)

    def keep(self, event: Event, input_name: str) -> bool:
        for rule in self.rules:
            if rule.matches(event, input_name):
                return rule.keeps()
        return True

    def counters(self) -> tuple[dict[str, int], dict[str, int]]:
        """(events dropped per drop rule, events sampled out per sample rule)."""
        dropped = {rule.name: rule.dropped for rule in self.rules if rule.action == "drop"}
        sampled = {rule.name: rule.dropped for rule in self.rules if rule.action == "sample"}
        return dropped, sampled


def parse_filter_rules(entries: Sequence[Mapping[str, Any]]) -> list[FilterRule]:
    """Filter rules from the ``[[filters]]`` tables of the configuration."""
    rules = []
    known = {"name", "action", "inputs", "product", "category", "service", "where", "rate"}
    for position, entry in enumerate(entries, 1):
        unknown = set(entry) - known
        if unknown:
            raise FilterError(f"filter {position}: unknown key(s) {', '.join(sorted(unknown))}")
        name = str(entry.get("name") or f"filter-{position}")
        action = entry.get("action")
        if action not in ("drop", "keep", "sample"):
            raise FilterError(f"filter {name!r}: action must be drop, keep or sample, not {action!r}")
        rate = int(entry.get("rate", 1))
        if action == "sample" and rate < 1:
            raise FilterError(f"filter {name!r}: rate must be a whole number ≥ 1 (keep one event in rate)")
        where_entry = entry.get("where", {})
        if not isinstance(where_entry, Mapping):
            raise FilterError(f"filter {name!r}: where must be a table of field = value(s)")
        where = {str(key): tuple(_compile_value(value) for value in (values if isinstance(values, list)
                                                                      else [values]))
                 for key, values in where_entry.items()}
        rules.append(FilterRule(name, action, entry.get("inputs"), entry.get("product"), entry.get("category"),
                                entry.get("service"), where, rate))
    return rules
