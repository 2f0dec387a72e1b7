"""`yamori rules backtest`: a rule (single or correlation) run over a real event store before it is enabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from typer.testing import CliRunner

from yamori.cli.main import app
from yamori.events import Event, LogSource
from yamori.store.events import EventStore
from yamori.store.model import StoredEvent

BASE_RULES = Path(__file__).parent / "fixtures" / "correlation" / "base_rules.yml"
SECURITY = LogSource(product=("windows",), service=("security",))
START = datetime(2026, 6, 1, 8, tzinfo=UTC)
CORRELATION = """title: Many a events per user
id: 5b0e0000-0000-4000-8000-000000000001
status: test
correlation:
    type: event_count
    rules: [a]
    group-by: [User]
    timespan: 10m
    condition: {gte: 3}
level: high
"""


def windows_event(event_id: int, moment: datetime, **fields: Any) -> Event:
    time = moment.isoformat().replace("+00:00", "Z")
    record = {"EventID": event_id, "Channel": "Security", "Computer": "dc01", "TimeCreated": time, **fields}
    return Event(dict(record), SECURITY, "test", "1", time, record, "windows")


def build_store(root: Path) -> None:
    events = []
    for day in range(2):  # bob: three a-events within minutes, each day; carol: three spread over hours
        for minute in range(3):
            events.append(windows_event(1001, START + timedelta(days=day, minutes=minute), User="bob"))
            events.append(windows_event(1001, START + timedelta(days=day, hours=minute), User="carol"))
        events.append(windows_event(1002, START + timedelta(days=day), User="dave"))
    EventStore(root).write_batch([StoredEvent(n, 0, "test", 0, event) for n, event in enumerate(events)], [], 0,
                                 len(events) - 1)


def backtest(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["rules", "backtest", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return dict(orjson.loads(result.output))


def test_correlation_backtest(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    build_store(tmp_path / "store")
    rule = tmp_path / "many_a.yml"
    rule.write_text(CORRELATION)
    report = backtest(str(rule), "--rules", str(BASE_RULES), "--store-dir", str(tmp_path / "store"),
                      "--from", "2026-06-01T00:00:00Z", "--to", "2026-06-03T00:00:00Z")
    assert report["alerts"] == 2 and report["events"] == 14
    assert report["per_day"] == {"2026-06-01": 1, "2026-06-02": 1}
    assert {"kind": "user", "value": "bob", "alerts": 2} in report["top_entities"]
    assert all(sample["rule"] == "Many a events per user" for sample in report["sample"])
    one_day = backtest(str(rule), "--rules", str(BASE_RULES), "--store-dir", str(tmp_path / "store"),
                       "--from", "2026-06-02T00:00:00Z", "--to", "2026-06-03T00:00:00Z")
    assert one_day["alerts"] == 1 and one_day["events"] == 7


def test_single_rule_backtest_and_errors(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    build_store(tmp_path / "store")
    report = backtest(str(BASE_RULES), "--rules", str(BASE_RULES), "--store-dir", str(tmp_path / "store"),
                      "--from", "2026-06-01T00:00:00Z", "--to", "2026-06-03T00:00:00Z")
    assert report["alerts"] == 14  # a (12) and b (2): every rule of the file counts
    dangling = tmp_path / "dangling.yml"
    dangling.write_text(CORRELATION.replace("rules: [a]", "rules: [no_such_rule]"))
    result = CliRunner().invoke(app, ["rules", "backtest", str(dangling), "--rules", str(BASE_RULES),
                                      "--store-dir", str(tmp_path / "store")])
    assert result.exit_code == 2 and "no_such_rule" in result.output
