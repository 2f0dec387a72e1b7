"""End to end through ``yamori serve``: alerts enriched with context, deduplicated, hidden by an exception whose
preview listed them first, scored for risk into incidents, grouped by entity with an ATT&CK timeline, and
answered by playbooks (a real webhook receiver, a real SMTP server, a real command)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.notifykit import http_recorder, smtp_recorder
from tests.serve_harness import RunningServer, start_server

from yamori.triage.db import open_database
from yamori.triage.playbooks import recent_actions

FIXTURES = Path(__file__).parent / "fixtures" / "triage"
SERVICE, BRUTE, CLEARED, ENUM = (f"7a1e0000-0000-4000-8000-00000000000{n}" for n in (1, 3, 4, 5))
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # a Wednesday, 03:00 UTC: outside business hours
RECORDER = """import sys
with open(sys.argv[1], "ab") as out:
    out.write(sys.stdin.buffer.read() + b"\\n")
"""


def windows(event_id: int, at: datetime, computer: str, **fields: Any) -> dict[str, Any]:
    return {"EventID": event_id, "Channel": "Security", "Computer": computer,
            "TimeCreated": at.isoformat().replace("+00:00", "Z"), **fields}


def send(server: RunningServer, *records: dict[str, Any]) -> None:
    body = b"".join(orjson.dumps({"event": record}) for record in records)
    httpx.post(f"{server.url}/services/collector/event", content=body, headers=server.hec_headers(),
               timeout=30).raise_for_status()


def triaged(server: RunningServer) -> dict[str, dict[str, Any]]:
    answer = server.get("/api/v1/triage/alerts", include_suppressed="true", limit=1000).json()
    return {alert["alert_id"]: alert for alert in answer["alerts"]}


def of_rule(server: RunningServer, rule_id: str) -> list[dict[str, Any]]:
    return sorted((a for a in triaged(server).values() if a["rule_id"] == rule_id), key=lambda a: a["timestamp"])


def wait_alerts(server: RunningServer, rule_id: str, count: int) -> list[dict[str, Any]]:
    server.wait_until(lambda: len(of_rule(server, rule_id)) >= count, 40, f"{count} handled alerts of {rule_id}")
    return of_rule(server, rule_id)


def config(tmp: Path, hook: str, smtp_port: int, command_out: Path) -> str:
    script = tmp / "record_stdin.py"
    script.write_text(RECORDER)
    return f"""
[context]
assets = "{FIXTURES / 'serve_assets.csv'}"
identities = "{FIXTURES / 'serve_identities.yaml'}"
default_site = "hq"
[context.sites.hq]
timezone = "UTC"
hours = "08:00-18:00"
days = "mon-fri"

[noise]
dedup_window = "10m"

[risk]
window = "24h"
threshold = 100
[risk.rules."{ENUM}"]
score = 80

[incidents]
group_window = "4h"
min_severity = "medium"

[notify.channels.soc-hook]
type = "webhook"
url = "{hook}/alerts"

[notify.channels.soc-slack]
type = "slack"
url_env = "YAMORI_TEST_SLACK_URL"

[notify.channels.soc-mail]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
from = "yamori@example.org"
to = ["soc@example.org"]

[[playbooks]]
name = "high alerts"
on = "alert"
when = {{ min_severity = "high" }}
actions = [
  {{ type = "webhook", channel = "soc-hook" }},
  {{ type = "email", channel = "soc-mail" }},
  {{ type = "command", argv = ["{sys.executable}", "{script}", "{command_out}"], timeout = 20 }},
]

[[playbooks]]
name = "incidents to chat"
on = "incident"
actions = [{{ type = "webhook", channel = "soc-slack" }}]
"""


def test_alert_handling_end_to_end(tmp_path: Path) -> None:
    command_out = tmp_path / "command-stdin.jsonl"
    with http_recorder() as hook, smtp_recorder() as smtp:
        server = start_server(tmp_path, config(tmp_path, hook.url, smtp.port, command_out),
                              rules=[FIXTURES / "serve_rules"],
                              env={"YAMORI_TEST_SLACK_URL": f"{hook.url}/slack"})
        try:
            run_scenario(server, tmp_path, hook, smtp, command_out)
        finally:
            server.stop()


def run_scenario(server: RunningServer, tmp: Path, hook: Any, smtp: Any, command_out: Path) -> None:
    # 1. context: a service installed on a critical domain controller by a privileged account, at night
    send(server, windows(4697, T0, "dc01", SubjectUserName="adm-bob", ServiceName="evil"))
    first = wait_alerts(server, SERVICE, 1)[0]
    assert first["level"] == "medium" and first["severity"] == "critical"  # +2, the cap (3 reasons)
    reasons = " ".join(first["severity_reasons"])
    assert "critical asset dc01" in reasons and "privileged user adm-bob" in reasons and "outside business" in reasons
    assert first["context"]["asset"]["owner"] == "identity-team"
    assert first["context"]["identity"]["department"] == "IT" and first["context"]["off_hours"] is True
    assert first["suppressed_by"] is None and first["incident_id"] is not None

    # 2. deduplication: the same rule and entities a minute later
    send(server, windows(4697, T0 + timedelta(minutes=1), "dc01", SubjectUserName="adm-bob", ServiceName="evil2"))
    duplicate = wait_alerts(server, SERVICE, 2)[1]
    assert duplicate["suppressed_by"] == f"duplicate:{first['alert_id']}"

    # 3. an exception across rules, previewed first: it would have hidden both past alerts
    candidate = {"rules": [SERVICE, BRUTE], "match": {"host": "dc01", "user": "adm-*"}, "owner": "alice",
                 "reason": "change ticket 4711: service roll-out on the DCs", "expires": "+30d"}
    preview = httpx.post(f"{server.url}/api/v1/exceptions/preview", json=candidate, headers=server.headers(),
                         timeout=30)
    assert preview.status_code == 200, preview.text
    assert preview.json()["total"] == 2
    assert {a["alert_id"] for a in preview.json()["sample"]} == {first["alert_id"], duplicate["alert_id"]}
    reader_try = httpx.post(f"{server.url}/api/v1/exceptions", json=candidate, headers=server.headers("reader"),
                            timeout=30)
    assert reader_try.status_code == 403
    created = httpx.post(f"{server.url}/api/v1/exceptions", json=candidate, headers=server.headers(), timeout=30)
    assert created.status_code == 201, created.text
    exception_id = created.json()["id"]
    send(server, windows(4697, T0 + timedelta(minutes=20), "dc01", SubjectUserName="adm-bob", ServiceName="evil3"))
    hidden = wait_alerts(server, SERVICE, 3)[2]
    assert hidden["suppressed_by"] == f"exception:{exception_id}"

    # 4. a correlation and another alert on the same host join the host's incident
    send(server, *(windows(4625, T0 + timedelta(minutes=30, seconds=n), "dc01", TargetUserName="carol",
                           IpAddress="198.51.100.7") for n in range(3)))
    send(server, windows(1102, T0 + timedelta(minutes=40), "dc01", SubjectUserName="carol"))
    brute = wait_alerts(server, BRUTE, 1)[0]
    cleared = wait_alerts(server, CLEARED, 1)[0]
    assert brute["correlation"] and len(brute["event_ids"]) == 3
    assert brute["incident_id"] == cleared["incident_id"] == first["incident_id"]
    detail = server.get(f"/api/v1/incidents/{first['incident_id']}").json()
    order = [entry["rule_id"] for entry in detail["timeline"]]
    # kill-chain order: persistence, then defense evasion, then credential access
    assert order.index(SERVICE) < order.index(CLEARED) < order.index(BRUTE)
    assert duplicate["alert_id"] not in {entry["alert_id"] for entry in detail["timeline"]}

    # 5. risk: three low alerts on a workstation, none an incident alone, cross the threshold together
    ws_times = [datetime(2026, 11, 25, 10, tzinfo=UTC) + timedelta(minutes=15 * n) for n in range(3)]
    for moment in ws_times:
        send(server, windows(4799, moment, "ws17", SubjectUserName="carol"))
    enum_alerts = wait_alerts(server, ENUM, 3)
    assert [a["risk"] for a in enum_alerts] == [40.0, 40.0, 40.0]  # score 80 x weight 0.5 (low criticality)
    assert enum_alerts[0]["incident_id"] is None and enum_alerts[2]["incident_id"] is not None
    risk_incident = server.get(f"/api/v1/incidents/{enum_alerts[2]['incident_id']}").json()
    assert risk_incident["incident"]["reason"] == "risk"
    assert {e["alert_id"] for e in risk_incident["timeline"]} == {a["alert_id"] for a in enum_alerts}

    # 6. notifications and playbooks
    def delivered() -> bool:
        alerts_posted = [orjson.loads(r.body) for r in hook.requests if r.path == "/alerts"]
        return (len(alerts_posted) >= 3 and len(smtp.mails) >= 3 and command_out.exists()
                and len(command_out.read_bytes().splitlines()) >= 3
                and any(r.path == "/slack" for r in hook.requests))
    server.wait_until(delivered, 40, "webhook, mail, command and chat deliveries")
    posted = {orjson.loads(r.body)["alert_id"] for r in hook.requests if r.path == "/alerts"}
    assert {first["alert_id"], brute["alert_id"], cleared["alert_id"]} <= posted
    assert duplicate["alert_id"] not in posted and hidden["alert_id"] not in posted
    subjects = [mail.message["Subject"] for mail in smtp.mails]
    assert any(subject.startswith("[Yamori] critical") for subject in subjects)
    ran = {orjson.loads(line)["alert_id"] for line in command_out.read_bytes().splitlines()}
    assert first["alert_id"] in ran
    slack = [orjson.loads(r.body) for r in hook.requests if r.path == "/slack"]
    assert all("text" in message for message in slack)
    _, sessions = open_database(f"sqlite:///{server.data_dir / 'state' / 'triage.sqlite3'}")
    with sessions() as session:
        actions = recent_actions(session, limit=100)
    assert actions and all(action.ok for action in actions)
    assert {action.action for action in actions} >= {"webhook", "email", "command"}

    # 7. the analyst closes the incident as a true positive; the rule's statistics follow
    change = httpx.patch(f"{server.url}/api/v1/incidents/{first['incident_id']}", headers=server.headers(),
                         json={"status": "closed", "verdict": "true_positive", "assignee": "alice"}, timeout=30)
    assert change.status_code == 200, change.text
    note = httpx.post(f"{server.url}/api/v1/incidents/{first['incident_id']}/notes", headers=server.headers(),
                      json={"text": "confirmed with the DC team"}, timeout=30)
    assert note.status_code == 201
    detail = server.get(f"/api/v1/incidents/{first['incident_id']}").json()
    assert detail["incident"]["verdict"] == "true_positive" and detail["notes"][0]["text"].startswith("confirmed")
    assert any(entry["action"] == "status" and entry["actor"] == "admin" for entry in detail["history"])
    stats = {row["rule_id"]: row for row in server.get("/api/v1/rules/stats").json()["rules"]}
    assert stats[SERVICE]["true_positive"] >= 1
    audited = [orjson.loads(line) for line in (server.data_dir / "audit.jsonl").read_bytes().splitlines()]
    assert any(entry["path"] == "/api/v1/triage/alerts" and entry["status"] == 200 for entry in audited)
