"""yamori.triage.risk: scores, the sliding window and its exact edge, threshold crossings, re-arming, weights,
suppressed alerts, configuration errors; a hypothesis oracle for an entity's risk and for the crossings."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from yamori.triage import incidents as _incidents  # noqa: F401  (every triage table exists in the test database)
from yamori.triage.db import open_database
from yamori.triage.model import TriageAlert
from yamori.triage.records import iso
from yamori.triage.risk import RiskConfigError, RiskEngine, RiskEvent

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(alert_id: str, minutes: float, *, level: str = "high", rule: str = "rule-a", user: str | None = "alice",
          host: str | None = None, ip: str | None = None, tags: tuple[str, ...] = (),
          suppressed_by: str | None = None) -> TriageAlert:
    return TriageAlert(alert_id=alert_id, rule_id=rule, title=f"title of {rule}", level=level,
                       timestamp=iso(at(minutes)), tags=tags, user=user, host=host, ip=ip,
                       suppressed_by=suppressed_by)


def fresh_session() -> Session:
    _, sessions = open_database("sqlite://")
    session: Session = sessions()
    return session


@pytest.fixture
def session() -> Iterator[Session]:
    with fresh_session() as opened:
        yield opened


def hourly(threshold: float = 100) -> RiskEngine:
    return RiskEngine.from_config({"window": "1h", "threshold": threshold})


# ---------------------------------------------------------------------------------------------------- scores

def test_scores_by_severity_rule_and_tag() -> None:
    engine = RiskEngine.from_config({"scores": {"low": 7}, "rules": {"rule-x": {"score": 25}}})
    assert [engine.score(alert("a", 0, level=level)) for level in
            ("informational", "low", "medium", "high", "critical")] == [0, 7, 15, 40, 70]
    assert engine.score(alert("a", 0, level="")) == 0  # a rule without a level adds nothing
    assert engine.score(alert("a", 0, rule="rule-x", level="critical")) == 25
    assert engine.score(alert("a", 0, tags=("attack.execution", "risk.score.12.5"))) == 12.5
    # the configured score wins over the tag
    assert engine.score(alert("a", 0, rule="rule-x", tags=("risk.score.3",))) == 25
    # a bad tag is counted and ignored: the severity's score applies
    assert engine.score(alert("a", 0, level="medium", tags=("risk.score.lots",))) == 15
    assert engine.counters.bad_score_tags == 1
    # the severity after context adjustments counts, not the rule's level
    raised = alert("a", 0, level="low")
    raised.severity = "critical"
    assert engine.score(raised) == 70


def test_weight_multiplies_and_bad_weights_count_as_one() -> None:
    weights = {"db01": 2.5, "bad": float("nan")}
    engine = RiskEngine.from_config({}, weight=lambda a: weights.get(a.host or "", 1.0))
    assert engine.score(alert("a", 0, host="db01")) == 100
    assert engine.score(alert("a", 0, host="pc7")) == 40
    assert engine.score(alert("a", 0, host="bad")) == 40
    assert engine.counters.bad_weights == 1


@pytest.mark.parametrize(("mapping", "message"), [
    ({"window": "soon"}, "risk.window: not a duration"),
    ({"window": 24}, "risk.window: expected a duration"),
    ({"threshold": -1}, "risk.threshold: expected a non-negative number"),
    ({"threshold": 0}, "risk.threshold: must be above 0"),
    ({"threshold": True}, "risk.threshold"),
    ({"scores": {"severe": 3}}, "risk.scores: unknown key(s): severe"),
    ({"scores": {"low": "5"}}, "risk.scores.low"),
    ({"rules": {"r1": {"points": 3}}}, 'risk.rules."r1": unknown key(s): points'),
    ({"rules": {"r1": {}}}, 'risk.rules."r1": score is required'),
    ({"rules": {"r1": 5}}, 'risk.rules."r1": expected a table'),
    ({"windw": "1h"}, "risk: unknown key(s): windw"),
])
def test_bad_configuration_is_refused_with_the_entry_named(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(RiskConfigError) as raised:
        RiskEngine.from_config(mapping)
    assert message in str(raised.value)


# ---------------------------------------------------------------------------------------------------- window

def test_risk_accumulates_and_leaves_the_window_exactly_one_window_later(session: Session) -> None:
    engine = hourly()
    first, second = alert("a1", 0), alert("a2", 30, level="medium")
    assert engine.apply(session, first) == [] and first.risk == 40
    assert engine.apply(session, second) == [] and second.risk == 15
    assert engine.entity_risk(session, "user", "alice", at(30)) == 55
    assert engine.entity_risk(session, "user", "alice", at(-1)) == 0
    # the window ending at t is (t - 1h, t]: one microsecond before the hour a1 still counts, at the hour not
    assert engine.entity_risk(session, "user", "alice", at(60) - timedelta(microseconds=1)) == 55
    assert engine.entity_risk(session, "user", "alice", at(60)) == 15
    assert engine.entity_risk(session, "user", "alice", iso(at(90))) == 0
    assert engine.entity_risk(session, "user", "bob", at(30)) == 0


def test_each_entity_gets_the_full_score(session: Session) -> None:
    engine = hourly()
    engine.apply(session, alert("a1", 0, user="alice", host="pc7", ip="10.0.0.5"))
    engine.apply(session, alert("a2", 1, user="bob", host="pc7", level="critical"))
    assert [(row.kind, row.value, row.total, row.alerts) for row in engine.top_entities(session, at(1))] == [
        ("host", "pc7", 110, 2), ("user", "bob", 70, 1), ("ip", "10.0.0.5", 40, 1), ("user", "alice", 40, 1)]
    assert [row.value for row in engine.top_entities(session, at(1), limit=1)] == ["pc7"]
    assert [row.value for row in engine.top_entities(session, at(1), kind="user")] == ["bob", "alice"]
    assert engine.top_entities(session, at(61)) == []


def test_suppressed_alerts_add_nothing(session: Session) -> None:
    engine = hourly()
    for index in range(5):
        hidden = alert(f"s{index}", index, level="critical", suppressed_by="duplicate:a0")
        assert engine.apply(session, hidden) == [] and hidden.risk == 0
    assert engine.entity_risk(session, "user", "alice", at(5)) == 0
    assert session.query(RiskEvent).count() == 0


def test_an_alert_applied_twice_is_scored_once(session: Session) -> None:
    engine = hourly()
    engine.apply(session, alert("a1", 0))
    replay = alert("a1", 0)
    assert engine.apply(session, replay) == [] and replay.risk == 40
    assert engine.entity_risk(session, "user", "alice", at(0)) == 40
    assert engine.counters.replayed == 1


def test_untimed_alerts_use_the_receive_time_else_add_nothing(session: Session) -> None:
    engine = hourly()
    received = TriageAlert(alert_id="r", rule_id="x", title="x", level="high", timestamp="not a time",
                           received_ns=int(at(10).timestamp() * 1e9), user="alice")
    engine.apply(session, received)
    assert engine.entity_risk(session, "user", "alice", at(10)) == 40
    nothing = TriageAlert(alert_id="n", rule_id="x", title="x", level="high", timestamp=None, user="alice")
    assert engine.apply(session, nothing) == [] and nothing.risk == 0
    assert engine.counters.untimed == 1


# ---------------------------------------------------------------------------------------------------- crossings

def test_crossing_reports_the_entity_total_and_every_contributing_alert(session: Session) -> None:
    engine = hourly()
    assert engine.apply(session, alert("a1", 0, host="pc7")) == []
    assert engine.apply(session, alert("a2", 10, user="bob", host="pc7")) == []
    crossings = engine.apply(session, alert("a3", 20, host="pc7"))
    assert [(c.entity_kind, c.entity_value, c.total, c.alert_ids) for c in crossings] == [
        ("host", "pc7", 120, ("a1", "a2", "a3"))]
    crossing = crossings[0]
    assert crossing.alert_id == "a3" and crossing.threshold == 100
    assert (crossing.window_start, crossing.window_end) == (iso(at(-40)), iso(at(20)))
    assert engine.crossings(session, "host", "pc7") == crossings


def test_criticality_weight_changes_the_outcome(session: Session) -> None:
    plain = hourly()
    weighted = RiskEngine.from_config({"window": "1h", "threshold": 100},
                                      weight=lambda a: 2.0 if a.host == "dc01" else 1.0)
    assert plain.apply(session, alert("a1", 0, user=None, host="dc01")) == []
    assert plain.apply(session, alert("a2", 1, user=None, host="dc01")) == []
    with fresh_session() as other:
        assert weighted.apply(other, alert("a1", 0, user=None, host="dc01")) == []
        crossings = weighted.apply(other, alert("a2", 1, user=None, host="dc01"))
        assert [(c.entity_value, c.total) for c in crossings] == [("dc01", 160)]


def test_one_crossing_while_above_then_rearmed_after_dropping_below(session: Session) -> None:
    engine = hourly()
    assert engine.apply(session, alert("a1", 0)) == []
    assert engine.apply(session, alert("a2", 10)) == []
    assert len(engine.apply(session, alert("a3", 20))) == 1  # 120
    assert engine.apply(session, alert("a4", 30)) == []  # 160, still above: no second crossing
    assert engine.apply(session, alert("a5", 65)) == []  # a1 left: 160 before a5 (a2, a3, a4), 200 with it
    # at 85 only a4 and a5 count (80: below); a6 (critical, 70) at 90 brings it to 110 (a4 left at 90 exactly)
    assert engine.entity_risk(session, "user", "alice", at(85)) == 80
    crossings = engine.apply(session, alert("a6", 90, level="critical"))
    assert [(c.total, c.alert_ids) for c in crossings] == [(110, ("a5", "a6"))]
    assert [c.alert_id for c in engine.crossings(session, "user", "alice")] == ["a3", "a6"]


def test_rearmed_within_the_window_once_the_risk_dropped_below(session: Session) -> None:
    engine = hourly()
    assert engine.apply(session, alert("a1", 0, level="critical")) == []
    assert [c.total for c in engine.apply(session, alert("a2", 30, level="critical"))] == [140]
    assert engine.entity_risk(session, "user", "alice", at(60)) == 70  # a1 left: below again
    # the crossing at 30 is still within the window of 70, but the risk dropped below since: a new crossing
    assert [c.alert_ids for c in engine.apply(session, alert("a3", 70, level="critical"))] == [("a2", "a3")]


def test_rearmed_after_one_window_while_still_above(session: Session) -> None:
    engine = hourly()
    for index, minute in enumerate(range(0, 200, 10)):
        engine.apply(session, alert(f"a{index:02}", minute, level="critical"))  # 70 every 10 minutes
    # above from the second alert (minute 10) on, without a drop: one crossing per window
    assert [c.window_end for c in engine.crossings(session, "user", "alice")] == [
        iso(at(10)), iso(at(70)), iso(at(130)), iso(at(190))]


def test_prune_deletes_what_is_older_than_the_cutoff(session: Session) -> None:
    engine = hourly()
    engine.apply(session, alert("a1", 0, level="critical", host="pc7"))
    engine.apply(session, alert("a2", 30, level="critical", host="pc7"))
    assert engine.prune(session, at(30)) == 2  # a1 for alice and for pc7
    assert engine.entity_risk(session, "user", "alice", at(30)) == 70
    assert [c.alert_id for c in engine.crossings(session, "host", "pc7")] == ["a2"]
    assert engine.prune(session, iso(at(31))) == 2 and engine.crossings(session, "host", "pc7") == []


def test_zero_score_alerts_never_cross(session: Session) -> None:
    engine = hourly()
    engine.apply(session, alert("a1", 0, level="critical"))
    engine.apply(session, alert("a2", 1, level="critical"))
    info = alert("a3", 70, level="informational")
    assert engine.apply(session, info) == [] and info.risk == 0


# ---------------------------------------------------------------------------------------------------- oracle

LEVEL_POINTS = {"low": 5, "medium": 15, "high": 40, "critical": 70}
# dense enough (about one alert per 10 minutes per user, window 60) that entities cross, stay above, drop below and
# cross again within one window
steps = st.lists(st.tuples(st.integers(0, 240), st.sampled_from(sorted(LEVEL_POINTS)),
                           st.sampled_from(["alice", "bob"])), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.integers(-5, 370), min_size=1, max_size=10))
def test_entity_risk_is_the_sum_of_its_scores_in_the_half_open_window(
        raised: list[tuple[int, str, str]], probes: list[int]) -> None:
    engine = hourly()
    ordered = sorted(enumerate(raised), key=lambda item: (item[1][0], item[0]))
    with fresh_session() as session:
        for index, (minute, level, user) in ordered:
            engine.apply(session, alert(f"a{index:03}", minute, level=level, user=user))
        for probe in probes + [minute + 60 for minute, _, _ in raised]:
            for user in ("alice", "bob"):
                expected = sum(LEVEL_POINTS[level] for minute, level, who in raised
                               if who == user and probe - 60 < minute <= probe)
                assert math.isclose(engine.entity_risk(session, "user", user, at(probe)), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_crossings_follow_the_definition(raised: list[tuple[int, str, str]]) -> None:
    """The model: alerts in time order; a crossing when the total in (t - w, t] reaches the threshold and either
    the total without this alert was below it, or no crossing of the entity lies in (t - w, t]."""
    engine = hourly()
    ordered = sorted(enumerate(raised), key=lambda item: (item[1][0], item[0]))
    expected: dict[str, list[tuple[int, tuple[str, ...]]]] = {"alice": [], "bob": []}
    seen: list[tuple[int, int, str, str]] = []
    for index, (minute, level, user) in ordered:
        seen.append((minute, index, level, user))
        window = sorted((m, i, lv) for m, i, lv, u in seen if u == user and minute - 60 < m <= minute)
        total = sum(LEVEL_POINTS[lv] for _, _, lv in window)
        before = total - LEVEL_POINTS[level]
        recent = any(minute - 60 < crossed <= minute for crossed, _ in expected[user])
        if total >= 100 and (before < 100 or not recent):
            expected[user].append((minute, tuple(f"a{i:03}" for _, i, _ in window)))
    with fresh_session() as session:
        for index, (minute, level, user) in ordered:
            engine.apply(session, alert(f"a{index:03}", minute, level=level, user=user))
        for user in ("alice", "bob"):
            found = [(int((datetime.fromisoformat(c.window_end.replace("Z", "+00:00")) - T0).total_seconds() // 60),
                      c.alert_ids) for c in engine.crossings(session, "user", user)]
            assert found == expected[user]
