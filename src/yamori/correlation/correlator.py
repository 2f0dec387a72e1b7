"""The correlator: detections in, correlation alerts out, with bounded state, in event-time order.

Observations (the detections of rules that correlations read) pass a reorder buffer: they are released in
(event time, arrival) order once the watermark — the newest event time seen, minus the allowed lateness — has
passed them. Anything older than the released frontier is late: counted and left out. The same observation
(rule and event) twice is a duplicate: counted and left out. Each (correlation, group) keeps one window; groups
whose window has expired are dropped, and beyond ``max_groups`` per correlation the oldest group is evicted
(counted). ``yamori hunt`` feeds observations sorted by time and calls ``finish()``.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import time as wallclock
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yamori.alerts.detection import HOST_FIELDS, Detection
from yamori.correlation.ruleset import CorrelationSet, ResolvedCorrelation
from yamori.correlation.windows import Item, Window, contributing, satisfied
from yamori.parsers.timestamps import parse_iso, utc_iso


@dataclass(slots=True)
class Observation:
    """One detection of a rule that correlations read, with only the fields they need."""

    rule_id: str
    time: float
    """Event time, seconds since the epoch."""
    ref: str
    """The event it rests on: a stored event id, ``file#record``, or a correlation alert id."""
    fields: dict[str, Any]
    order: int = 0
    identity: str = ""
    """What makes two observations the same event (a fingerprint of the record); ``ref`` when empty."""


@dataclass(slots=True)
class CorrelationAlert:
    correlation: ResolvedCorrelation
    group: dict[str, Any]
    first_time: float
    last_time: float
    events: list[str]
    """Every contributing event, oldest first."""
    rules: list[str]
    """The id of the rule each contributing event matched (parallel to ``events``)."""
    value: float
    """What the condition was compared with (count, distinct values, sum, ... ; temporal: rules present)."""
    identities: tuple[str, str] = ("", "")
    """The first and last contributing records' identities: the alert id does not depend on where they were
    read from (a file hunt and a store hunt give the same ids)."""

    @property
    def alert_id(self) -> str:
        first, last = (identity or ref for identity, ref in zip(self.identities, (self.events[0], self.events[-1]),
                                                                   strict=True))
        digest = hashlib.blake2b(repr((sorted(self.group.items()), first, last)).encode(),
                                 digest_size=8).hexdigest()
        return f"{self.correlation.id}:{digest}"

    @property
    def timestamp(self) -> str:
        return iso_time(self.last_time)

    def detection(self) -> Detection:
        """The alert as a Detection (the shape every output and the store take): the group and the measured
        value are its matched fields, the whole summary its event."""
        matched: dict[str, Any] = dict(self.group)
        matched["correlation"] = self.summary()
        computer = next((str(self.group[name]) for name in HOST_FIELDS if self.group.get(name)), None)
        return Detection(self.correlation.rule.info, self.timestamp, computer, "correlation", self.alert_id,
                         matched, {"correlation": self.summary()})

    def summary(self) -> dict[str, Any]:
        rule = self.correlation.rule
        value: float | int = int(self.value) if self.value.is_integer() else self.value
        return {"type": rule.type, "group": self.group, "value": value, "field": rule.field,
                "timespan": rule.timespan, "first": iso_time(self.first_time), "last": iso_time(self.last_time),
                "events": self.events, "rules": self.rules, "alert_id": self.alert_id}


@dataclass(slots=True)
class CorrelatorStats:
    observations: int = 0
    late: int = 0
    future: int = 0
    duplicates: int = 0
    ungrouped: int = 0
    """Observations missing a group-by field: left out (docs/correlation.md)."""
    evicted: int = 0
    alerts: int = 0
    groups: int = 0


def iso_time(seconds: float) -> str:
    return utc_iso(datetime.fromtimestamp(seconds, UTC))


def event_seconds(timestamp: str | None, fallback: float) -> float:
    """Seconds since the epoch of an ISO 8601 event time; ``fallback`` when absent or unreadable."""
    moment = parse_iso(timestamp) if timestamp else None
    return moment.timestamp() if moment is not None else fallback


class Correlator:
    def __init__(self, correlations: CorrelationSet, lateness: float = 0.0, max_groups: int = 1_000_000,
                 max_future: float | None = None) -> None:
        self.set = correlations
        self.lateness = lateness
        self.max_groups = max_groups
        self.max_future = max_future
        """Streaming: an event time more than this many seconds ahead of the wall clock is left out and does not
        move the watermark (one bogus year-2099 record would otherwise make every later event late)."""
        self.stats = CorrelatorStats()
        self._groups: list[dict[tuple[str, ...], Window]] = [{} for _ in correlations.correlations]
        self._deadlines: list[tuple[float, int, int, tuple[str, ...]]] = []  # (deadline, tie, correlation, key)
        self._pending: list[tuple[float, int, Observation]] = []
        self._seen: dict[tuple[str, str], float] = {}
        self._seen_order: list[tuple[float, str, str]] = []
        self._tie = itertools.count()
        self._order = itertools.count()
        self.newest = -math.inf
        """The newest event time seen."""
        self._newest_wall = wallclock.monotonic()
        self.frontier = -math.inf
        """Everything at or before this time has been released; older observations are late."""
        self._out: list[CorrelationAlert] = []
        self._terms: list[dict[tuple[str, ...], float]] = [{} for _ in correlations.correlations]
        """new_terms: per rule, each combination's last time seen, least recently seen first."""
        self._learning_from: list[float] = [math.nan for _ in correlations.correlations]

    # --- input -----------------------------------------------------------------------------------------------
    def wants(self, rule_id: str) -> bool:
        return rule_id in self.set.routes

    def push(self, observation: Observation) -> list[CorrelationAlert]:
        """Take one observation; returns the alerts that became due (possibly from earlier observations)."""
        stats = self.stats
        stats.observations += 1
        if self._too_far_ahead(observation.time):
            stats.future += 1
            return self._drain()
        if observation.time < self.frontier:
            stats.late += 1
            return self._drain()
        identity = observation.identity or observation.ref
        key = (observation.rule_id, identity)
        if key in self._seen:
            stats.duplicates += 1
            return self._drain()
        self._seen[key] = observation.time
        heapq.heappush(self._seen_order, (observation.time, observation.rule_id, identity))
        if not observation.order:
            observation.order = next(self._order)
        heapq.heappush(self._pending, (observation.time, observation.order, observation))
        self._advance(observation.time)
        return self._drain()

    def advance(self, event_time: float) -> list[CorrelationAlert]:
        """Note that an event of this time arrived (any event, correlated or not): moves the watermark."""
        self._advance(event_time)
        return self._drain()

    def _too_far_ahead(self, event_time: float) -> bool:
        return self.max_future is not None and event_time > wallclock.time() + self.max_future

    def _advance(self, event_time: float) -> None:
        if event_time > self.newest and not self._too_far_ahead(event_time):
            self.newest = event_time
            self._newest_wall = wallclock.monotonic()
            self._release(self.newest - self.lateness)

    def tick(self) -> list[CorrelationAlert]:
        """Let wall-clock time move the watermark while no newer event arrives (a quiet source must not hold
        alerts back forever): event time is taken to advance as the wall clock does since the newest event."""
        if self.newest == -math.inf:
            return []
        idle = wallclock.monotonic() - self._newest_wall
        self._release(self.newest + idle - self.lateness)
        return self._drain()

    def finish(self) -> list[CorrelationAlert]:
        """End of input (a hunt): release everything and judge every open window."""
        self._release(math.inf)
        for index, groups in enumerate(self._groups):
            correlation = self.set.correlations[index]
            for group in list(groups.values()):
                if not correlation.rule.eager:
                    self._close(index, group)
            groups.clear()
        self.stats.groups = 0
        out = self._drain()
        out.sort(key=lambda alert: (alert.last_time, alert.alert_id))
        return out

    def waiting(self) -> bool:
        """Observations wait for the watermark, or fixed windows for their end: only time will release them."""
        return bool(self._pending) or any(
            groups and not self.set.correlations[index].rule.eager for index, groups in enumerate(self._groups))

    def counters(self) -> dict[str, int]:
        stats = self.stats
        return {"observations": stats.observations, "late": stats.late, "future": stats.future,
                "duplicates": stats.duplicates,
                "ungrouped": stats.ungrouped, "evicted": stats.evicted, "alerts": stats.alerts,
                "groups": stats.groups, "pending": len(self._pending)}

    # --- evaluation ------------------------------------------------------------------------------------------
    def _release(self, frontier: float) -> None:
        if frontier <= self.frontier:
            return
        pending = self._pending
        while pending and pending[0][0] <= frontier:
            _, _, observation = heapq.heappop(pending)
            self._expire(observation.time)
            self._route(observation)
        self.frontier = frontier
        self._expire(frontier)
        self._forget_seen(frontier)

    def _forget_seen(self, frontier: float) -> None:
        horizon = frontier - self.lateness  # duplicates older than this are late anyway
        order = self._seen_order
        while order and order[0][0] < horizon:
            _, rule_id, ref = heapq.heappop(order)
            self._seen.pop((rule_id, ref), None)

    def _route(self, observation: Observation) -> None:
        for index, position in self.set.routes.get(observation.rule_id, ()):
            self._observe(index, position, observation)

    def _observe(self, index: int, position: int, observation: Observation) -> None:
        correlation = self.set.correlations[index]
        fields = observation.fields
        key: list[str] = []
        for name in correlation.group_fields[observation.rule_id]:
            value = fields.get(name)
            if value is None or value == "":
                self.stats.ungrouped += 1
                return
            key.append(value if isinstance(value, str) else _text(value))
        group_key = tuple(key)
        if correlation.rule.type == "new_terms":
            self._new_terms(index, group_key, observation, position)
            return
        groups = self._groups[index]
        group = groups.get(group_key)
        rule = correlation.rule
        value = fields.get(rule.field) if rule.field else None
        item = Item(observation.time, observation.order, observation.ref, position, value, observation.identity)
        if group is None:
            group = groups[group_key] = Window(group_key)
            self.stats.groups += 1
            if len(groups) > self.max_groups:
                self._evict(index)
        elif not rule.eager and observation.time > group.opened + rule.timespan:
            self._close(index, group)  # a fixed window is complete once a later observation is past its end
            group = groups[group_key] = Window(group_key)
            self.stats.groups += 1
        window = group
        window.add(item, rule.type)
        if rule.eager:
            window.slide(rule.timespan, rule.type)
            ok, measured = satisfied(correlation, window)
            if ok:
                self._fire(correlation, group, contributing(correlation, window.items), measured)
                del groups[group_key]
                self.stats.groups -= 1
                return
            deadline = window.last + rule.timespan
        else:
            deadline = window.opened + rule.timespan
        if deadline != group.deadline:
            group.deadline = deadline
            heapq.heappush(self._deadlines, (deadline, next(self._tie), index, group_key))

    def _new_terms(self, index: int, key: tuple[str, ...], observation: Observation, position: int) -> None:
        """Alert when the combination was not seen within ``timespan`` (the history) and learning is over."""
        rule = self.set.correlations[index].rule
        terms = self._terms[index]
        started = self._learning_from[index]
        if math.isnan(started):
            started = self._learning_from[index] = observation.time
        last = terms.pop(key, None)
        terms[key] = max(observation.time, last) if last is not None else observation.time  # most recent last
        if len(terms) > self.max_groups:
            del terms[next(iter(terms))]
            self.stats.evicted += 1
        new = last is None or observation.time - last > rule.timespan
        if new and observation.time - started >= rule.learning:
            item = Item(observation.time, observation.order, observation.ref, position, None, observation.identity)
            self._fire(self.set.correlations[index], Window(key), [item], 1.0)

    def baselines(self) -> dict[str, dict[str, object]]:
        """The new_terms state (learning start and each combination's last time), to save across restarts."""
        return {c.id: {"learning_from": self._learning_from[i], "terms": [[list(k), t] for k, t in
                                                                          self._terms[i].items()]}
                for i, c in enumerate(self.set.correlations) if c.rule.type == "new_terms"}

    def restore_baselines(self, saved: dict[str, dict[str, Any]]) -> None:
        for index, correlation in enumerate(self.set.correlations):
            state = saved.get(correlation.id)
            if correlation.rule.type != "new_terms" or not isinstance(state, dict):
                continue
            started = state.get("learning_from")
            self._learning_from[index] = float(started) if isinstance(started, int | float) else math.nan
            self._terms[index] = {tuple(str(v) for v in key): float(seen) for key, seen in state.get("terms", [])}

    def _expire(self, now: float) -> None:
        """Drop eager windows nothing can still complete, and judge fixed windows that ended before ``now``."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < now:
            deadline, _, index, key = heapq.heappop(deadlines)
            group = self._groups[index].get(key)
            if group is None or group.deadline != deadline:
                continue  # stale entry: the group fired, moved on or was dropped
            if not self.set.correlations[index].rule.eager:
                self._close(index, group)
            del self._groups[index][key]
            self.stats.groups -= 1

    def _evict(self, index: int) -> None:
        """Drop the oldest group (dicts keep insertion order): its window started first."""
        groups = self._groups[index]
        del groups[next(iter(groups))]
        self.stats.groups -= 1
        self.stats.evicted += 1

    def _close(self, index: int, group: Window) -> None:
        correlation = self.set.correlations[index]
        items = group.items
        if not items:
            return
        ok, measured = satisfied(correlation, group)
        if ok:
            self._fire(correlation, group, contributing(correlation, items), measured)

    def _fire(self, correlation: ResolvedCorrelation, group: Window, items: list[Item], measured: float) -> None:
        names = correlation.rule.group_by
        alert = CorrelationAlert(
            correlation, dict(zip(names, group.key, strict=True)), items[0].time, items[-1].time,
            [i.ref for i in items], [correlation.sources[i.position] for i in items], measured,
            (items[0].identity, items[-1].identity))
        self.stats.alerts += 1
        self._out.append(alert)
        if correlation.rule.type != "new_terms" and correlation.id in self.set.routes:
            # a correlation of correlations reads this one's alerts
            fields: dict[str, Any] = dict(alert.group)
            if correlation.rule.field:
                fields[correlation.rule.field] = measured
            self._route(Observation(correlation.id, alert.last_time, alert.alert_id, fields, next(self._order),
                                    alert.alert_id))

    def _drain(self) -> list[CorrelationAlert]:
        out, self._out = self._out, []
        return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def correlate(correlations: CorrelationSet, observations: Iterable[Observation],
              max_groups: int = 1_000_000) -> list[CorrelationAlert]:
    """Offline: every observation, in (time, given) order, then the end of input; observations without a time
    (NaN) have no place in a window and are left out."""
    correlator = Correlator(correlations, lateness=math.inf, max_groups=max_groups)
    ordered = sorted((o for o in observations if not math.isnan(o.time)), key=lambda o: o.time)
    for number, observation in enumerate(ordered, 1):
        observation.order = number
        correlator.push(observation)
    return correlator.finish()
