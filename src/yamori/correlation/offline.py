"""Correlation over a finite set of events (hunts, backtests, rule examples): match, observe, correlate."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

import orjson

from yamori.correlation.correlator import CorrelationAlert, Observation, correlate, event_seconds
from yamori.correlation.ruleset import CorrelationSet, build_correlation_set
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet
from yamori.events import Event


def observation(correlations: CorrelationSet, rule_id: str, event: Event, ref: str,
                moment: float | None = None) -> Observation:
    """The observation a detection of ``rule_id`` on ``event`` makes: its time (``moment`` when the caller has
    it already; NaN when the event has none) and the fields correlations read."""
    fields = event.fields
    needed: dict[str, Any] = {name: fields[name] for name in correlations.needed_fields.get(rule_id, ())
                              if name in fields}
    if moment is None:
        moment = event_seconds(event.timestamp, math.nan)
    return Observation(rule_id, moment, ref, needed, identity=fingerprint(event))


def fingerprint(event: Event) -> str:
    """The identity of an event: the same record read or received twice is one event. Taken over the normalized
    fields, which the store keeps, so that a file hunt and a store hunt agree."""
    try:
        data = orjson.dumps(event.fields, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:
        data = repr(sorted(event.fields.items(), key=str)).encode()
    return hashlib.blake2b(data + (event.timestamp or "").encode(), digest_size=12).hexdigest()


def correlation_set(ruleset: CompiledRuleSet) -> CorrelationSet:
    return build_correlation_set(ruleset.infos, ruleset.correlations)


def correlate_events(ruleset: CompiledRuleSet, events: Iterable[Event],
                     correlations: CorrelationSet | None = None) -> list[CorrelationAlert]:
    """Every correlation alert the events make, events taken in time order (ties: the order given).

    Events without a readable time are left out of correlation (``correlate`` drops them: no place in a window).
    """
    correlations = correlations if correlations is not None else correlation_set(ruleset)
    engine = Engine(ruleset)
    infos = engine.infos
    observations: list[Observation] = []
    for number, event in enumerate(events):
        for index in engine.match(event):
            rule_id = infos[index].id
            if rule_id in correlations.routes:
                observations.append(observation(correlations, rule_id, event, event.position or str(number)))
    return correlate(correlations, observations)
