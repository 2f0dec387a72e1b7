"""Noise control: deduplication in event time (boundaries, entities, restarts, bounded state), suppressions,
global exceptions across rules (selectors, fields.*, expiry, hits), the impact preview (the same matching as live
application, checked by hypothesis), validation, and the /api/v1/exceptions and /api/v1/suppressions routes
with roles, on a real SQLite database."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yamori.triage import noise
from yamori.triage.db import open_database
from yamori.triage.exceptions import (
    AlertException,
    AlertMatch,
    NoiseError,
    add_exception,
    add_suppression,
    delete_exception,
    list_exceptions,
    list_suppressions,
    preview_exception,
)
from yamori.triage.model import TriageAlert
from yamori.triage.noise import DedupState, NoiseControl, duplicate_count
from yamori.triage.records import AlertRecord, iso, save_alerts

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

Sessions = Callable[[], Session]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    engine, factory = open_database(f"sqlite:///{tmp_path / 'triage.sqlite3'}")
    yield factory
    engine.dispose()


class Clock:
    def __init__(self, moment: datetime = NOW) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def make_alert(alert_id: str, rule_id: str = "r-brute", at: datetime | None = T0, *, title: str = "Brute force",
               tags: tuple[str, ...] = ("attack.credential-access", "attack.t1110"), severity: str = "high",
               **fields: Any) -> TriageAlert:
    return TriageAlert(alert_id=alert_id, rule_id=rule_id, title=title, level="high", severity=severity,
                       timestamp=at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if at else None, tags=tags, fields=fields)


def control(config: dict[str, Any] | None = None, clock: Clock | None = None) -> NoiseControl:
    return NoiseControl.from_config(config or {}, clock=clock or Clock())


def run(nc: NoiseControl, session: Session, *alerts: TriageAlert) -> list[str | None]:
    return [nc.apply(session, alert).suppressed_by for alert in alerts]


# ------------------------------------------------------------------------------------------------ dedup

def test_a_later_alert_of_the_same_rule_and_entity_within_the_window_is_a_duplicate_of_the_first(
        sessions: Sessions) -> None:
    nc = control()
    with sessions() as session:
        outcome = run(nc, session,
                      make_alert("a1", at=T0, TargetUserName="bob", IpAddress="203.0.113.5"),
                      make_alert("a2", at=T0 + timedelta(minutes=5), TargetUserName="bob", IpAddress="203.0.113.5"),
                      make_alert("a3", at=T0 + timedelta(minutes=10) - timedelta(microseconds=1),
                                 TargetUserName="BOB", IpAddress="203.0.113.5"))
        assert outcome == [None, "duplicate:a1", "duplicate:a1"]
        assert duplicate_count(session, "a1") == 2
        assert nc.stats.duplicates == 2 and nc.stats.passed == 1


def test_an_alert_exactly_one_window_after_the_first_opens_a_new_window(sessions: Sessions) -> None:
    nc = control({"dedup_window": "10m"})
    with sessions() as session:
        outcome = run(nc, session, make_alert("a1", at=T0, TargetUserName="bob"),
                      make_alert("a2", at=T0 + timedelta(minutes=10), TargetUserName="bob"),
                      make_alert("a3", at=T0 + timedelta(minutes=19), TargetUserName="bob"),
                      make_alert("a4", at=T0 + timedelta(minutes=20), TargetUserName="bob"))
        # windows are fixed from their first alert, not extended by duplicates: a4 is 10 min after a2
        assert outcome == [None, None, "duplicate:a2", None]


def test_late_alerts_count_within_the_window_and_pass_outside_it(sessions: Sessions) -> None:
    nc = control()
    with sessions() as session:
        outcome = run(nc, session, make_alert("a1", at=T0, TargetUserName="bob"),
                      make_alert("late-in", at=T0 - timedelta(minutes=9), TargetUserName="bob"),
                      make_alert("late-out", at=T0 - timedelta(hours=1), TargetUserName="bob"),
                      make_alert("a2", at=T0 + timedelta(minutes=2), TargetUserName="bob"))
        assert outcome == [None, "duplicate:a1", None, "duplicate:a1"]


def test_entities_and_rules_separate_duplicates(sessions: Sessions) -> None:
    nc = control()
    with sessions() as session:
        outcome = run(nc, session, make_alert("a1", TargetUserName="bob", Computer="ws-1"),
                      make_alert("a2", TargetUserName="alice", Computer="ws-1"),
                      make_alert("a3", TargetUserName="bob", Computer="ws-2"),
                      make_alert("a4", "r-other", TargetUserName="bob", Computer="ws-1"),
                      make_alert("a5", TargetUserName="bob", Computer="WS-1"),
                      make_alert("n1"), make_alert("n2"))
        assert outcome == [None, None, None, None, "duplicate:a1", None, "duplicate:n1"]


def test_per_rule_window_and_key_override_the_defaults(sessions: Sessions) -> None:
    nc = control({"dedup_window": "10m", "rules": {"r-spray": {"dedup_window": "1h", "dedup_key": ["ip"]},
                                                    "r-quiet": {"dedup_window": "off"},
                                                    "r-proc": {"dedup_key": ["host", "fields.ParentImage"]}}})
    later = T0 + timedelta(minutes=30)
    with sessions() as session:
        outcome = run(nc, session,
                      make_alert("s1", "r-spray", T0, TargetUserName="u1", IpAddress="198.51.100.7"),
                      make_alert("s2", "r-spray", later, TargetUserName="u2", IpAddress="198.51.100.7"),
                      make_alert("b1", at=T0, TargetUserName="u1", IpAddress="198.51.100.7"),
                      make_alert("b2", at=later, TargetUserName="u1", IpAddress="198.51.100.7"),
                      make_alert("q1", "r-quiet", T0), make_alert("q2", "r-quiet", T0),
                      make_alert("p1", "r-proc", T0, Computer="h", ParentImage="a.exe", User="x"),
                      make_alert("p2", "r-proc", T0, Computer="h", ParentImage="A.EXE", User="y"),
                      make_alert("p3", "r-proc", T0, Computer="h", ParentImage="b.exe", User="x"))
    assert outcome == [None, "duplicate:s1", None, None, None, None, None, "duplicate:p1", None]


def test_dedup_state_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.sqlite3'}"
    engine, factory = open_database(url)
    with factory() as session:
        assert run(control(), session, make_alert("a1", TargetUserName="bob")) == [None]
        session.commit()
    engine.dispose()
    engine, factory = open_database(url)  # a new process: new engine, new NoiseControl, same file
    with factory() as session:
        restarted = control()
        # a replay of a1 (the same alert handled again) is not a duplicate of itself
        assert run(restarted, session, make_alert("a2", at=T0 + timedelta(minutes=3), TargetUserName="bob"),
                   make_alert("a1", TargetUserName="bob")) == ["duplicate:a1", None]
        session.commit()
        assert duplicate_count(session, "a1") == 1
    engine.dispose()


def test_alerts_without_event_time_use_the_receive_time_or_are_not_deduplicated(sessions: Sessions) -> None:
    nc = control()
    received = int(T0.timestamp() * 1e9)
    first = make_alert("r1", at=None, TargetUserName="bob")
    first.received_ns = received
    second = make_alert("r2", at=None, TargetUserName="bob")
    second.received_ns = received + 60 * 10**9
    with sessions() as session:
        assert run(nc, session, first, second) == [None, "duplicate:r1"]
        assert run(nc, session, make_alert("u1", at=None), make_alert("u2", at=None)) == [None, None]
        assert nc.stats.undated == 2


def test_duplicate_count_falls_back_to_saved_alerts_once_the_window_is_replaced(sessions: Sessions) -> None:
    nc = control()
    alerts = [make_alert("a1", TargetUserName="bob"), make_alert("a2", TargetUserName="bob"),
              make_alert("a3", at=T0 + timedelta(hours=1), TargetUserName="bob")]
    with sessions() as session:
        run(nc, session, *alerts)
        save_alerts(session, alerts)
        session.commit()
        assert session.scalars(select(DedupState.first_alert_id)).all() == ["a3"]
        assert duplicate_count(session, "a1") == 1 and duplicate_count(session, "a3") == 0


def test_dedup_state_is_bounded_by_key_count_and_by_event_time(sessions: Sessions) -> None:
    nc = control({"max_dedup_keys": 20})
    with sessions() as session:
        def rows() -> int:
            return int(session.scalar(select(func.count()).select_from(DedupState)) or 0)

        peak = 0
        for index in range(3 * noise.PRUNE_EVERY):
            nc.apply(session, make_alert(f"k{index}", at=T0 + timedelta(seconds=index), TargetUserName=f"u{index}"))
            peak = max(peak, rows())
        assert peak <= 20 + noise.PRUNE_EVERY
        nc.prune(session)
        assert rows() == 20
        survivors = {int(alert_id[1:]) for alert_id in session.scalars(select(DedupState.first_alert_id))}
        assert survivors == set(range(3 * noise.PRUNE_EVERY - 20, 3 * noise.PRUNE_EVERY))  # the oldest went first
        # a day later in event time every old window is past the horizon
        pruned = nc.stats.pruned
        nc.apply(session, make_alert("fresh", at=T0 + timedelta(days=1), TargetUserName="new"))
        nc.prune(session)
        assert nc.stats.pruned - pruned == 20
        assert session.scalars(select(DedupState.first_alert_id)).all() == ["fresh"]
        # a bogus far-future event time does not wipe the windows open at the wall clock's time
        nc.apply(session, make_alert("live", at=NOW - timedelta(minutes=1), TargetUserName="new"))
        nc.apply(session, make_alert("bogus", at=datetime(2099, 1, 1, tzinfo=UTC), TargetUserName="z"))
        nc.prune(session)
        assert sorted(session.scalars(select(DedupState.first_alert_id))) == ["bogus", "live"]


# ------------------------------------------------------------------------------------------------ exceptions

def test_one_exception_hides_alerts_of_several_rules_and_counts_its_hits(sessions: Sessions) -> None:
    clock = Clock()
    nc = control(clock=clock)
    with sessions() as session:
        exception = add_exception(session, rules=["r-psexec", "title:Suspicious *", "tag:attack.t1059*"],
                                  match={"host": "build-*"}, owner="soc-lead", reason="build farm runs scripts",
                                  expires="2026-12-31T00:00:00Z", now=NOW)
        other = add_exception(session, rules=["r-psexec"], match={"user": "svc_*"}, owner="x", reason="y",
                              expires="+7d", now=NOW)
        session.commit()
        alerts = [make_alert("e1", "r-psexec", Computer="BUILD-07", tags=()),
                  make_alert("e2", "r-odd", title="Suspicious PowerShell", Computer="build-01", tags=()),
                  make_alert("e3", "r-cmd", title="Cmd", tags=("attack.execution", "attack.t1059.003"),
                             Computer="build-02"),
                  make_alert("e4", "r-cmd", title="Cmd", tags=("attack.t1059.003",), Computer="web-01"),
                  make_alert("e5", "r-brute", Computer="build-03"),
                  make_alert("e6", "r-psexec", Computer="web-01", TargetUserName="svc_backup", tags=())]
        outcome = run(nc, session, *alerts)
        session.commit()
        first, second = f"exception:{exception.id}", f"exception:{other.id}"
        assert outcome == [first, first, first, None, None, second]
        stored = {row["id"]: row for row in (item.to_dict(NOW) for item in list_exceptions(session, now=NOW))}
        assert stored[exception.id]["hits"] == 3 and stored[exception.id]["last_hit"] == iso(NOW)
        assert stored[other.id]["hits"] == 1
        assert stored[exception.id]["rules"] == ["r-psexec", "title:Suspicious *", "tag:attack.t1059*"]
        assert stored[exception.id]["match"] == {"host": ["build-*"]}
        assert stored[exception.id]["owner"] == "soc-lead" and stored[exception.id]["created"] == iso(NOW)
        assert nc.stats.exceptions == 4


def test_rule_selectors_look_at_id_title_or_tags_and_prefixes_narrow_them() -> None:
    alert = make_alert("x", "proc_creation_win_powershell", title="Suspicious Encoded PowerShell",
                       tags=("attack.execution", "attack.t1059.001"))
    for selector in ("proc_creation_win_*", "suspicious encoded*", "attack.T1059*", "id:PROC_*",
                     "title:*PowerShell", "tag:attack.execution"):
        assert AlertMatch.parse([selector]).matches(alert), selector
    for selector in ("id:suspicious*", "title:attack.*", "tag:proc_*", "attack.t1110", "other-rule"):
        assert not AlertMatch.parse([selector]).matches(alert), selector
    assert AlertMatch.parse([]).matches(alert)  # no rules: every rule


def test_field_globs_are_case_insensitive_and_need_the_field() -> None:
    matcher = AlertMatch.parse(None, {"fields.ParentImage": "*\\ccmexec.exe", "severity": ["low", "medium"]})
    assert matcher.matches(make_alert("1", severity="medium", ParentImage="C:\\Windows\\CCM\\CcmExec.exe"))
    assert not matcher.matches(make_alert("2", severity="high", ParentImage="C:\\Windows\\CCM\\CcmExec.exe"))
    assert not matcher.matches(make_alert("3", severity="low", ParentImage="C:\\Windows\\explorer.exe"))
    assert not matcher.matches(make_alert("4", severity="low"))
    present = AlertMatch.parse(None, {"fields.CommandLine": "*"})
    assert present.matches(make_alert("5", CommandLine="x")) and not present.matches(make_alert("6"))
    listed = AlertMatch.parse(None, {"fields.dns.answers": "10.0.*", "fields.process.parent.name": "svchost.exe"})
    assert listed.matches(make_alert("7", **{"dns.answers": ["8.8.8.8", "10.0.0.1"],
                                             "process": {"parent": {"name": "SVCHOST.EXE"}}}))
    assert not listed.matches(make_alert("8", **{"dns.answers": ["8.8.8.8"],
                                                 "process": {"parent": {"name": "svchost.exe"}}}))
    booleans = AlertMatch.parse(None, {"fields.elevated": "true", "ip": "10.*"})
    assert booleans.matches(make_alert("9", elevated=True, IpAddress="10.1.2.3"))
    assert not booleans.matches(make_alert("10", elevated=False, IpAddress="10.1.2.3"))


def test_expired_exceptions_stop_applying_and_are_listed_as_expired(sessions: Sessions) -> None:
    clock = Clock()
    nc = control(clock=clock)
    with sessions() as session:
        exception = add_exception(session, match={"user": "bob"}, owner="me", reason="pentest", expires="+1h",
                                  now=NOW)
        session.commit()
        assert run(nc, session, make_alert("a1", TargetUserName="bob")) == [f"exception:{exception.id}"]
        clock.moment = NOW + timedelta(hours=1)  # expiry is exclusive: at the expiry time it no longer applies
        assert run(nc, session, make_alert("a2", at=T0 + timedelta(hours=2), TargetUserName="bob")) == [None]
        assert list_exceptions(session, now=clock.moment) == []
        (listed,) = list_exceptions(session, include_expired=True, now=clock.moment)
        assert listed.to_dict(clock.moment)["expired"] is True and listed.hits == 1


def test_exceptions_win_over_suppressions_which_win_over_dedup(sessions: Sessions) -> None:
    nc = control()
    with sessions() as session:
        suppression = add_suppression(session, rule="r-brute", match={"host": "build-*"}, owner="ops",
                                      reason="maintenance", now=NOW)
        exception = add_exception(session, match={"user": "bob"}, owner="me", reason="r", expires="+1d", now=NOW)
        outcome = run(nc, session, make_alert("a1", TargetUserName="bob", Computer="build-1"),
                      make_alert("a2", TargetUserName="eve", Computer="build-1"),
                      make_alert("a3", TargetUserName="eve", Computer="web-1"),
                      make_alert("a4", TargetUserName="eve", Computer="web-1"))
        # hidden alerts do not open dedup windows: a3 is the first that passed
        assert outcome == [f"exception:{exception.id}", f"suppression:{suppression.id}", None, "duplicate:a3"]


def test_a_suppression_holds_until_its_date_and_a_permanent_one_for_good(sessions: Sessions) -> None:
    clock = Clock()
    nc = control({"dedup_window": "off"}, clock)
    with sessions() as session:
        until = add_suppression(session, rule="r-brute", match={"host": "build-*"}, until="2026-12-01T00:00:00Z",
                                owner="ops", reason="build farm migration", now=NOW)
        forever = add_suppression(session, rule="tag:attack.t1046", owner="ops", reason="scanner", now=NOW)
        session.commit()
        scan = make_alert("s", "r-scan", tags=("attack.t1046",), Computer="scanner-1")
        assert run(nc, session, make_alert("a1", Computer="build-9"), make_alert("a2", Computer="web-9"),
                   make_alert("a3", "r-other", Computer="build-9"), scan) == \
            [f"suppression:{until.id}", None, None, f"suppression:{forever.id}"]
        clock.moment = datetime(2026, 12, 1, tzinfo=UTC)
        assert run(nc, session, make_alert("b1", Computer="build-9"), make_alert("b2", "r-scan", tags=scan.tags)) \
            == [None, f"suppression:{forever.id}"]
        assert [row.id for row in list_suppressions(session, now=clock.moment)] == [forever.id]
        listed = [row.to_dict(clock.moment) for row in list_suppressions(session, True, clock.moment)]
        assert [(row["id"], row["expired"], row["hits"]) for row in listed] == [(until.id, True, 1),
                                                                                (forever.id, False, 2)]


def test_deleted_ids_are_never_reused(sessions: Sessions) -> None:
    with sessions() as session:
        first = add_exception(session, rules=["a"], owner="o", reason="r", expires="+1d", now=NOW)
        session.commit()
        assert delete_exception(session, first.id) and not delete_exception(session, first.id)
        session.commit()
        second = add_exception(session, rules=["a"], owner="o", reason="r", expires="+1d", now=NOW)
        assert second.id != first.id


def test_a_stored_entry_that_no_longer_parses_is_skipped_and_counted(sessions: Sessions) -> None:
    nc = control()
    with sessions() as session:
        broken = AlertException(rules="[]", match=orjson.dumps({"usr": ["bob"]}).decode(), owner="o", reason="r",
                                expires=iso(NOW + timedelta(days=1)), created=iso(NOW), hits=0)
        session.add(broken)
        session.commit()
        assert run(nc, session, make_alert("a", TargetUserName="bob")) == [None]
        assert nc.stats.bad_entries == 1


BAD_EXCEPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"rules": ["[abc"]}, "unclosed '['"),
    ({"rules": [""]}, "empty glob"),
    ({"rules": "not-a-list-but-ok", "match": {"usr": "bob"}}, "unknown attribute 'usr'"),
    ({"match": {"fields.": "x"}}, "unknown attribute"),
    ({"match": {"host": []}}, "match.host"),
    ({"match": {"host": 7}}, "match.host"),
    ({"match": ["host"]}, "match: a mapping"),
    ({"rules": {"a": 1}}, "rules: a list"),
    ({"rules": ["id:"]}, "empty glob"),
    ({}, "needs rules or match"),
    ({"rules": ["x"], "expires": "2020-01-01T00:00:00Z"}, "not in the future"),
    ({"rules": ["x"], "expires": None}, "expires is required"),
    ({"rules": ["x"], "expires": "next tuesday"}, "expires: not a time"),
    ({"rules": ["x"], "owner": ""}, "owner is required"),
    ({"rules": ["x"], "reason": None}, "reason is required"),
]


@pytest.mark.parametrize(("change", "message"), BAD_EXCEPTIONS)
def test_invalid_exceptions_are_refused_with_the_reason(sessions: Sessions, change: dict[str, Any],
                                                        message: str) -> None:
    arguments: dict[str, Any] = {"owner": "o", "reason": "r", "expires": "+1d", **change}
    with sessions() as session:
        with pytest.raises(NoiseError, match=message.replace("[", r"\[").replace("(", r"\(")):
            add_exception(session, now=NOW, **arguments)
        assert session.scalar(select(func.count()).select_from(AlertException)) == 0


@pytest.mark.parametrize(("arguments", "message"), [
    ({"rule": None}, "rule is required"),
    ({"rule": "r", "until": "-1d"}, "not in the future"),
    ({"rule": "r", "match": {"hostname": "x"}}, "unknown attribute 'hostname'"),
    ({"rule": "r[", "match": {}}, "unclosed"),
])
def test_invalid_suppressions_are_refused_with_the_reason(sessions: Sessions, arguments: dict[str, Any],
                                                          message: str) -> None:
    with sessions() as session, pytest.raises(NoiseError, match=message):
        add_suppression(session, owner="o", reason="r", now=NOW, **arguments)


@pytest.mark.parametrize(("config", "message"), [
    ({"dedup_window": "10 minutes"}, "noise.dedup_window: not a duration"),
    ({"dedup_window": -5}, "noise.dedup_window"),
    ({"dedup_windw": "10m"}, "unknown key"),
    ({"dedup_key": ["user", "hostname"]}, "noise.dedup_key: unknown attribute 'hostname'"),
    ({"dedup_key": []}, "noise.dedup_key"),
    ({"max_dedup_keys": 0}, "noise.max_dedup_keys"),
    ({"rules": {"r1": {"dedup_window": "1x"}}}, 'noise.rules."r1".dedup_window'),
    ({"rules": {"r1": {"window": "1h"}}}, 'noise.rules."r1"'),
    ({"rules": {"r1": "1h"}}, 'noise.rules."r1"'),
])
def test_invalid_configuration_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(NoiseError, match=message.replace(".", r"\.")):
        NoiseControl.from_config(config)


def test_configuration_defaults_and_overrides() -> None:
    nc = NoiseControl.from_config({"dedup_window": "5m", "dedup_key": ["user"],
                                   "rules": {"r": {"dedup_window": 3600}, "q": {"dedup_key": ["host"]}}})
    assert nc.policy("other") == noise.DedupPolicy(timedelta(minutes=5), ("user",))
    assert nc.policy("r") == noise.DedupPolicy(timedelta(hours=1), ("user",))
    assert nc.policy("q") == noise.DedupPolicy(timedelta(minutes=5), ("host",))
    assert NoiseControl.from_config(None).policy("x") == noise.DedupPolicy(timedelta(minutes=10),
                                                                            ("user", "host", "ip"))


# ------------------------------------------------------------------------------------------------ preview

def test_preview_lists_past_alerts_the_candidate_would_hide_without_saving_it(sessions: Sessions) -> None:
    alerts = [make_alert(f"p{index}", "r-a" if index % 2 else "r-b", T0 + timedelta(minutes=index),
                         Computer="build-1" if index % 3 else "web-1") for index in range(12)]
    alerts[1].suppressed_by = "duplicate:p0"
    with sessions() as session:
        save_alerts(session, alerts)
        session.commit()
        preview = preview_exception(session, {"rules": ["r-*"], "match": {"host": "build-*"}}, limit=3, now=NOW)
        hidden = [alert for alert in alerts if alert.host == "build-1"]
        assert preview.total == len(hidden) == 8 and preview.scanned == 12
        assert preview.by_rule == {"r-a": 4, "r-b": 4}
        assert [row["alert_id"] for row in preview.sample] == ["p11", "p10", "p8"]  # newest first
        assert preview.already_suppressed == 1
        windowed = preview_exception(session, {"match": {"host": "build-*"}}, since=iso(T0 + timedelta(minutes=2)),
                                     until=iso(T0 + timedelta(minutes=5)), now=NOW)
        assert [row["alert_id"] for row in windowed.sample] == ["p4", "p2"] and windowed.scanned == 3
        assert session.scalar(select(func.count()).select_from(AlertException)) == 0


SELECTORS = ["r-0", "r-1", "r-*", "title:Brute*", "tag:attack.t1059*", "id:r-2", "*powershell*", "attack.t1110"]
GLOBS = {"user": ["bob", "a*", "svc_?", "*"], "host": ["build-*", "WS-1", "*-2"], "ip": ["10.*", "203.0.113.?"],
         "severity": ["high", "low"], "fields.ParentImage": ["*\\ccmexec.exe", "*.EXE"]}
alert_strategy = st.builds(
    lambda index, rule, title, tags, user, host, ip, severity, parent, minute, hidden: (
        index, rule, title, tags, user, host, ip, severity, parent, minute, hidden),
    st.integers(), st.sampled_from(["r-0", "r-1", "r-2", "x-9"]),
    st.sampled_from(["Brute force", "Encoded PowerShell", "Other"]),
    st.sampled_from([(), ("attack.t1059.001",), ("attack.t1110", "attack.credential-access")]),
    st.sampled_from([None, "bob", "alice", "svc_1", "BOB"]), st.sampled_from([None, "build-1", "ws-1", "web-2"]),
    st.sampled_from([None, "10.0.0.1", "203.0.113.9", "198.51.100.1"]), st.sampled_from(["high", "low", "medium"]),
    st.sampled_from([None, "C:\\CCM\\CcmExec.exe", "c:\\windows\\explorer.exe", "/usr/bin/bash"]),
    st.integers(0, 4), st.booleans())
candidate_strategy = st.tuples(
    st.lists(st.sampled_from(SELECTORS), max_size=3, unique=True),
    st.dictionaries(st.sampled_from(sorted(GLOBS)), st.just(None), max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({key: st.lists(st.sampled_from(GLOBS[key]), min_size=1, max_size=2)
                                            for key in keys})))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(alert_strategy, min_size=0, max_size=25), candidate=candidate_strategy)
def test_preview_hides_exactly_what_live_application_hides(specs: list[tuple[Any, ...]],
                                                           candidate: tuple[list[str], dict[str, list[str]]]) -> None:
    rules, match = candidate
    if not rules and not match:
        rules = ["r-*"]
    engine, factory = open_database("sqlite://")
    try:
        alerts = []
        for number, (_, rule, title, tags, user, host, ip, severity, parent, minute, hidden) in enumerate(specs):
            fields = {key: value for key, value in (("TargetUserName", user), ("Computer", host),
                                                    ("IpAddress", ip), ("ParentImage", parent)) if value}
            alert = make_alert(f"h{number:03d}", rule, T0 + timedelta(minutes=minute), title=title, tags=tags,
                               severity=severity, **fields)
            alert.suppressed_by = "duplicate:h000" if hidden else None  # the preview counts hidden ones too
            alerts.append(alert)
        with factory() as session:
            save_alerts(session, alerts)
            session.commit()
            # a small page: many alerts share an event time, so the preview's cursor must skip exactly the seen
            preview = preview_exception(session, {"rules": rules, "match": match}, limit=len(alerts), now=NOW,
                                        page=3)
            exception = add_exception(session, rules=rules, match=match, owner="o", reason="r", expires="+1d",
                                      now=NOW)
            nc = control()
            live = set()
            for record in session.scalars(select(AlertRecord)):
                fresh = record.alert()
                fresh.suppressed_by = None
                if nc.apply(session, fresh).suppressed_by == f"exception:{exception.id}":
                    live.add(fresh.alert_id)
            assert {row["alert_id"] for row in preview.sample} == live
            assert preview.total == len(live) and preview.scanned == len(alerts)
            assert sum(preview.by_rule.values()) == preview.total
            assert session.get(AlertException, exception.id).hits == len(live)  # type: ignore[union-attr]
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ API

TOKENS = {"admin": "admin-token-0123456789", "reader": "reader-token-0123456789",
          "ingest": "ingest-token-0123456789"}


@pytest.fixture
def api(tmp_path: Path, sessions: Sessions) -> Iterator[tuple[Any, Path]]:
    """The real ``yamori serve`` app (its ServerState, Authenticator and AuditLog) with the noise router."""
    from prometheus_client import CollectorRegistry

    from yamori.api.app import ServerState, create_app
    from yamori.api.audit import AuditLog
    from yamori.api.auth import Authenticator
    from yamori.api.noise_routes import build_noise_router
    from yamori.config import ServeConfig
    from yamori.ingest.sink import IngestSink
    from yamori.ingest.wal import WalWriter
    from yamori.ops.metrics import InputMetrics, PipelineCollector
    from yamori.secrets import Secret

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette asks for httpx2, which Yamori does not use
        from fastapi.testclient import TestClient

    config = ServeConfig(data_dir=tmp_path / "serve")
    metrics = InputMetrics()
    authenticator = Authenticator([(role, role, Secret(f"${role}", token))  # type: ignore[misc]
                                   for role, token in TOKENS.items()])
    audit = AuditLog(config.audit_log)
    state = ServerState(config, IngestSink(WalWriter(config.wal_dir), metrics), authenticator, metrics,
                        PipelineCollector(), audit, CollectorRegistry())
    app = create_app(state)
    app.include_router(build_noise_router(sessions))
    with TestClient(app) as client:
        yield client, config.audit_log
    audit.close()


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


EXCEPTION_BODY = {"rules": ["r-psexec", "tag:attack.t1059*"], "match": {"host": "build-*"},
                  "reason": "build farm", "expires": "+30d"}


def test_api_readers_list_and_preview_admins_create_and_delete(api: tuple[Any, Path], sessions: Sessions) -> None:
    client, audit_log = api
    with sessions() as session:
        save_alerts(session, [make_alert("old1", "r-psexec", Computer="build-1"),
                              make_alert("old2", "r-psexec", Computer="web-1")])
        session.commit()
    assert client.post("/api/v1/exceptions", json=EXCEPTION_BODY, headers=auth("reader")).status_code == 403
    assert client.post("/api/v1/exceptions", json=EXCEPTION_BODY, headers=auth("ingest")).status_code == 403
    assert client.post("/api/v1/exceptions", json=EXCEPTION_BODY).status_code == 401
    assert client.get("/api/v1/exceptions", headers=auth("ingest")).status_code == 403
    preview = client.post("/api/v1/exceptions/preview?limit=5", json=EXCEPTION_BODY, headers=auth("reader"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["total"] == 1 and preview.json()["sample"][0]["alert_id"] == "old1"
    assert client.get("/api/v1/exceptions", headers=auth("reader")).json() == {"exceptions": [], "count": 0}

    created = client.post("/api/v1/exceptions", json=EXCEPTION_BODY, headers=auth("admin"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner"] == "admin" and body["hits"] == 0 and body["expired"] is False
    listed = client.get("/api/v1/exceptions", headers=auth("reader")).json()
    assert [row["id"] for row in listed["exceptions"]] == [body["id"]]
    assert client.get(f"/api/v1/exceptions/{body['id']}", headers=auth("reader")).json()["reason"] == "build farm"
    with sessions() as session:  # what the API stored is what the pipeline applies
        alert = control().apply(session, make_alert("new", "r-psexec", Computer="build-5"))
        assert alert.suppressed_by == f"exception:{body['id']}"

    assert client.delete(f"/api/v1/exceptions/{body['id']}", headers=auth("reader")).status_code == 403
    assert client.delete(f"/api/v1/exceptions/{body['id']}", headers=auth("admin")).json() == {"deleted": body["id"]}
    assert client.delete(f"/api/v1/exceptions/{body['id']}", headers=auth("admin")).status_code == 404

    audit = [orjson.loads(line) for line in audit_log.read_bytes().splitlines()]
    assert {(entry["who"], entry["method"], entry["path"], entry["status"]) for entry in audit} >= {
        ("reader", "POST", "/api/v1/exceptions", 403), ("admin", "POST", "/api/v1/exceptions", 201),
        ("reader", "POST", "/api/v1/exceptions/preview", 200),
        ("admin", "DELETE", f"/api/v1/exceptions/{body['id']}", 404)}
    assert not any(token in audit_log.read_text() for token in TOKENS.values())


@pytest.mark.parametrize(("body", "message"), [
    ({**EXCEPTION_BODY, "expires": "2001-01-01T00:00:00Z"}, "not in the future"),
    ({**EXCEPTION_BODY, "match": {"hostname": "x"}}, "unknown attribute 'hostname'"),
    ({**EXCEPTION_BODY, "rules": ["[x"]}, "unclosed"),
    ({**EXCEPTION_BODY, "colour": "red"}, "unknown key(s): colour"),
    (["not", "an", "object"], "JSON object"),
])
def test_api_refuses_invalid_exceptions_with_400_and_the_reason(api: tuple[Any, Path], body: Any,
                                                                message: str) -> None:
    client, _ = api
    answer = client.post("/api/v1/exceptions", json=body, headers=auth("admin"))
    assert answer.status_code == 400 and message in answer.json()["detail"]
    preview = client.post("/api/v1/exceptions/preview", json={"match": {"hostname": "x"}}, headers=auth("reader"))
    assert preview.status_code == 400 and "hostname" in preview.json()["detail"]


def test_api_suppressions(api: tuple[Any, Path]) -> None:
    client, _ = api
    body = {"rule": "r-brute", "match": {"host": "build-*"}, "until": "2999-01-01T00:00:00Z", "reason": "migration",
            "owner": "ops-team"}
    assert client.post("/api/v1/suppressions", json=body, headers=auth("reader")).status_code == 403
    created = client.post("/api/v1/suppressions", json=body, headers=auth("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == "ops-team" and created.json()["until"] == "2999-01-01T00:00:00.000000Z"
    listed = client.get("/api/v1/suppressions", headers=auth("reader")).json()
    assert listed["count"] == 1 and listed["suppressions"][0]["rule"] == "r-brute"
    refused = client.post("/api/v1/suppressions", json={**body, "until": "-1h"}, headers=auth("admin"))
    assert refused.status_code == 400 and "not in the future" in refused.json()["detail"]
    sid = created.json()["id"]
    assert client.delete(f"/api/v1/suppressions/{sid}", headers=auth("admin")).status_code == 200
    assert client.get("/api/v1/suppressions", headers=auth("reader")).json()["count"] == 0


def test_the_documented_toml_section_loads() -> None:
    import tomllib

    document = tomllib.loads('[noise]\ndedup_window = "10m"\ndedup_key = ["user", "host", "ip"]\n'
                             'max_dedup_keys = 100000\n\n[noise.rules."5f7a2c1e-brute-force"]\n'
                             'dedup_window = "1h"\ndedup_key = ["user"]\n')
    nc = NoiseControl.from_config(document["noise"])
    assert nc.policy("5f7a2c1e-brute-force") == noise.DedupPolicy(timedelta(hours=1), ("user",))
    assert nc.max_dedup_keys == 100_000
