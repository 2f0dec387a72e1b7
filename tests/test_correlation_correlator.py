"""The correlator's parts: percentiles against the standard library, invariants of event_count alerts over
random streams, the bounded future, the wall-clock watermark and the reorder buffer."""

from __future__ import annotations

import statistics
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from yamori.correlation.correlator import Correlator, Observation
from yamori.correlation.model import CorrelationRule, Threshold
from yamori.correlation.ruleset import build_correlation_set
from yamori.correlation.windows import percentile
from yamori.rules.model import RuleInfo

BASE = RuleInfo("base", "base", "low", "test", "x")


def count_rule(threshold: int, span: float, op: str = "gte") -> CorrelationRule:
    info = RuleInfo("corr", "corr", "high", "test", "x")
    return CorrelationRule(info, "event_count", ("base",), ("user",), span, (Threshold(op, threshold),))  # type: ignore[arg-type]


@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=40), st.integers(1, 99))
def test_percentile_is_linear_interpolation(values: list[int], rank: int) -> None:
    expected = statistics.quantiles(values, n=100, method="inclusive")[rank - 1]
    assert abs(percentile([float(v) for v in values], rank) - expected) < 1e-6
    assert abs(percentile([float(v) for v in values], 50) - statistics.median(values)) < 1e-9


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.sampled_from(["u1", "u2", "u3"])), max_size=60),
       st.integers(1, 5), st.integers(1, 120))
def test_event_count_alerts_are_sound(stream: list[tuple[int, str]], threshold: int, span: int) -> None:
    """Every alert: at least ``threshold`` events of one user within ``span``; alerts never share an event; and
    no ``threshold`` events of a user within ``span`` are left unreported after the last alert of that user."""
    correlations = build_correlation_set([BASE], [count_rule(threshold, span)])
    observations = [Observation("base", float(t), f"e{n}", {"user": user}) for n, (t, user) in enumerate(stream)]
    from yamori.correlation.correlator import correlate

    alerts = correlate(correlations, observations)
    used: set[str] = set()
    time_of = {o.ref: o.time for o in observations}
    user_of = {o.ref: o.fields["user"] for o in observations}
    for alert in alerts:
        times = [time_of[ref] for ref in alert.events]
        assert len(alert.events) >= threshold
        assert max(times) - min(times) <= span
        assert {user_of[ref] for ref in alert.events} == {alert.group["user"]}
        assert not used & set(alert.events)
        used |= set(alert.events)
    ordered = sorted(observations, key=lambda o: (o.time, int(o.ref[1:])))
    for user in ("u1", "u2", "u3"):
        last = max((time_of[r] for a in alerts if a.group["user"] == user for r in a.events), default=-1.0)
        later = [o.time for o in ordered if o.fields["user"] == user and o.time >= last and o.ref not in used]
        for index in range(len(later) - threshold + 1):
            assert later[index + threshold - 1] - later[index] > span


def test_future_events_are_left_out() -> None:
    correlator = Correlator(build_correlation_set([BASE], [count_rule(2, 60)]), lateness=0, max_future=900)
    now = time.time()
    assert correlator.push(Observation("base", now + 86400 * 365, "bogus", {"user": "u"})) == []
    assert correlator.stats.future == 1 and correlator.newest < now + 1000
    alerts = correlator.push(Observation("base", now, "a", {"user": "u"}))
    alerts += correlator.push(Observation("base", now + 1, "b", {"user": "u"}))
    assert [a.events for a in alerts] == [["a", "b"]]  # the bogus record made nothing late


def test_wall_clock_moves_the_watermark_while_quiet() -> None:
    """With a lateness, the newest observation waits; a quiet source releases it by the clock (tick)."""
    correlator = Correlator(build_correlation_set([BASE], [count_rule(2, 60)]), lateness=0.2)
    assert correlator.push(Observation("base", 1000.0, "a", {"user": "u"})) == []
    assert correlator.push(Observation("base", 1001.0, "b", {"user": "u"})) == []  # waits for the watermark
    assert correlator.tick() == [] and correlator.waiting()
    time.sleep(0.25)
    assert [a.events for a in correlator.tick()] == [["a", "b"]]


def test_upper_bound_waits_for_the_complete_window() -> None:
    correlator = Correlator(build_correlation_set([BASE], [count_rule(3, 60, "lt")]), lateness=0)
    assert correlator.push(Observation("base", 0.0, "a", {"user": "u"})) == []
    assert correlator.push(Observation("base", 59.0, "b", {"user": "u"})) == []
    alerts = correlator.push(Observation("base", 61.0, "other", {"user": "v"}))  # the watermark passes 60
    assert [a.events for a in alerts] == [["a", "b"]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3)), max_size=30), st.integers(1, 4),
       st.integers(1, 25))
def test_ordered_chain_by_search_equals_a_greedy_scan(stream: list[tuple[int, int]], length: int, span: int) -> None:
    """The window's chain (binary searches over per-rule marks, kept through slides) equals a plain greedy scan of
    the observations left in the window."""
    from yamori.correlation.windows import Item, Window, window_chain

    window = Window()
    for order, (moment, position) in enumerate(sorted(stream), 1):
        window.add(Item(float(moment), order, f"e{order}", position), "temporal_ordered")
        window.slide(span, "temporal_ordered")
        expected = 0
        for item in window.items:
            if expected < length and item.position == expected:
                expected += 1
        assert window_chain(window, length) == expected
