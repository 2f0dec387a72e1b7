"""yamori.triage.incidents, yamori.triage.rulestats and the incident API: grouping by entity and time, risk
incidents with every contributing alert, the timeline in kill-chain order, status/verdict/notes/history, per-rule
statistics and the noisy-rules report, and the HTTP routes with real tokens, roles and audit log."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from yamori.api.app import ServerState, create_app
from yamori.api.audit import AuditLog
from yamori.api.auth import Authenticator
from yamori.api.incident_routes import build_incident_router
from yamori.config import ServeConfig, TokenConfig
from yamori.ingest.sink import IngestSink
from yamori.ingest.wal import WalWriter
from yamori.ops.metrics import InputMetrics, PipelineCollector
from yamori.triage import rulestats
from yamori.triage.db import open_database
from yamori.triage.incidents import (
    Incident,
    IncidentAlert,
    IncidentError,
    IncidentManager,
    IncidentNotFound,
    add_note,
    get_incident,
    list_incidents,
    timeline,
    update_incident,
)
from yamori.triage.model import TriageAlert
from yamori.triage.records import iso, save_alerts
from yamori.triage.risk import RiskEngine

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2, which Yamori does not use
    from fastapi.testclient import TestClient

T0 = datetime(2026, 11, 28, tzinfo=UTC)
WALL = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def alert(alert_id: str, minutes: float, *, level: str = "high", rule: str = "rule-a", user: str | None = None,
          host: str | None = None, ip: str | None = None, tags: tuple[str, ...] = (),
          suppressed_by: str | None = None) -> TriageAlert:
    return TriageAlert(alert_id=alert_id, rule_id=rule, title=f"title of {rule}", level=level,
                       timestamp=iso(at(minutes)), tags=tags, user=user, host=host, ip=ip,
                       suppressed_by=suppressed_by)


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = open_database(f"sqlite:///{tmp_path / 'triage.sqlite3'}")[1]
    return factory


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as opened:
        yield opened


def manager(window: str = "4h", min_severity: str = "medium") -> IncidentManager:
    return IncidentManager.from_config({"group_window": window, "min_severity": min_severity}, now=lambda: WALL)


class Pipeline:
    """Risk then incidents, then the alert saved: the order the alert manager runs them in."""

    def __init__(self, session: Session, risk: RiskEngine, incidents: IncidentManager) -> None:
        self.session, self.risk, self.incidents = session, risk, incidents

    def __call__(self, handled: TriageAlert) -> Incident | None:
        crossings = self.risk.apply(self.session, handled)
        incident = self.incidents.apply(self.session, handled, crossings)
        save_alerts(self.session, [handled])
        self.session.commit()
        return incident


def members(session: Session, incident_id: int) -> list[str]:
    return sorted(row.alert_id for row in session.query(IncidentAlert).filter_by(incident_id=incident_id))


# ---------------------------------------------------------------------------------------------------- grouping

def test_alerts_group_by_entity_within_the_window(session: Session) -> None:
    incidents = manager()
    first = alert("a1", 0, host="pc7", user="alice")
    opened = incidents.apply(session, first)
    assert opened is not None and first.incident_id == opened.id
    assert (opened.entity_kind, opened.entity_value, opened.reason, opened.status) == ("host", "pc7", "alert", "open")
    # same host 1h later, another user: joins (host is preferred)
    assert incidents.apply(session, alert("a2", 60, host="pc7", user="bob", level="critical")) is opened
    # exactly the group window after the last alert still joins; one second more does not
    assert incidents.apply(session, alert("a3", 300, host="pc7")) is opened
    later = incidents.apply(session, alert("a4", 540 + 1 / 60, host="pc7"))
    assert later is not None and later.id != opened.id
    assert members(session, opened.id) == ["a1", "a2", "a3"]
    assert opened.severity == "critical" and opened.alert_count == 3
    assert (opened.first_alert, opened.last_alert) == (iso(at(0)), iso(at(300)))
    assert opened.title == "title of rule-a (host pc7)" and opened.opened == iso(WALL)


def test_entity_preference_is_host_then_user_then_ip(session: Session) -> None:
    incidents = manager()
    by_ip = incidents.apply(session, alert("a1", 0, ip="10.0.0.9"))
    by_user = incidents.apply(session, alert("a2", 1, user="alice"))
    by_host = incidents.apply(session, alert("a3", 2, host="pc7"))
    assert by_ip and by_user and by_host and len({by_ip.id, by_user.id, by_host.id}) == 3
    assert incidents.apply(session, alert("a4", 3, user="alice", ip="10.0.0.9", host="pc7")) is by_host
    assert incidents.apply(session, alert("a5", 4, user="alice", ip="10.0.0.9", host="srv1")) is by_user
    assert incidents.apply(session, alert("a6", 5, user="carol", ip="10.0.0.9")) is by_ip
    new = incidents.apply(session, alert("a7", 6, user="dave", host="srv2"))
    assert new is not None and (new.entity_kind, new.entity_value) == ("host", "srv2")


def test_low_and_suppressed_alerts_open_nothing_and_closed_incidents_are_not_joined(session: Session) -> None:
    incidents = manager()
    low = alert("a0", 0, host="pc7", level="low")
    assert incidents.apply(session, low) is None and low.incident_id is None
    opened = incidents.apply(session, alert("a1", 1, host="pc7"))
    hidden = alert("a2", 2, host="pc7", level="critical", suppressed_by="exception:4")
    assert incidents.apply(session, hidden) is None and hidden.incident_id is None
    assert opened is not None and members(session, opened.id) == ["a1"]
    update_incident(session, opened.id, "ann", status="closed", verdict="benign", at=WALL)
    again = incidents.apply(session, alert("a3", 3, host="pc7"))
    assert again is not None and again.id != opened.id
    # an alert without any entity has nothing to group on: an incident of its own
    lone, other = (incidents.apply(session, alert(f"n{index}", 4)) for index in range(2))
    assert lone and other and lone.id != other.id and lone.entity_kind is None and lone.title == "title of rule-a"


def test_a_risk_crossing_opens_one_incident_with_every_contributing_alert(session: Session) -> None:
    run = Pipeline(session, RiskEngine.from_config({"window": "24h", "threshold": 100}), manager())
    # low and medium alerts about alice on several hosts: below min_severity "high", none opens an incident
    run.incidents = manager(min_severity="high")
    levels = ["medium", "low", "medium", "medium", "low", "medium", "medium"]  # 15+5+15+15+5+15 = 70, then 85
    for index, level in enumerate(levels):
        assert run(alert(f"a{index}", index * 60, user="alice", host=f"pc{index}", level=level)) is None
    crossing_alert = alert("a7", 500, user="alice", host="pc9", level="medium")  # 100
    incident = run(crossing_alert)
    assert incident is not None and incident.reason == "risk"
    assert (incident.entity_kind, incident.entity_value) == ("user", "alice")
    assert incident.title == "Risk 100 over threshold 100 for user alice"
    assert members(session, incident.id) == [f"a{index}" for index in range(8)]
    assert incident.severity == "medium" and crossing_alert.incident_id == incident.id
    assert (incident.first_alert, incident.last_alert) == (iso(at(0)), iso(at(500)))
    risk_events = [event for event in get_incident(session, incident.id).history if event.action == "risk"]
    assert len(risk_events) == 1 and orjson.loads(risk_events[0].new_value or "")["total"] == 100
    # alice stays above the threshold: further low alerts neither cross nor open anything
    assert run(alert("a8", 510, user="alice", host="pc1", level="low")) is None
    assert session.query(Incident).count() == 1


def test_a_crossing_joins_the_open_incident_of_the_alerts_entity(session: Session) -> None:
    run = Pipeline(session, RiskEngine.from_config({"window": "24h", "threshold": 100}), manager(min_severity="high"))
    opened = run(alert("a1", 0, host="pc7", user="bob", level="high"))  # 40 for pc7 and bob
    assert run(alert("b1", 10, host="srv1", user="alice", level="critical")) is not None  # alice 70, own incident
    joined = run(alert("a2", 20, host="pc7", user="alice", level="low"))  # alice 75: nothing yet
    assert joined is None
    assert run(alert("a3", 30, host="pc7", user="alice", level="medium")) is None  # alice 90, pc7 60
    last = run(alert("a4", 40, host="pc7", user="alice", level="medium"))  # alice 105: crosses; joins pc7's
    assert opened is not None and last is not None and last.id == opened.id
    assert members(session, opened.id) == ["a1", "a2", "a3", "a4", "b1"]


def test_two_entities_crossing_at_once_make_one_incident(session: Session) -> None:
    run = Pipeline(session, RiskEngine.from_config({"window": "1h", "threshold": 100}), manager("4h", "critical"))
    assert run(alert("a1", 0, user="alice", host="pc7", level="high")) is None
    assert run(alert("a2", 1, user="alice", level="high")) is None
    assert run(alert("a3", 2, host="pc7", level="high")) is None
    crossing = alert("a4", 3, user="alice", host="pc7", level="high")  # alice 120, pc7 120
    incident = run(crossing)
    assert incident is not None and (incident.entity_kind, incident.entity_value) == ("host", "pc7")
    assert members(session, incident.id) == ["a1", "a2", "a3", "a4"] and incident.alert_count == 4
    history = get_incident(session, incident.id).history
    assert sorted(orjson.loads(event.new_value or "")["entity_kind"] for event in history
                  if event.action == "risk") == ["host", "user"]


# ---------------------------------------------------------------------------------------------------- timeline

def test_timeline_is_in_kill_chain_order_then_time(session: Session) -> None:
    incidents = IncidentManager(now=lambda: at(4))  # an alert without any time is grouped at the wall-clock time
    raised = [
        alert("none", 0, host="pc7"),
        alert("lateral", 1, host="pc7", tags=("attack.lateral_movement", "attack.t1021.002")),
        alert("initial-late", 5, host="pc7", tags=("attack.initial-access", "attack.t1078")),
        alert("execution", 3, host="pc7", tags=("attack.execution", "attack.persistence", "attack.t1059.001")),
        alert("initial-early", 2, host="pc7", tags=("attack.initial-access",), user="alice"),
        TriageAlert(alert_id="untimed", rule_id="r", title="t", level="high", timestamp=None, host="pc7",
                    tags=("attack.execution",)),
    ]
    for handled in raised:
        incident = incidents.apply(session, handled)
    assert incident is not None
    entries = timeline(session, incident.id)
    assert [entry.alert_id for entry in entries] == [
        "initial-early", "initial-late", "execution", "untimed", "lateral", "none"]
    execution = entries[2]
    assert execution.tactic == "Execution" and execution.tactics == ("Execution", "Persistence")
    assert execution.techniques == ("T1059.001",) and execution.time == iso(at(3))
    assert entries[0].entities == {"user": "alice", "host": "pc7"}
    assert entries[-1].tactic is None
    with pytest.raises(IncidentNotFound):
        timeline(session, 999)


# ---------------------------------------------------------------------------------------------------- changes

def test_status_assignee_verdict_notes_and_history(session: Session) -> None:
    incident = manager().apply(session, alert("a1", 0, host="pc7"))
    assert incident is not None
    later = WALL + timedelta(hours=1)
    update_incident(session, incident.id, "ann", status="in_progress", assignee="ann", at=later)
    with pytest.raises(IncidentError, match="closing an incident requires a verdict"):
        update_incident(session, incident.id, "ann", status="closed", at=later)
    with pytest.raises(IncidentError, match="status: one of"):
        update_incident(session, incident.id, "ann", status="done")
    with pytest.raises(IncidentError, match="verdict: one of"):
        update_incident(session, incident.id, "ann", verdict="maybe")
    with pytest.raises(IncidentError, match="actor"):
        update_incident(session, incident.id, "  ", status="open")
    with pytest.raises(IncidentNotFound):
        update_incident(session, 999, "ann", status="open")
    note = add_note(session, incident.id, "ann", "  checked with the owner of pc7  ", at=later)
    assert note.text == "checked with the owner of pc7"
    with pytest.raises(IncidentError, match="note"):
        add_note(session, incident.id, "ann", "   ")
    closed_at = later + timedelta(minutes=5)
    update_incident(session, incident.id, "bob", status="closed", verdict="true_positive", at=closed_at)
    assert (incident.status, incident.verdict, incident.closed, incident.updated) == (
        "closed", "true_positive", iso(closed_at), iso(closed_at))
    with pytest.raises(IncidentError, match="requires a verdict"):  # a closed incident keeps a verdict
        update_incident(session, incident.id, "bob", verdict="none")
    update_incident(session, incident.id, "bob", status="open", assignee="", at=closed_at)  # reopen, unassign
    assert (incident.status, incident.closed, incident.assignee, incident.verdict) == (
        "open", None, None, "true_positive")
    session.commit()
    detail = get_incident(session, incident.id).to_dict()
    assert [(h["actor"], h["action"], h["old"], h["new"]) for h in detail["history"]] == [
        ("yamori", "opened", None, "alert"),
        ("yamori", "alert", None, "a1"),
        ("ann", "assignee", None, "ann"),
        ("ann", "status", "open", "in_progress"),
        ("ann", "note", None, str(note.id)),
        ("bob", "verdict", "none", "true_positive"),
        ("bob", "status", "in_progress", "closed"),
        ("bob", "assignee", "ann", None),
        ("bob", "status", "closed", "open"),
    ]
    assert detail["notes"] == [{"id": note.id, "author": "ann", "time": iso(later),
                                "text": "checked with the owner of pc7"}]
    assert [entry["alert_id"] for entry in detail["timeline"]] == ["a1"]


def test_list_incidents_by_status(session: Session) -> None:
    incidents = manager()
    first, second, third = (incidents.apply(session, alert(f"a{index}", index, host=f"pc{index}"))
                            for index in range(3))
    assert first and second and third
    update_incident(session, second.id, "ann", status="in_progress", at=WALL + timedelta(hours=1))
    update_incident(session, third.id, "ann", status="closed", verdict="benign", at=WALL + timedelta(hours=2))
    assert [i.id for i in list_incidents(session)] == [third.id, second.id, first.id]
    assert [i.id for i in list_incidents(session, status=["open", "in_progress"])] == [second.id, first.id]
    assert [i.id for i in list_incidents(session, status="closed")] == [third.id]
    assert [i.id for i in list_incidents(session, limit=1, offset=1)] == [second.id]
    with pytest.raises(IncidentError):
        list_incidents(session, status="pending")


@pytest.mark.parametrize(("mapping", "message"), [
    ({"group_window": "forever"}, "incidents.group_window: not a duration"),
    ({"group_window": 4}, "incidents.group_window: expected a duration"),
    ({"min_severity": "severe"}, "incidents.min_severity: one of"),
    ({"window": "4h"}, "incidents: unknown key(s): window"),
])
def test_bad_configuration_is_refused(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(IncidentError) as raised:
        IncidentManager.from_config(mapping)
    assert message in str(raised.value)


# ---------------------------------------------------------------------------------------------------- statistics

def verdicts_scenario(session: Session) -> None:
    """rule-a: 6 alerts (1 suppressed); incident 1 (tp): a0, a1; incident 2 (fp): a2, a1, b0, b1; incident 3
    (benign): b2..b4; open incident 4: a3. rule-b: 10 alerts. rule-c: 3 alerts, never in an incident. rule-d: one
    alert outside the period."""
    raised = [alert(f"a{index}", index, rule="rule-a", host=f"h{index}") for index in range(5)]
    raised.append(alert("a5", 5, rule="rule-a", host="h5", suppressed_by="duplicate:a4"))
    raised += [alert(f"b{index}", 10 + index, rule="rule-b", host=f"hb{index}") for index in range(10)]
    raised += [alert(f"c{index}", 30 + index, rule="rule-c", host="hc") for index in range(3)]
    raised.append(alert("d0", 60 * 24 * 3, rule="rule-d", host="hd"))
    save_alerts(session, raised)
    by_id = {handled.alert_id: handled for handled in raised}
    groups = [(["a0", "a1"], "true_positive"), (["a2", "a1", "b0", "b1"], "false_positive"),
              (["b2", "b3", "b4"], "benign"), (["a3"], None)]
    for ids, verdict in groups:
        incident = Incident(title="t", status="open", verdict="none", severity="high", reason="alert",
                            opened=iso(WALL), updated=iso(WALL), first_alert=iso(T0), last_alert=iso(T0))
        session.add(incident)
        session.flush()
        for alert_id in ids:
            session.add(IncidentAlert(incident_id=incident.id, alert_id=alert_id, time=by_id[alert_id].timestamp,
                                      rule_id=by_id[alert_id].rule_id, title="t", severity="high", tags="[]"))
        if verdict:
            update_incident(session, incident.id, "ann", status="closed", verdict=verdict, at=WALL)
    session.commit()


def test_rule_statistics_from_verdicts(session: Session) -> None:
    verdicts_scenario(session)
    stats = {row.rule_id: row for row in rulestats.rule_stats(session, since=T0, until=at(60 * 24))}
    assert sorted(stats) == ["rule-a", "rule-b", "rule-c"]
    a, b, c = stats["rule-a"], stats["rule-b"], stats["rule-c"]
    # a1 is in the tp and the fp incident: it counts once, as a true positive
    assert (a.alerts, a.suppressed, a.in_incidents, a.true_positive, a.false_positive, a.benign, a.undecided) == (
        6, 1, 4, 2, 1, 0, 1)
    assert a.precision == pytest.approx(2 / 3) and a.noise_rate == pytest.approx(1 / 3)
    assert (b.alerts, b.in_incidents, b.true_positive, b.false_positive, b.benign) == (10, 5, 0, 2, 3)
    assert b.precision == 0 and b.noise_rate == 1
    assert (c.alerts, c.in_incidents, c.precision, c.noise_rate) == (3, 0, None, None)
    everything = rulestats.rule_stats(session)
    assert [row.rule_id for row in everything] == ["rule-b", "rule-a", "rule-c", "rule-d"]
    assert [row.rule_id for row in rulestats.rule_stats(session, rule_ids=["rule-c"])] == ["rule-c"]


def test_noisy_rules_rank_volume_by_noise(session: Session) -> None:
    verdicts_scenario(session)
    noisy = rulestats.noisy_rules(session, iso(T0), iso(at(60 * 24)), limit=10)
    # rule-b: 10 * (5+1)/(5+2) = 8.571; rule-a: 6 * (1+1)/(3+2) = 2.4; rule-c: 3 * 1/2 = 1.5
    assert [(row.rule_id, round(row.noise_score, 3)) for row in noisy] == [
        ("rule-b", 8.571), ("rule-a", 2.4), ("rule-c", 1.5)]
    assert [row.rule_id for row in rulestats.noisy_rules(session, T0, at(60 * 24), limit=1)] == ["rule-b"]
    assert [row.rule_id for row in rulestats.noisy_rules(session, at(60 * 24), at(60 * 24 * 7))] == ["rule-d"]


# ---------------------------------------------------------------------------------------------------- API

@pytest.fixture
def api(sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The real ``yamori serve`` app (its ServerState, token Authenticator and AuditLog) with the incident router."""
    monkeypatch.setenv("TEST_ADMIN_TOKEN", "admin-secret-123")
    monkeypatch.setenv("TEST_READER_TOKEN", "reader-secret-456")
    monkeypatch.setenv("TEST_INGEST_TOKEN", "ingest-secret-789")
    config = ServeConfig(data_dir=tmp_path / "serve")
    authenticator = Authenticator.from_config([TokenConfig("soc-admin", "admin", "TEST_ADMIN_TOKEN"),
                                               TokenConfig("analyst", "reader", "TEST_READER_TOKEN"),
                                               TokenConfig("shipper", "ingest", "TEST_INGEST_TOKEN")])
    metrics = InputMetrics()
    audit = AuditLog(config.audit_log)
    state = ServerState(config, IngestSink(WalWriter(config.wal_dir), metrics), authenticator, metrics,
                        PipelineCollector(), audit, CollectorRegistry())
    app = create_app(state)
    app.include_router(build_incident_router(sessions, RiskEngine.from_config({"window": "24h"})))
    with TestClient(app) as client:
        yield client
    audit.close()


ADMIN = {"Authorization": "Bearer admin-secret-123"}
READER = {"Authorization": "Bearer reader-secret-456"}
INGEST = {"Authorization": "Bearer ingest-secret-789"}


def audit_lines(tmp_path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (tmp_path / "serve" / "audit.jsonl").read_bytes().splitlines()]


def test_api_reads_and_changes_incidents_with_roles(api: TestClient, sessions: sessionmaker[Session],
                                                    tmp_path: Path) -> None:
    with sessions() as session:
        run = Pipeline(session, RiskEngine.from_config({"window": "24h"}), manager())
        opened = run(alert("a1", 0, host="pc7", user="alice", tags=("attack.execution",)))
        run(alert("a2", 5, host="pc7", tags=("attack.initial_access",), level="critical"))
        assert opened is not None
        incident_id = opened.id

    assert api.get("/api/v1/incidents").status_code == 401
    assert api.get("/api/v1/incidents", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.get("/api/v1/incidents", headers=INGEST).status_code == 403
    listed = api.get("/api/v1/incidents", headers=READER)
    assert listed.status_code == 200 and [i["id"] for i in listed.json()["incidents"]] == [incident_id]
    detail = api.get(f"/api/v1/incidents/{incident_id}", headers=READER).json()
    assert [entry["alert_id"] for entry in detail["timeline"]] == ["a2", "a1"]
    assert detail["incident"]["severity"] == "critical"
    assert api.get("/api/v1/incidents/999", headers=READER).status_code == 404

    # readers may not change anything
    change = {"status": "closed", "verdict": "false_positive"}
    assert api.patch(f"/api/v1/incidents/{incident_id}", json=change, headers=READER).status_code == 403
    assert api.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "x"}, headers=READER).status_code == 403
    refused = api.patch(f"/api/v1/incidents/{incident_id}", json={"status": "closed"}, headers=ADMIN)
    assert refused.status_code == 400 and "requires a verdict" in refused.json()["detail"]
    assert api.patch(f"/api/v1/incidents/{incident_id}", json={}, headers=ADMIN).status_code == 400
    assert api.patch(f"/api/v1/incidents/{incident_id}", json={"owner": "x"}, headers=ADMIN).status_code == 422
    assert api.patch("/api/v1/incidents/999", json={"status": "open"}, headers=ADMIN).status_code == 404
    changed = api.patch(f"/api/v1/incidents/{incident_id}", json=change, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["status"] == "closed"
    noted = api.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "admin tooling"}, headers=ADMIN)
    assert noted.status_code == 201 and noted.json()["author"] == "soc-admin"
    detail = api.get(f"/api/v1/incidents/{incident_id}", headers=READER).json()
    assert detail["incident"]["verdict"] == "false_positive" and detail["notes"][0]["text"] == "admin tooling"
    assert [(h["actor"], h["action"]) for h in detail["history"][-3:]] == [
        ("soc-admin", "verdict"), ("soc-admin", "status"), ("soc-admin", "note")]
    assert [i["id"] for i in api.get("/api/v1/incidents?status=open", headers=READER).json()["incidents"]] == []
    assert api.get("/api/v1/incidents?status=nope", headers=READER).status_code == 400

    audited = audit_lines(tmp_path)
    assert {"who": "analyst", "method": "PATCH", "status": 403} in [
        {key: line[key] for key in ("who", "method", "status")} for line in audited]
    change_line = next(line for line in audited if line["method"] == "PATCH" and line["status"] == 200)
    assert change_line["who"] == "soc-admin" and change_line["role"] == "admin"
    assert change_line["detail"] == "status=closed verdict=false_positive"
    assert not any("secret" in orjson.dumps(line).decode() for line in audited)


def test_api_statistics_and_risk(api: TestClient, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        verdicts_scenario(session)
        risk = RiskEngine.from_config({"window": "24h"})
        for index in range(3):
            risk.apply(session, alert(f"r{index}", index, user="alice", host="pc7", level="critical"))
        risk.apply(session, alert("r9", 10, user="bob", level="low"))
        session.commit()
    window = {"from": iso(T0), "to": iso(at(60 * 24))}
    stats = api.get("/api/v1/rules/stats", params=window, headers=READER).json()
    assert [(row["rule_id"], row["alerts"], row["false_positive"]) for row in stats["rules"]] == [
        ("rule-b", 10, 2), ("rule-a", 6, 1), ("rule-c", 3, 0)]
    one = api.get("/api/v1/rules/stats", params={"rule": "rule-a"}, headers=READER).json()["rules"]
    assert len(one) == 1 and one[0]["precision"] == pytest.approx(2 / 3)
    noisy = api.get("/api/v1/rules/noisy", params={**window, "limit": 2}, headers=READER).json()
    assert [(row["rule_id"], row["noise_score"]) for row in noisy["rules"]] == [("rule-b", 8.571), ("rule-a", 2.4)]
    assert api.get("/api/v1/rules/noisy", params={"from": "yesterday"}, headers=READER).status_code == 400
    assert api.get("/api/v1/rules/stats", headers=INGEST).status_code == 403

    entities = api.get("/api/v1/risk/entities", params={"at": iso(at(10))}, headers=READER).json()
    assert [(row["kind"], row["value"], row["total"]) for row in entities["entities"]] == [
        ("host", "pc7", 210), ("user", "alice", 210), ("user", "bob", 5)]
    assert entities["window_seconds"] == 86400 and entities["threshold"] == 100
    users = api.get("/api/v1/risk/entities", params={"at": iso(at(10)), "kind": "user", "limit": 1},
                    headers=READER).json()
    assert [row["value"] for row in users["entities"]] == ["alice"]
    assert api.get("/api/v1/risk/entities", params={"at": iso(at(60 * 25))}, headers=READER).json()[
        "entities"] == []
    assert api.get("/api/v1/risk/entities", headers={"Authorization": "Bearer nope"}).status_code == 401
