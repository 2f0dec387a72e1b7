"""A restart of ``yamori serve`` (graceful or ``kill -9``) keeps correlation windows: the stored events of the
last timespan go through the correlator again, and an alert after the restart references events from before."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.serve_harness import RunningServer, start_server

BASE_RULES = Path(__file__).parent / "fixtures" / "correlation" / "base_rules.yml"
CORRELATION = """title: Three a events per user
id: 6c0e0000-0000-4000-8000-000000000001
status: test
correlation:
    type: event_count
    rules: [a]
    group-by: [User]
    timespan: 10m
    condition: {gte: 3}
level: high
"""


def send(server: RunningServer, moment: datetime, user: str) -> None:
    record = {"EventID": 1001, "Channel": "Security", "User": user,
              "TimeCreated": moment.isoformat().replace("+00:00", "Z")}
    httpx.post(f"{server.url}/services/collector/event", content=orjson.dumps({"event": record}),
               headers=server.hec_headers(), timeout=30).raise_for_status()


def correlation_alerts(server: RunningServer) -> list[dict[str, Any]]:
    rows = server.get("/api/v1/sql", q="SELECT matched FROM alerts").json()["rows"]
    return [orjson.loads(row["matched"])["correlation"] for row in rows if "correlation" in row["matched"]]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill-9"])
def test_windows_survive_a_restart(tmp_path: Path, stop: int) -> None:
    rule = tmp_path / "rules" / "three_a.yml"
    rule.parent.mkdir()
    rule.write_text(CORRELATION)
    now = datetime.now(UTC)
    server = start_server(tmp_path, rules=[BASE_RULES, rule.parent])
    send(server, now - timedelta(minutes=3), "bob")
    send(server, now - timedelta(minutes=2), "bob")
    server.wait_stored(2)
    before = {row["event_id"] for row in server.get("/api/v1/sql", q="SELECT event_id FROM events").json()["rows"]}
    if stop == signal.SIGKILL:
        time.sleep(0.5)  # the committed batch is on disk (wait_stored saw it); nothing else is pending
    server.stop(stop)
    server = start_server(tmp_path)
    try:
        send(server, now - timedelta(minutes=1), "bob")
        server.wait_until(lambda: bool(correlation_alerts(server)), 30, "the correlation alert")
        (alert,) = correlation_alerts(server)
        assert alert["value"] == 3 and before <= set(alert["events"])
        assert "correlation state rebuilt from 2 stored observations" in server.log_text()
    finally:
        server.stop()
