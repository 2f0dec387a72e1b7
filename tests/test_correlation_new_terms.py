"""new_terms, Yamori's baseline extension: alert on a value combination not seen within the history, after a
learning period; in a hunt, and in ``yamori serve`` across a restart (the baseline is saved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from yamori.correlation.offline import correlate_events, correlation_set
from yamori.engine.ruleset import load_ruleset
from yamori.events import Event, LogSource

RULE = Path(__file__).parent / "fixtures" / "correlation" / "new_terms_rule.yml"
START = datetime(2026, 5, 1, tzinfo=UTC)
SECURITY = LogSource(product=("windows",), service=("security",))


def logon(day: float, user: str, ip: str, logon_type: int = 10) -> dict[str, Any]:
    moment = START + timedelta(days=day)
    return {"EventID": 4624, "Channel": "Security", "LogonType": logon_type, "TargetUserName": user,
            "IpAddress": ip, "Computer": "srv1", "TimeCreated": moment.isoformat().replace("+00:00", "Z")}


def event(record: dict[str, Any], position: int) -> Event:
    return Event(dict(record), SECURITY, "test", str(position), record["TimeCreated"], record)


def hunt(records: list[dict[str, Any]], tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp / "cache"))
    ruleset = load_ruleset([RULE], use_cache=False)
    assert not ruleset.problems
    alerts = correlate_events(ruleset, [event(r, n) for n, r in enumerate(records)])
    return [(a.group["TargetUserName"], a.group["IpAddress"]) for a in alerts]


def test_new_combination_after_learning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        logon(0, "alice", "10.0.0.1"),
        logon(0.5, "bob", "10.0.0.2"),       # learning: no alert
        logon(2, "alice", "10.0.0.1"),       # seen
        logon(2.1, "alice", "10.0.0.9"),     # new source for alice
        logon(2.2, "bob", "10.0.0.1"),       # new for bob (alice's address is no excuse)
        logon(2.3, "alice", "10.0.0.9"),     # seen now
        logon(2.4, "carol", "10.0.0.5", 3),  # not RDP: not the rule's
        logon(40, "alice", "10.0.0.1"),      # last seen 38 days ago: beyond the 30-day history
    ]
    assert hunt(records, tmp_path, monkeypatch) == [("alice", "10.0.0.9"), ("bob", "10.0.0.1"),
                                                    ("alice", "10.0.0.1")]


def test_exactly_at_history_is_not_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = [logon(0, "alice", "10.0.0.1"), logon(1, "alice", "10.0.0.2"), logon(31, "alice", "10.0.0.2")]
    assert hunt(records, tmp_path, monkeypatch) == [("alice", "10.0.0.2")]  # day 1 only; day 31 is 30 d later


def test_base_rule_is_silenced_and_bad_spec_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    ruleset = load_ruleset([RULE], use_cache=False)
    assert RULE.name and correlation_set(ruleset).silenced == {ruleset.infos[0].id}
    bad = tmp_path / "bad.yml"
    bad.write_text(RULE.read_text().replace("history: 30d", "history: soon"))
    problems = load_ruleset([bad], use_cache=False).problems
    assert problems and "new_terms.history" in problems[0].reason


def test_serve_keeps_the_baseline_across_a_restart(tmp_path: Path) -> None:
    from tests.serve_harness import start_server

    def send(server: Any, records: list[dict[str, Any]]) -> None:
        body = b"".join(orjson.dumps({"event": r}) for r in records)
        httpx.post(f"{server.url}/services/collector/event", content=body, headers=server.hec_headers(),
                   timeout=30).raise_for_status()

    def new_terms_alerts(server: Any) -> list[tuple[str, str]]:
        rows = server.get("/api/v1/sql", q="SELECT matched FROM alerts ORDER BY timestamp").json()["rows"]
        found = []
        for row in rows:
            matched = orjson.loads(row["matched"])
            found.append((matched["TargetUserName"], matched["IpAddress"]))
        return found

    server = start_server(tmp_path, rules=[RULE])
    try:
        send(server, [logon(0, "alice", "10.0.0.1"), logon(2, "alice", "10.0.0.1")])
        server.wait_stored(2)
        assert new_terms_alerts(server) == []
    finally:
        assert server.stop() == 0
    server = start_server(tmp_path)  # same configuration and data
    try:
        send(server, [logon(3, "alice", "10.0.0.1"), logon(3.1, "alice", "10.0.0.7")])
        server.wait_stored(2)  # counted since this start
        # the newest observation waits out the allowed lateness (5 s of wall clock when nothing newer comes)
        server.wait_until(lambda: bool(new_terms_alerts(server)), 30, "the new_terms alert")
        assert new_terms_alerts(server) == [("alice", "10.0.0.7")]
    finally:
        server.stop()
